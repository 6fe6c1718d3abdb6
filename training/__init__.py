"""Training: the five models trained on validated point-in-time windows into reproducible checkpoints.

    from training.run import train_model
    result = train_model(ws, MODELS["seq500_hourly"], Selection(max_samples=5_000), epochs=10, seed=0)
    result.run.path                    # <home>/models/seq500_hourly/<run_id>/: model.pt, metrics.json, curves
    result.metrics["test"]["accuracy"] # with its sample count, 95% interval and the majority-class baseline

`train_model` builds the selection's data once (barstore.windows.selection.selected_data), has the validation
gate (expectations.gate) check it, and trains only on what passed; `training.shards.train_from_shards` does the
same for a set `barstore dataset` wrote, streamed from its shards (same set and seed: the same weights). The
windows themselves:

    from training import training_dataset
    ds = training_dataset(MODELS["seq300_minute"], home=".barstore", symbols=["BTCUSDT"])
    window, label = ds[0]            # (300, 20) float64 view of the aligned matrix, forward return
"""

from barstore.windows import window_dataset as training_dataset

__all__ = ["training_dataset"]
