"""Assemble a model's window dataset: spine -> Feast point-in-time features -> windows by index -> labels."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from barstore.feature_store import open_store
from barstore.home import resolve_home
from barstore.specs import model as model_spec
from barstore.warehouse import connect, query_arrow

from .index import window_ends
from .labels import forward_returns
from .retrieval import aligned_matrix
from .spine import step_spine

if TYPE_CHECKING:
    from .dataset import WindowDataset


def window_dataset(
    model: str,
    home: str | None = None,
    symbols: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    stride: int = 1,
    store=None,
    con=None,
) -> WindowDataset:
    """(window, label) samples of `model` whose decision times lie in [start, end], every `stride` steps.

    Windows may reach back before `start` (their history is real data); labels come from bars after the
    decision time and never enter a window."""
    from .dataset import WindowDataset  # torch loads here, not when barstore.windows is imported

    spec = model_spec(model)
    ws = resolve_home(home)
    con = con or connect(ws.warehouse, read_only=True)  # training only reads
    store = store or open_store(ws)
    spine = step_spine(con, spec, symbols=symbols, end=end)
    matrix = aligned_matrix(store, spec, spine)
    labels, label_times = _labels_for(con, spec, spine)
    index = window_ends(matrix, spec.steps, labels)
    keep = np.ones(len(index.ends), dtype=bool)
    if start is not None:
        keep &= matrix.times[index.ends] >= np.datetime64(start.replace(tzinfo=None), "us")
    if stride > 1:  # every stride-th step of each symbol, counted from its first step
        keep &= ((index.ends - matrix.symbol_start()[index.ends]) % stride) == 0
    index.ends = index.ends[keep]
    return WindowDataset(matrix, index, spec.steps, labels, label_times)


def _labels_for(con, spec, spine: pa.Table) -> tuple[np.ndarray, np.ndarray]:
    """The label and label time of each spine row, in spine order (NaN / NaT where the horizon lies beyond the
    data)."""
    labels = forward_returns(con, spec)
    keys = spine.select(["symbol", "event_timestamp"]).append_column(
        "row", pa.array(np.arange(spine.num_rows, dtype=np.int64))
    )
    out = query_arrow(
        con,
        "SELECT l.label, l.label_time FROM __barstore_keys AS k "
        "LEFT JOIN __barstore_labels AS l USING (symbol, event_timestamp) ORDER BY k.row",
        __barstore_keys=keys,
        __barstore_labels=labels,
    )
    labels = pc.cast(out["label"], pa.float64()).to_numpy(zero_copy_only=False)
    times = pc.cast(out["label_time"], pa.timestamp("us", "UTC")).to_numpy(zero_copy_only=False)
    return labels, times.astype("datetime64[us]")
