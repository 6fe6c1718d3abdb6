"""Which samples a command works on: the options `barstore validate` and `barstore train` share.

    sel = Selection(symbols=["BTCUSDT"], since=..., until=..., stride=4, max_samples=5_000)
    ds = select_dataset(ws, "seq500_hourly", sel)

`since`/`until` bound the decision times (windows may reach back before `since`: their history is real data;
labels come from later bars, which may lie after `until`; the splits purge what overlaps). `max_samples` keeps
that many samples spread evenly over the selection in time order, so the span is kept and the choice is the
same every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from ..errors import BarstoreError
from .build import window_dataset
from .index import evenly_spaced

if TYPE_CHECKING:
    from ..home import Workspace
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


def select_dataset(ws: Workspace, model: str, selection: Selection, store=None, con=None) -> WindowDataset:
    ds = window_dataset(
        model,
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
