"""Which samples a command works on: the options `barstore validate` and `barstore train` share, and the data
they select, built once for both the validation gate and the fit.

    sel = Selection(symbols=["BTCUSDT"], since=..., until=..., stride=4, max_samples=5_000)
    ds = select_dataset(ws, MODELS["seq500_hourly"], sel)
    with selected_data(ws, MODELS["seq500_hourly"], sel) as data:  # one warehouse snapshot throughout
        data.dataset, data.splits, data.selection.snapshot

`since`/`until` bound the decision times (windows may reach back before `since`: their history is real data;
labels come from later bars, which may lie after `until`; the splits purge what overlaps). `max_samples` keeps
that many samples spread evenly over the selection in time order, so the span is kept and the choice is the
same every run.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import BarstoreError
from ..feature_store import open_store
from ..lake import snapshot_id
from ..splits import project_shares, walk_forward
from ..warehouse import connect, reading_snapshot
from .build import window_dataset
from .index import evenly_spaced

if TYPE_CHECKING:
    import duckdb

    from ..home import Workspace
    from ..specs import ModelSpec
    from ..splits import Splits
    from .dataset import WindowDataset


@dataclass(frozen=True)
class Selection:
    symbols: tuple[str, ...] | None = None
    since: datetime | None = None
    until: datetime | None = None
    stride: int = 1
    max_samples: int | None = None
    snapshot: int | None = None  # the warehouse snapshot to read (None: the last committed one)

    def __post_init__(self):
        if self.stride < 1:
            raise BarstoreError(f"--stride must be at least 1 (got {self.stride})")
        if self.max_samples is not None and self.max_samples < 1:
            raise BarstoreError(f"--max-samples must be at least 1 (got {self.max_samples})")
        if self.since and self.until and self.since >= self.until:
            raise BarstoreError(
                f"--since {self.since:%Y-%m-%d %H:%M} is not before --until {self.until:%Y-%m-%d %H:%M}"
            )

    def describe(self) -> dict:
        """JSON-ready, for checkpoints and reports."""
        return {
            "symbols": list(self.symbols) if self.symbols else None,
            "since": self.since.isoformat() if self.since else None,
            "until": self.until.isoformat() if self.until else None,
            "stride": self.stride,
            "max_samples": self.max_samples,
            "snapshot": self.snapshot,
        }


def select_dataset(ws: Workspace, spec: ModelSpec, selection: Selection, store=None, con=None) -> WindowDataset:
    ds = window_dataset(
        spec,
        home=str(ws.home),
        symbols=list(selection.symbols) if selection.symbols else None,
        start=selection.since,
        end=selection.until,
        stride=selection.stride,
        store=store,
        con=con,
        max_samples=selection.max_samples,
    )
    ds = ds.in_time_order()
    if selection.max_samples is not None and len(ds) > selection.max_samples:
        ds = ds.subset(evenly_spaced(len(ds), selection.max_samples))
    return ds


@dataclass(frozen=True)
class SelectedData:
    """A model's data for one command: what the validation gate checks and training fits on."""

    dataset: WindowDataset  # the selection's windows, in time order
    splits: Splits  # their walk-forward splits
    selection: Selection  # as asked, with the snapshot it was read from: `--snapshot N` reads this data again
    con: duckdb.DuckDBPyConnection  # the connection it was read through; open inside `selected_data`'s block only


@contextmanager
def selected_data(
    ws: Workspace, spec: ModelSpec, selection: Selection, store=None, con=None, shares=None
) -> Iterator[SelectedData]:
    """Build `spec`'s dataset of the selection (select_dataset) and its walk-forward splits (`shares`, by default
    the project's [training] split_shares), all from one warehouse snapshot (the selection's, else the last
    committed one), which Feast's retrieval reads too while the block runs. A connection opened here (no `con`)
    is closed when the block ends."""
    own = con is None
    con = connect(ws.warehouse, read_only=True, snapshot=selection.snapshot) if own else con
    try:
        snapshot = snapshot_id(con)
        with reading_snapshot(ws.warehouse, snapshot):
            ds = select_dataset(ws, spec, selection, store=open_store(ws) if store is None else store, con=con)
            splits = walk_forward(ds.timestamps, ds.label_times, shares or project_shares(ws.project_dir))
            yield SelectedData(ds, splits, replace(selection, snapshot=snapshot), con)
    finally:
        if own:
            con.close()
