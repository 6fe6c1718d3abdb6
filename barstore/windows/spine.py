"""The step spine: a model's decision times (every close of its timeframe's complete bars) and where the
series breaks, so that no training window spans a gap.

A link between two consecutive steps of a symbol is broken when
- inside one trading day, the closes are more than one bar apart (missing bars, trading halts);
- at a new trading day, the day's first bar starts after the session start (its opening bars are missing), or
  a session of the calendar was skipped (holidays are not sessions, so they break nothing).
An early close is the session's end, so a half day's last bar links to the next session's first.
"""

from __future__ import annotations

from datetime import datetime

import duckdb
import pyarrow as pa

from barstore.specs import ModelSpec
from barstore.timeframes import seconds
from barstore.warehouse import query_arrow

SPINE_SQL = """
WITH steps AS (
    SELECT f.symbol, f.ts, f.ts_close, f.trading_day, s.calendar
    FROM {view} AS f
    JOIN raw.symbols AS s USING (symbol)
    WHERE ($symbols IS NULL OR list_contains($symbols, f.symbol))
      AND ($end IS NULL OR f.ts_close <= $end)
),
sessions AS (
    SELECT calendar, trading_day, session_start,
           row_number() OVER (PARTITION BY calendar ORDER BY trading_day) AS session_no
    FROM calendar_sessions
),
linked AS (
    SELECT
        st.*,
        se.session_start,
        se.session_no,
        lag(st.ts_close) OVER w AS prev_close,
        lag(st.trading_day) OVER w AS prev_day,
        lag(se.session_no) OVER w AS prev_session_no
    FROM steps AS st
    JOIN sessions AS se USING (calendar, trading_day)
    WINDOW w AS (PARTITION BY st.symbol ORDER BY st.ts_close)
)
SELECT
    symbol,
    ts_close AS event_timestamp,
    trading_day,
    coalesce(
        CASE
            WHEN trading_day = prev_day THEN epoch(ts_close - prev_close) > $bar_seconds
            ELSE ts > session_start
                 OR session_no - prev_session_no > 1
        END,
        false) AS break_before
FROM linked
WHERE $start IS NULL OR ts_close >= $start
QUALIFY $last IS NULL OR row_number() OVER (PARTITION BY symbol ORDER BY ts_close DESC) <= $last
ORDER BY symbol, event_timestamp
"""


def step_spine(
    con: duckdb.DuckDBPyConnection,
    spec: ModelSpec,
    symbols: list[str] | None = None,
    start: datetime | None = None,
    end: datetime | None = None,
    last: int | None = None,
) -> pa.Table:
    """symbol, event_timestamp (the step's bar close, UTC), trading_day, break_before; sorted by symbol, time.

    `start` drops earlier steps after the links are computed, so the first kept step still knows whether it
    follows a break; `last` keeps only each symbol's latest steps (what an online window needs)."""
    return query_arrow(con, SPINE_SQL.format(view=spec.step_view), _parameters(spec, symbols, start, end, last))


def step_counts(
    con: duckdb.DuckDBPyConnection, spec: ModelSpec, symbols: list[str] | None = None, end: datetime | None = None
) -> list[tuple[str, int]]:
    """(symbol, steps) of the spine `step_spine` returns, in its symbol order, without reading the spine out: how
    a distributed build cuts the symbols into tasks of similar size."""
    query = f"SELECT symbol, count(*) FROM ({SPINE_SQL.format(view=spec.step_view)}) GROUP BY symbol ORDER BY symbol"
    return con.execute(query, _parameters(spec, symbols, None, end, None)).fetchall()


def _parameters(spec: ModelSpec, symbols, start, end, last) -> dict:
    return {"symbols": symbols, "start": start, "end": end, "last": last, "bar_seconds": seconds(spec.timeframe)}
