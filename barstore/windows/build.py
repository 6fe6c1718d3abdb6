"""Assemble a model's window dataset: spine -> Feast point-in-time features -> windows by index -> labels."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from barstore.feature_store import open_store
from barstore.home import resolve_home
from barstore.warehouse import connect, query_arrow

from .index import AlignedMatrix, evenly_spaced, window_ends
from .labels import forward_returns
from .retrieval import aligned_matrix
from .spine import step_spine

if TYPE_CHECKING:
    from barstore.specs import ModelSpec

    from .dataset import WindowDataset


def window_dataset(
    spec: ModelSpec,
    home: str | None = None,
    symbols: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    stride: int = 1,
    store=None,
    con=None,
    max_samples: int | None = None,
) -> WindowDataset:
    """(window, label) samples of `spec`'s model whose decision times lie in [start, end], every `stride` steps.

    Windows may reach back before `start` (their history is real data); labels come from bars after the
    decision time and never enter a window. With `max_samples`, that many windows are chosen evenly in time from
    what the spine and the labels allow, and only their rows are retrieved (a chosen window whose features turn
    out missing, e.g. in an indicator's warm-up, is dropped and replaced by the next choice)."""
    from .dataset import WindowDataset  # torch loads here, not when barstore.windows is imported

    ws = resolve_home(home)
    con = con or connect(ws.warehouse, read_only=True)  # training only reads
    store = store or open_store(ws)
    spine = step_spine(con, spec, symbols=symbols, end=end)
    labels, label_times = _labels_for(con, spec, spine)
    if max_samples is not None:
        return _sampled_dataset(store, spec, spine, labels, label_times, start, stride, max_samples)
    matrix = aligned_matrix(store, spec, spine)
    index = window_ends(matrix, spec.steps, labels)
    index.ends = index.ends[_kept(matrix, index.ends, start, stride)]
    return WindowDataset(matrix, index, spec.steps, labels, label_times)


def _kept(matrix: AlignedMatrix, ends: np.ndarray, start: datetime | None, stride: int) -> np.ndarray:
    """Which window ends are at or after `start` and on the stride (every stride-th step of each symbol)."""
    keep = np.ones(len(ends), dtype=bool)
    if start is not None:
        keep &= matrix.times[ends] >= np.datetime64(start.replace(tzinfo=None), "us")
    if stride > 1:
        keep &= ((ends - matrix.symbol_start()[ends]) % stride) == 0
    return keep


SAMPLING_ROUNDS = 4  # retrievals at most: each replaces the windows the previous one found missing values in


def _sampled_dataset(store, spec, spine: pa.Table, labels, label_times, start, stride: int, wanted: int):
    """The bounded path: candidates from the spine alone (no features), `wanted` of them evenly in time, then one
    retrieval of only the rows those windows span."""
    from .dataset import WindowDataset

    skeleton = AlignedMatrix.from_arrow(spine, [], [])
    possible = window_ends(skeleton, spec.steps, labels)
    candidates = possible.ends[_kept(skeleton, possible.ends, start, stride)]
    if spine.num_rows and not len(candidates):  # steps but no window: say why without reading any feature
        empty = AlignedMatrix.from_arrow(spine.slice(0, 0), [], [])
        empty.values, empty.columns = np.empty((0, len(spec.columns))), list(spec.columns)
        possible.ends = possible.ends[:0]
        return WindowDataset(empty, possible, spec.steps, labels[:0], label_times[:0])
    order = candidates[np.lexsort((skeleton.symbol_codes[candidates], skeleton.times[candidates]))]
    chosen = order[evenly_spaced(len(order), min(wanted, len(order)))] if len(order) else order
    tried = np.zeros(0, dtype=np.int64)
    for _ in range(SAMPLING_ROUNDS):
        tried = np.union1d(tried, chosen)
        rows = _rows_of(chosen, spec.steps, spine.num_rows)
        part = spine.take(pa.array(rows)).set_column(
            spine.schema.get_field_index("break_before"),
            "break_before",
            pa.array(_breaks(spine["break_before"].to_numpy(zero_copy_only=False), rows)),
        )
        matrix = aligned_matrix(store, spec, part)
        index = window_ends(matrix, spec.steps, labels[rows])
        ends_in_spine = rows[index.ends]
        keep = np.isin(ends_in_spine, chosen)
        index.ends = index.ends[keep]
        short = wanted - len(index.ends)
        rest = order[~np.isin(order, tried)]
        if short <= 0 or not len(rest):
            break
        more = rest[evenly_spaced(len(rest), min(short, len(rest)))]
        chosen = np.sort(np.concatenate([rows[index.ends], more]))
    index.dropped = {**index.dropped, "not sampled": int(len(order) - len(index.ends))}
    return WindowDataset(matrix, index, spec.steps, labels[rows], label_times[rows])


def _rows_of(ends: np.ndarray, steps: int, n: int) -> np.ndarray:
    """Sorted spine rows covered by the windows ending at `ends`."""
    covered = np.zeros(n + 1, dtype=np.int64)
    np.add.at(covered, np.clip(ends - steps + 1, 0, None), 1)
    np.add.at(covered, ends + 1, -1)
    return np.flatnonzero(np.cumsum(covered)[:n] > 0)


def _breaks(break_before: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The spine's breaks for the kept rows, plus one wherever rows were skipped (no window spans a hole)."""
    out = break_before[rows].astype(bool)
    out[1:] |= np.diff(rows) > 1
    return out


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
