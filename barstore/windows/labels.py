"""Labels: forward returns over each model's horizon, computed from future bars and never part of a window.

A label means one horizon, on every calendar:
- `bars` horizons (seq300: 60 one-minute bars) look that many bars ahead in the symbol's series, but never
  across a session close: where the k-th next bar lies beyond one (the next session starts after this one ends:
  an exchange's overnight, weekend or holiday, Globex's daily halt), the sample has no label and is dropped, not
  given the return of a longer span. Calendars without closes (24/7) are one unbroken stretch.
- `trading_days` horizons look k sessions of the symbol's exchange calendar ahead (`calendar_sessions`, not the
  days the symbol happens to have bars on), at the same offset from the session's first bar close, taking the
  last bar at or before that time in session d+k (an early close ends it sooner).
A label (and its label_time) is NULL when the future bar does not exist (the end of the data, a session the
symbol has no bars in, or a bar-count horizon reaching past a session close).
"""

from __future__ import annotations

import duckdb
import pyarrow as pa

from barstore.specs import ModelSpec
from barstore.warehouse import query_arrow

# Each symbol's sessions numbered in its calendar's order, and the unbroken stretch (no close in between) each
# one belongs to: a stretch grows while a session starts where the previous one ended.
SESSIONS = """
sessions AS (
    SELECT calendar, trading_day,
           row_number() OVER (PARTITION BY calendar ORDER BY trading_day) AS day_no,
           sum(CASE WHEN session_start > previous_end THEN 1 ELSE 0 END)
               OVER (PARTITION BY calendar ORDER BY trading_day) AS stretch
    FROM (
        SELECT calendar, trading_day, session_start,
               lag(session_end) OVER (PARTITION BY calendar ORDER BY trading_day) AS previous_end
        FROM calendar_sessions
    )
),
bars AS (
    SELECT b.symbol, b.ts_close, b.close, b.trading_day, s.day_no, s.stretch
    FROM {bars} AS b
    JOIN raw.symbols AS sy ON sy.symbol = b.symbol
    LEFT JOIN sessions AS s ON s.calendar = sy.calendar AND s.trading_day = b.trading_day
)"""

BY_BARS = f"""
WITH {SESSIONS},
ahead AS (
    SELECT symbol, ts_close, close, stretch,
           lead(close, $k) OVER w AS later_close,
           lead(ts_close, $k) OVER w AS later_time,
           lead(stretch, $k) OVER w AS later_stretch
    FROM bars
    WINDOW w AS (PARTITION BY symbol ORDER BY ts_close)
)
SELECT symbol, ts_close AS event_timestamp,
       CASE WHEN later_stretch IS NOT DISTINCT FROM stretch THEN later_close / close - 1 END AS label,
       CASE WHEN later_stretch IS NOT DISTINCT FROM stretch THEN later_time END AS label_time
FROM ahead
"""

BY_TRADING_DAYS = f"""
WITH {SESSIONS},
days AS (
    SELECT symbol, trading_day, any_value(day_no) AS day_no, min(ts_close) AS first_close
    FROM bars
    GROUP BY symbol, trading_day
),
targets AS (
    SELECT b.symbol, b.ts_close, b.close, later.trading_day AS target_day,
           later.first_close + (b.ts_close - today.first_close) AS target_close
    FROM bars AS b
    JOIN days AS today USING (symbol, trading_day)
    LEFT JOIN days AS later ON later.symbol = b.symbol AND later.day_no = today.day_no + $k
)
SELECT t.symbol, t.ts_close AS event_timestamp,
       CASE WHEN f.trading_day = t.target_day THEN f.close / t.close - 1 END AS label,
       CASE WHEN f.trading_day = t.target_day THEN f.ts_close END AS label_time
FROM targets AS t
ASOF LEFT JOIN bars AS f ON f.symbol = t.symbol AND f.ts_close <= t.target_close
"""


def forward_returns(con: duckdb.DuckDBPyConnection, spec: ModelSpec, symbols: list[str] | None = None) -> pa.Table:
    """symbol, event_timestamp, label (close at the horizon / close now - 1) and label_time (the close time of the
    bar the label reads: the first instant the label is known) for every step of the model, of these symbols only
    when given (a symbol's labels read its own bars and its calendar alone)."""
    if spec.horizon.bars:
        query, k = BY_BARS, spec.horizon.bars
    else:
        query, k = BY_TRADING_DAYS, spec.horizon.trading_days
    # the complete bars the steps close
    bars = (
        f"(SELECT * FROM bars_{spec.timeframe} WHERE is_complete "
        "AND ($symbols IS NULL OR list_contains($symbols, symbol)))"
    )
    return query_arrow(con, query.format(bars=bars), {"k": k, "symbols": symbols})
