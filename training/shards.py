"""`barstore train MODEL --from DIR`: a run on a training set written by `barstore dataset` (barstore.windows.shards),
streamed from its memory-mapped shards, through the same gate and the same fit as a run built from the warehouse.

    result = train_from_shards(ws, "seq300_minute", Path("sets/seq300"), epochs=1, seed=0, device="cpu")

The set's samples are put back in the local order (time, then symbol) with the rows they have in the local
aligned matrix, so the splits, the normalizer's windows, the batches and the fingerprint are the local run's:
same set and seed, same weights, bit for bit. The gate validates it as it validates a local set, reading the
raw bars and the views from the warehouse snapshot the set was written from (so the home's warehouse must still
hold that snapshot).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import torch

from barstore.errors import BarstoreError
from barstore.specs import ModelSpec
from barstore.specs import model as model_spec
from barstore.windows.dataset import WindowDataset

if TYPE_CHECKING:
    from rich.console import Console

    from barstore.home import Workspace
    from barstore.windows.shards import ShardSet

    from .run import RunResult


class ShardedDataset(WindowDataset):
    """A written set as the WindowDataset the gate and `fit_dataset` read: every sample's end (its row in the
    shards taken in order), label and times in memory, in time order; the matrix (`matrix`, `aligned.values`)
    stays memory-mapped and is read a window or a chunk of rows at a time."""

    def __init__(self, shards: ShardSet):  # not WindowDataset's: there is no matrix in memory to wrap
        index = shards.samples()
        self.aligned = shards.aligned()
        self.matrix = self.aligned.values  # ShardRows: barstore.inputs.gather_windows reads windows from it
        self.columns = list(shards.columns)
        self.ends = torch.from_numpy(index.ends)
        self.labels = torch.from_numpy(index.labels)
        self.timestamps = index.timestamps
        self.label_times = index.label_times
        self.symbol_codes = index.symbol_codes
        self.symbol_names = list(shards.symbols)
        self.steps = shards.steps
        self.dropped = dict(shards.manifest["dropped"])

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        window = self.matrix.windows(self.ends[k : k + 1].numpy(), self.steps)[0]
        return torch.from_numpy(window), self.labels[k]

    def nbytes(self) -> int:
        """Bytes held in memory: the per-row and per-sample arrays (the matrix stays on disk)."""
        aligned = self.aligned
        per_row = [aligned.times, aligned.symbol_codes, aligned.break_before, *aligned.event_times.values()]
        per_sample = [self.ends.numpy(), self.labels.numpy(), self.timestamps, self.label_times, self.symbol_codes]
        return sum(a.nbytes for a in per_row + per_sample)


def train_from_shards(
    ws: Workspace,
    model: ModelSpec | str,
    directory: str | Path,
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    console: Console | None = None,
    settings=None,
    network_sizes: dict | None = None,
) -> RunResult:
    """Open the set in `directory` (refused when it is not whole or not `model`'s), cut its walk-forward splits
    with [training] split_shares, validate it (`settings`: the gate's, None for the project's) and train on it
    only if it passes; the run records the set it came from (`shards` in metrics.json and the checkpoint)."""
    from barstore.splits import walk_forward
    from barstore.windows.selection import SelectedData
    from barstore.windows.shards import MANIFEST, ShardSet
    from expectations.gate import ValidationSettings, validate_model

    from .config import load_config
    from .run import data_fingerprint, fit_dataset, resolve_device

    spec = model if isinstance(model, ModelSpec) else model_spec(model)
    config = load_config(ws)
    resolve_device(device)  # a bad --device fails before the data loads
    settings = settings or ValidationSettings.for_model(ws, spec)
    shards = ShardSet.open(directory)
    shards.check_model(spec)
    dataset = ShardedDataset(shards)
    splits = walk_forward(dataset.timestamps, dataset.label_times, config.split_shares)
    fingerprint = data_fingerprint(dataset, splits)
    manifest = shards.manifest
    if list(config.split_shares) == manifest["split_shares"] and fingerprint != manifest["data_fingerprint"]:
        raise BarstoreError(
            f"the shards in {directory} do not hold the data {Path(directory) / MANIFEST} fingerprints "
            f"({manifest['data_fingerprint'][:12]}, read {fingerprint[:12]}): a shard changed after it was written"
        )
    selection = shards.selection()
    with _warehouse_at(ws, selection.snapshot, directory) as con:
        report = validate_model(ws, spec, SelectedData(dataset, splits, selection, con), settings)
    report.raise_if_failed()
    return fit_dataset(
        ws,
        spec,
        dataset,
        splits,
        epochs,
        seed,
        device,
        report_path=str(report.docs_path),
        console=console,
        selection=selection,
        config=config,
        network_sizes=network_sizes,
        shards=shards.describe(),
        fingerprint=fingerprint,
    )


def _warehouse_at(ws: Workspace, snapshot: int, directory):
    """A read-only connection to the home's warehouse at the set's snapshot, closed after the block."""
    from contextlib import closing

    import duckdb

    from barstore.warehouse import connect

    try:
        return closing(connect(ws.warehouse, read_only=True, snapshot=snapshot))
    except duckdb.Error as err:
        raise BarstoreError(
            f"{directory} was written from snapshot {snapshot} of {ws.warehouse}, which this warehouse cannot read "
            f"({str(err).splitlines()[0]}); the gate checks a set against the data it came from"
        ) from None
