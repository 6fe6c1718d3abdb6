"""Windows cut by index from one aligned matrix (as Qlib's TSDataSampler does): no window is ever copied.

The aligned matrix holds one row per step (sorted by symbol, then time) and one column per feature. A window
ending at row i is rows i-L+1 .. i; it is kept when all its rows belong to one symbol, no link inside it is a
break (see spine.py), none of its values is missing and its label exists. Everything is O(rows) with
cumulative sums, whatever L is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc


@dataclass
class AlignedMatrix:
    values: np.ndarray  # (rows, features) float64, C-contiguous
    symbol_codes: np.ndarray  # (rows,) int32 into symbol_names (codes, not strings: 4 bytes a row)
    symbol_names: list[str]
    times: np.ndarray  # (rows,) datetime64[us] UTC: each step's event time
    break_before: np.ndarray  # (rows,) bool: the link from the previous row is broken
    columns: list[str]
    # view -> (rows,) datetime64[us]: the event time of the row each step matched in that view (NaT: none);
    # present when the retrieval asked for them (barstore.feast_warehouse.event_times)
    event_times: dict[str, np.ndarray] = field(default_factory=dict)

    @classmethod
    def from_arrow(cls, table: pa.Table, columns: list[str], views: list[str] = ()) -> AlignedMatrix:
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise KeyError(f"retrieved frame lacks {missing}")
        values = np.empty((table.num_rows, len(columns)), dtype=np.float64)
        for j, name in enumerate(columns):
            col = pc.cast(table[name], pa.float64())
            values[:, j] = col.to_numpy(zero_copy_only=False)  # nulls become NaN
        times = pc.cast(table["event_timestamp"], pa.timestamp("us", "UTC")).to_numpy(zero_copy_only=False)
        encoded = pc.dictionary_encode(table["symbol"]).combine_chunks()
        matched = {}
        for view in views:
            name = f"{view}__event_timestamp"
            if name in table.column_names:
                stamps = pc.cast(table[name], pa.timestamp("us", "UTC")).to_numpy(zero_copy_only=False)
                matched[view] = stamps.astype("datetime64[us]")
        return cls(
            values=values,
            symbol_codes=encoded.indices.to_numpy(zero_copy_only=False).astype(np.int32),
            symbol_names=encoded.dictionary.to_pylist(),
            times=times.astype("datetime64[us]"),
            break_before=table["break_before"].to_numpy(zero_copy_only=False).astype(bool),
            columns=list(columns),
            event_times=matched,
        )

    def symbol_start(self) -> np.ndarray:
        """For each row, the first row of its symbol (rows are grouped by symbol)."""
        codes = self.symbol_codes
        new_symbol = np.r_[True, codes[1:] != codes[:-1]]
        return np.maximum.accumulate(np.where(new_symbol, np.arange(len(codes)), 0))


@dataclass
class WindowIndex:
    ends: np.ndarray  # row of each kept window's last step
    dropped: dict[str, int] = field(default_factory=dict)  # why windows were not kept


def window_ends(matrix: AlignedMatrix, steps: int, labels: np.ndarray | None = None) -> WindowIndex:
    """Rows at which a complete window of `steps` rows ends; counts of the windows dropped and why.

    Counted per candidate end (a row with at least steps-1 rows of its symbol before it), in this order:
    'gap' (a break inside), 'missing values' (a NaN in any row), 'no label'."""
    n = len(matrix.values)
    idx = np.arange(n)
    segment_start = matrix.symbol_start()
    new_symbol = segment_start == idx
    long_enough = idx - segment_start >= steps - 1

    def windowed(flags: np.ndarray, first_offset: int) -> np.ndarray:
        """How many flags lie in rows i-steps+1+first_offset .. i, for each i."""
        csum = np.concatenate([[0], np.cumsum(flags, dtype=np.int64)])
        lo = np.clip(idx - steps + 1 + first_offset, 0, None)
        return csum[idx + 1] - csum[lo]

    gap = windowed(matrix.break_before & ~new_symbol, 1) > 0  # links inside the window only
    nan_rows = np.isnan(matrix.values).any(axis=1)
    missing = windowed(nan_rows, 0) > 0
    no_label = np.zeros(n, dtype=bool) if labels is None else np.isnan(labels)

    candidates = long_enough
    dropped = {
        "gap": int((candidates & gap).sum()),
        "missing values": int((candidates & ~gap & missing).sum()),
        "no label": int((candidates & ~gap & ~missing & no_label).sum()),
    }
    keep = candidates & ~gap & ~missing & ~no_label
    return WindowIndex(ends=idx[keep], dropped=dropped)


def why_no_window(matrix: AlignedMatrix, row: int, steps: int, first_row: int) -> str:
    """Why no window of `steps` rows ends at `row` of a symbol starting at `first_row`: the rules of window_ends,
    in its order, said for one row (the latest gap or missing values, with their step's time)."""
    if row - first_row + 1 < steps:
        return f"only {row - first_row + 1} of {steps} steps"
    lo = row - steps + 1

    def at(i: int) -> str:
        return np.datetime_as_string(matrix.times[i], unit="m") + "Z"

    breaks = np.flatnonzero(matrix.break_before[lo + 1 : row + 1])
    if len(breaks):
        last = lo + 1 + int(breaks[-1])
        return f"a gap longer than the calendar allows before the step at {at(last)}"
    nan_rows, nan_cols = np.nonzero(np.isnan(matrix.values[lo : row + 1]))
    if len(nan_rows) == 0:
        return "no rule drops this window"  # not reached for a dropped window
    last = int(nan_rows.max())
    columns = sorted({matrix.columns[c] for r, c in zip(nan_rows, nan_cols) if r == last})
    return f"missing {', '.join(columns)} at the step at {at(lo + last)}"


def evenly_spaced(n: int, k: int) -> np.ndarray:
    """k distinct indices of 0..n-1 spread evenly, first and last included (k <= n)."""
    if k == 1:
        return np.array([n - 1], dtype=np.int64)
    return np.unique(np.round(np.linspace(0, n - 1, k)).astype(np.int64))
