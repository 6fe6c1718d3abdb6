"""Point-in-time windows, shared by training, validation, prediction and the backtest.

- `spine.step_spine`: a model's decision times (every close of its timeframe) and the breaks between them;
- `retrieval.aligned_matrix`: the model's feature service retrieved through Feast on that spine, one row per
  step, with each view's matched event time;
- `index.window_ends`: which rows end a usable window, and why the others were dropped;
- `labels.forward_returns`: the label of each step, from later bars only;
- `build.window_dataset`: all of it as a torch Dataset (`WindowDataset`), for a ModelSpec;
- `selection`: the samples a command selects (`Selection`, `select_dataset`), and `selected_data`, a selection's
  dataset and walk-forward splits read from one warehouse snapshot: built once, validated, then trained on;
- `export.export_dataset`: a selection's dataset written as shards by symbol with a manifest (`shards`: the
  format, read back memory-mapped), the same set the Spark engine writes (barstore.spark.dataset);
  `fingerprint.data_fingerprint`: the hash of what a run learns from, for a dataset or a written set.

Nothing here imports torch or Feast at import time; `window_dataset` does when called.
"""

from .build import window_dataset

__all__ = ["window_dataset"]
