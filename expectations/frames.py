"""The pandas frames the suites validate, one per suite, built from the warehouse and the window dataset.

Every frame starts with `symbol`, `time` (UTC) and `scope` (the timeframe, view, split or boundary a row belongs
to): the columns GX reports for each unexpected row, so every failure names where it is. Rules across columns
or rows become plain computed columns a built-in expectation checks (a NULL is "nothing to check": GX skips
missing values in column-map expectations), e.g. `body_top` = max(open, close) for high >= max(open, close).

Only what training reads is checked: the steps inside kept windows (a dropped window is never trained on), every
view joined at those steps, the links between consecutive steps of a kept window, the samples and their splits.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from barstore.specs import VIEWS, ModelSpec
from barstore.timeframes import seconds
from barstore.warehouse import query_arrow, quote_ident

if TYPE_CHECKING:
    from barstore.splits import Splits
    from barstore.windows.dataset import WindowDataset

INDEX = ["symbol", "time", "scope"]

RAW_BARS_SQL = """
SELECT symbol, ts AS time, timeframe AS scope, open, high, low, close, volume,
       greatest(open, close) AS body_top, least(open, close) AS body_bottom
FROM raw.bars
WHERE list_contains($symbols, symbol)
ORDER BY symbol, timeframe, ts
"""

# The latest row of the view closed at or before each step: what a correct point-in-time join matches.
LATEST_SQL = """
SELECT k.row, v.ts_close AS latest
FROM __gate_steps AS k ASOF LEFT JOIN {view} AS v ON v.symbol = k.symbol AND v.ts_close <= k.time
ORDER BY k.row
"""

# Each link between consecutive steps of a kept window, re-derived from the step view and the calendar (the same
# rules the spine's breaks encode, barstore/windows/spine.py, checked here from the times themselves): inside a
# trading day the closes are at most one bar apart (a session's last bar may close early); a new day's first step
# is its session's first bar, and no session of the calendar was skipped.
LINKS_SQL = """
WITH ends AS (
    SELECT l.*, cur.trading_day, cur.ts, prev.trading_day AS prev_day, sy.calendar
    FROM __gate_links AS l
    LEFT JOIN {view} AS cur ON cur.symbol = l.symbol AND cur.ts_close = l.time
    LEFT JOIN {view} AS prev ON prev.symbol = l.prev_symbol AND prev.ts_close = l.prev_time
    LEFT JOIN raw.symbols AS sy ON sy.symbol = l.symbol
),
sessions AS (
    SELECT calendar, trading_day, session_start,
           row_number() OVER (PARTITION BY calendar ORDER BY trading_day) AS session_no
    FROM calendar_sessions
)
SELECT e.row,
       CASE WHEN e.trading_day = e.prev_day THEN epoch(e.time - e.prev_time) / $bar_seconds END AS gap_bars,
       CASE WHEN e.trading_day <> e.prev_day THEN s.session_no - p.session_no - 1 END AS sessions_skipped,
       CASE WHEN e.trading_day <> e.prev_day THEN epoch(e.ts - s.session_start) END AS open_delay_seconds
FROM ends AS e
LEFT JOIN sessions AS s ON s.calendar = e.calendar AND s.trading_day = e.trading_day
LEFT JOIN sessions AS p ON p.calendar = e.calendar AND p.trading_day = e.prev_day
ORDER BY e.row
"""


RAW_BARS_CHUNK_ROWS = 2_000_000  # the raw-bars suite runs on groups of whole symbols of about this many bars
COUNTS_SQL = """
SELECT symbol, count(*) AS n FROM raw.bars WHERE list_contains($symbols, symbol) GROUP BY symbol ORDER BY symbol
"""


class RawBarChunks:
    """raw.bars of these symbols as frames of whole symbols, about `max_rows` bars each (a symbol with more is a
    frame of its own), read one at a time: the gate's memory follows a chunk, not the universe. Every expectation
    of the raw_bars suite is per row or per (symbol, timeframe, ts), so the suite run chunk by chunk checks what
    one run over all the bars would. `rows` counts the bars read so far."""

    def __init__(self, con, symbols: list[str], max_rows: int = RAW_BARS_CHUNK_ROWS):
        self.con, self.rows = con, 0
        counts = con.execute(COUNTS_SQL, {"symbols": list(symbols)}).fetchall()
        self.groups: list[list[str]] = []
        size = 0
        for symbol, n in counts:
            if not self.groups or size + n > max_rows:
                self.groups.append([])
                size = 0
            self.groups[-1].append(symbol)
            size += n
        if not self.groups:  # no bars at all: one empty frame, so the suite still runs (and reports it)
            self.groups = [list(symbols)]

    def __iter__(self):
        for group in self.groups:
            frame = raw_bars(self.con, group)
            self.rows += len(frame)
            yield frame


def raw_bars(con, symbols: list[str]) -> pd.DataFrame:
    """raw.bars of these symbols, every timeframe stored and all their history (features read all of it): the
    bar values and `body_top`/`body_bottom` (max/min of open and close) for the high/low rules."""
    return query_arrow(con, RAW_BARS_SQL, {"symbols": list(symbols)}).to_pandas()


def training_set(ds: WindowDataset, splits: Splits) -> pd.DataFrame:
    """One row per sample: its split (`scope`, 'purged' when no split keeps it), label, `label_positive` (1.0 when
    label > 0), `label_lead_seconds` (label time - decision time) and `missing_in_window` (NaN cells in the
    window it trains on)."""
    ends, steps = _ends(ds), ds.steps
    cumulative = np.concatenate([[0], np.cumsum(_nan_cells(ds.aligned.values), dtype=np.int64)])
    missing = cumulative[ends + 1] - cumulative[np.clip(ends - steps + 1, 0, None)]
    scope = np.full(len(ends), "purged", dtype=object)
    for name, positions in splits.named().items():
        scope[positions] = name
    label = ds.labels.numpy()
    return pd.DataFrame(
        {
            "symbol": _names(ds, ds.symbol_codes),
            "time": _utc(ds.timestamps),
            "scope": scope,
            "label": label,
            "label_positive": np.where(np.isnan(label), np.nan, (label > 0).astype(np.float64)),
            "label_lead_seconds": (ds.label_times - ds.timestamps) / np.timedelta64(1, "s"),
            "missing_in_window": missing,
        }
    )


MATRIX_CHUNK_ROWS = 1 << 16


def _nan_cells(values) -> np.ndarray:
    """NaN cells per matrix row, read in chunks of rows: the matrix may be memory-mapped shards (a set written by
    `barstore dataset`), which are never read whole."""
    counts = [
        np.isnan(values[lo : lo + MATRIX_CHUNK_ROWS]).sum(axis=1) for lo in range(0, len(values), MATRIX_CHUNK_ROWS)
    ]
    return np.concatenate(counts) if counts else np.zeros(0, dtype=np.int64)


def alignment(con, spec: ModelSpec, ds: WindowDataset) -> pd.DataFrame:
    """One row per (step inside a kept window, view joined): the matched row's event time (`matched_time`, NaT
    when the store returned none), `lag_seconds` (step - matched), the view's allowed staleness `ttl_seconds`
    (barstore.specs.VIEWS) and `behind_latest_seconds` (the latest row of the view closed at or before the step,
    from the warehouse, minus the matched one: 0 when the join took the last completed row)."""
    rows = np.flatnonzero(in_windows(_ends(ds), ds.steps, len(ds.aligned.times)))
    times = ds.aligned.times[rows]
    symbols = _names(ds, ds.aligned.symbol_codes[rows])
    steps = _step_keys(symbols, times)
    parts = []
    for view, _ in spec.inputs:
        stamps = ds.aligned.event_times.get(view)
        matched = stamps[rows] if stamps is not None else np.full(len(rows), np.datetime64("NaT"), "datetime64[us]")
        latest = query_arrow(con, LATEST_SQL.format(view=quote_ident(view)), __gate_steps=steps)["latest"]
        latest = latest.to_numpy(zero_copy_only=False).astype("datetime64[us]")
        parts.append(
            pd.DataFrame(
                {
                    "symbol": symbols,
                    "time": _utc(times),
                    "scope": view,
                    "matched_time": _utc(matched),
                    "lag_seconds": (times - matched) / np.timedelta64(1, "s"),
                    "ttl_seconds": float(VIEWS[view].ttl_seconds),
                    "behind_latest_seconds": (latest - matched) / np.timedelta64(1, "s"),
                }
            )
        )
    return pd.concat(parts, ignore_index=True)


def step_spacing(con, spec: ModelSpec, ds: WindowDataset) -> pd.DataFrame:
    """One row per link between consecutive steps of a kept window (`time`: the later step; `scope`: the step
    view): `prev_symbol` (a window holds one symbol), `gap_bars` (inside a day: close-to-close in bars),
    `sessions_skipped` and `open_delay_seconds` (at a new day: its first step's bar start -
    session start)."""
    aligned = ds.aligned
    rows = np.flatnonzero(in_windows(_ends(ds), ds.steps, len(aligned.times), skip_first=1))
    rows = rows[rows > 0]  # row 0 links to nothing (reached only by an index whose windows start before it)
    symbols, prev_symbols = _names(ds, aligned.symbol_codes[rows]), _names(ds, aligned.symbol_codes[rows - 1])
    links = (
        _step_keys(symbols, aligned.times[rows])
        .append_column("prev_symbol", pa.array(prev_symbols, pa.string()))
        .append_column("prev_time", pa.array(aligned.times[rows - 1]).cast(pa.timestamp("us", "UTC")))
    )
    derived = query_arrow(
        con,
        LINKS_SQL.format(view=quote_ident(spec.step_view)),
        {"bar_seconds": seconds(spec.timeframe)},
        __gate_links=links,
    ).to_pandas()
    return pd.DataFrame(
        {
            "symbol": symbols,
            "time": _utc(aligned.times[rows]),
            "scope": spec.step_view,
            "prev_symbol": prev_symbols,
            "gap_bars": derived["gap_bars"].to_numpy(dtype=np.float64, na_value=np.nan),
            "sessions_skipped": derived["sessions_skipped"].to_numpy(dtype=np.float64, na_value=np.nan),
            "open_delay_seconds": derived["open_delay_seconds"].to_numpy(dtype=np.float64, na_value=np.nan),
        }
    )


def split_boundaries(ds: WindowDataset, splits: Splits) -> pd.DataFrame:
    """One row per split in time order (`scope`: train, validation, test; `time`: its first decision time): its
    `samples`, and against the splits after it (their first decision time: `later_start`) `label_margin_seconds`
    (later_start - this split's last label time: > 0 is the embargo) and `decision_margin_seconds` (later_start -
    its last decision time); NaN for the last split, or an empty one, which have nothing to compare."""
    named = list(splits.named().items())
    rows = []
    for k, (name, positions) in enumerate(named):
        later = np.concatenate([p for _, p in named[k + 1 :]] + [np.array([], dtype=np.int64)])
        later_start = _earliest(ds.timestamps[later])
        rows.append(
            {
                "symbol": None,
                "time": _earliest(ds.timestamps[positions]),
                "scope": name,
                "samples": len(positions),
                "label_margin_seconds": _seconds(later_start - _latest(ds.label_times[positions])),
                "decision_margin_seconds": _seconds(later_start - _latest(ds.timestamps[positions])),
            }
        )
    frame = pd.DataFrame(rows)
    frame["time"] = _utc(frame["time"].to_numpy(dtype="datetime64[us]"))
    return frame


def in_windows(ends: np.ndarray, steps: int, rows: int, skip_first: int = 0) -> np.ndarray:
    """Which of `rows` rows lie in at least one window ending at `ends` (rows e-steps+1+skip_first .. e); with
    skip_first=1, the rows whose link from the previous row lies inside a window. O(rows + windows)."""
    starts = np.clip(ends - steps + 1 + skip_first, 0, rows)
    delta = np.bincount(starts, minlength=rows + 1) - np.bincount(ends + 1, minlength=rows + 1)
    return np.cumsum(delta[:rows]) > 0


def _ends(ds: WindowDataset) -> np.ndarray:
    return ds.ends.numpy().astype(np.int64)


def _names(ds: WindowDataset, codes: np.ndarray) -> np.ndarray:
    return np.asarray(ds.symbol_names, dtype=object)[codes] if len(codes) else np.array([], dtype=object)


def _step_keys(symbols: np.ndarray, times: np.ndarray) -> pa.Table:
    """(row, symbol, time) of steps, for a join in DuckDB; times as UTC like the warehouse's."""
    return pa.table(
        {
            "row": pa.array(np.arange(len(times), dtype=np.int64)),
            "symbol": pa.array(symbols, pa.string()),
            "time": pa.array(times.astype("datetime64[us]")).cast(pa.timestamp("us", "UTC")),
        }
    )


def _utc(times: np.ndarray) -> pd.Series:
    return pd.Series(np.asarray(times, dtype="datetime64[us]")).dt.tz_localize("UTC")


def _latest(times: np.ndarray) -> np.datetime64:
    known = times[~np.isnat(times)]
    return known.max() if len(known) else np.datetime64("NaT")


def _earliest(times: np.ndarray) -> np.datetime64:
    known = times[~np.isnat(times)]
    return known.min() if len(known) else np.datetime64("NaT")


def _seconds(span) -> float:
    return float(span / np.timedelta64(1, "s")) if not np.isnat(span) else np.nan
