"""Assemble a model's window dataset: spine -> Feast point-in-time features -> windows by index -> labels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from barstore.feature_store import open_store
from barstore.home import resolve_home
from barstore.warehouse import connect, query_arrow

from .index import AlignedMatrix, WindowIndex, evenly_spaced, window_ends
from .labels import forward_returns
from .retrieval import aligned_matrix
from .spine import step_spine

if TYPE_CHECKING:
    from barstore.specs import ModelSpec

    from .dataset import WindowDataset

T = TypeVar("T")


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
    spine, labels, label_times = spine_and_labels(con, spec, symbols, end)
    if max_samples is not None:
        return _sampled_dataset(store, spec, spine, labels, label_times, start, stride, max_samples)
    matrix = aligned_matrix(store, spec, spine)
    index = window_ends(matrix, spec.steps, labels)
    index.ends = index.ends[_kept(matrix, index.ends, start, stride)]
    return WindowDataset(matrix, index, spec.steps, labels, label_times)


def spine_and_labels(
    con, spec: ModelSpec, symbols: list[str] | None, end: datetime | None
) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """The step spine of these symbols (all: None) up to `end`, and each step's label and label time."""
    spine = step_spine(con, spec, symbols=symbols, end=end)
    return spine, *_labels_for(con, spec, spine, symbols)


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

    order = sample_candidates(spec, spine, labels, start, stride)
    if spine.num_rows and not len(order):  # steps but no window: say why without reading any feature
        possible = window_ends(AlignedMatrix.from_arrow(spine, [], []), spec.steps, labels)
        empty = AlignedMatrix.from_arrow(spine.slice(0, 0), [], [])
        empty.values, empty.columns = np.empty((0, len(spec.columns))), list(spec.columns)
        possible.ends = possible.ends[:0]
        return WindowDataset(empty, possible, spec.steps, labels[:0], label_times[:0])

    def retrieve(chosen: np.ndarray) -> tuple[np.ndarray, SampledPart]:
        part = retrieve_chosen(store, spec, spine, labels, chosen)
        return part.kept, part

    part = choose_samples(order, wanted, retrieve)
    part.index.dropped = {**part.index.dropped, "not sampled": int(len(order) - len(part.index.ends))}
    return WindowDataset(part.matrix, part.index, spec.steps, labels[part.rows], label_times[part.rows])


def sample_candidates(spec: ModelSpec, spine: pa.Table, labels: np.ndarray, start, stride: int) -> np.ndarray:
    """Spine rows that may end a window (from the spine and the labels alone: no feature is read), sorted by
    decision time, then symbol: what `max_samples` picks from."""
    skeleton = AlignedMatrix.from_arrow(spine, [], [])
    possible = window_ends(skeleton, spec.steps, labels)
    candidates = possible.ends[_kept(skeleton, possible.ends, start, stride)]
    return candidates[np.lexsort((skeleton.symbol_codes[candidates], skeleton.times[candidates]))]


def choose_samples(order: np.ndarray, wanted: int, retrieve: Callable[[np.ndarray], tuple[np.ndarray, T]]) -> T:
    """Choose `wanted` of the candidate window ends `order` evenly, and retrieve them: `retrieve(chosen)` (spine
    rows) returns the chosen ends it kept (all features present) and its result. A round that kept fewer
    than wanted is followed by one that adds as many untried candidates, again evenly, to those kept; the last
    round's result is returned. The Spark engine retrieves the same choices in tasks (barstore.spark.dataset)."""
    chosen = order[evenly_spaced(len(order), min(wanted, len(order)))] if len(order) else order
    tried = np.zeros(0, dtype=np.int64)
    for _ in range(SAMPLING_ROUNDS):
        tried = np.union1d(tried, chosen)
        kept, result = retrieve(chosen)
        short = wanted - len(kept)
        rest = order[~np.isin(order, tried)]
        if short <= 0 or not len(rest):
            break
        more = rest[evenly_spaced(len(rest), min(short, len(rest)))]
        chosen = np.sort(np.concatenate([kept, more]))
    return result


@dataclass
class SampledPart:
    """One round's retrieval: the spine rows the chosen windows span, their features, and the chosen windows
    whose features are all present."""

    rows: np.ndarray  # spine rows retrieved, ascending
    matrix: AlignedMatrix  # one row per retrieved spine row
    index: WindowIndex  # the kept chosen windows, as rows of `matrix`

    @property
    def kept(self) -> np.ndarray:
        """The kept windows' ends as spine rows."""
        return self.rows[self.index.ends]


def retrieve_chosen(store, spec: ModelSpec, spine: pa.Table, labels: np.ndarray, chosen: np.ndarray) -> SampledPart:
    """Features of only the spine rows the windows ending at `chosen` (spine rows) span."""
    rows = _rows_of(chosen, spec.steps, spine.num_rows)
    part = spine.take(pa.array(rows)).set_column(
        spine.schema.get_field_index("break_before"),
        "break_before",
        pa.array(_breaks(spine["break_before"].to_numpy(zero_copy_only=False), rows)),
    )
    matrix = aligned_matrix(store, spec, part)
    index = window_ends(matrix, spec.steps, labels[rows])
    index.ends = index.ends[np.isin(rows[index.ends], chosen)]
    return SampledPart(rows, matrix, index)


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


def _labels_for(con, spec, spine: pa.Table, symbols: list[str] | None) -> tuple[np.ndarray, np.ndarray]:
    """The label and label time of each spine row (of these symbols: None, all), in spine order (NaN / NaT where
    the horizon lies beyond the data)."""
    labels = forward_returns(con, spec, symbols)
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
