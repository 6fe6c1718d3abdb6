"""Bars against their calendar's sessions: an intraday bar must overlap a session, a daily bar must name a
trading day (and is stored at that day's session start). Bars failing that get a reason like any bad row;
`--outside-session keep` keeps intraday ones instead (daily bars of a closed day have no session to belong to)."""

from __future__ import annotations

import duckdb

from .. import calendars
from .checks import STAGE, Grid
from .timestamps import sql_literal

_SPANS = """
SELECT sy.calendar, CAST(min(st.ts) AS DATE) - 2, CAST(max(st.ts) AS DATE) + 2
FROM {stage} AS st JOIN raw.symbols AS sy USING (symbol)
WHERE st.ts IS NOT NULL
GROUP BY sy.calendar
"""

# The session a bar [ts, ts + length) overlaps is the last one starting before the bar ends.
_OUTSIDE = """
WITH staged AS (
    SELECT st.__row, st.ts, sy.calendar FROM {stage} AS st JOIN raw.symbols AS sy USING (symbol)
    WHERE st.ts IS NOT NULL
)
SELECT b.__row,
       format('bar at {{}} UTC is outside the sessions of calendar {{}} ({{}})', strftime(b.ts, '%Y-%m-%d %H:%M'),
              b.calendar,
              CASE WHEN se.session_end IS NULL THEN 'it has no session before it'
                   ELSE 'the session of ' || se.trading_day || ' ended at '
                        || strftime(se.session_end, '%Y-%m-%d %H:%M') || ' UTC' END) AS reason
FROM staged AS b
ASOF LEFT JOIN raw.sessions AS se
    ON se.calendar = b.calendar AND b.ts + INTERVAL {seconds} SECOND > se.session_start
WHERE se.session_end IS NULL OR b.ts >= se.session_end
"""

# Vendors date a daily bar by local midnight (the calendar's zone, else --tz/UTC) or stamp it at the
# session open; either names the trading day, and the stored start is that day's session start.
_DAILY = """
WITH staged AS (
    SELECT st.__row, st.ts, sy.calendar, c.tz
    FROM {stage} AS st JOIN raw.symbols AS sy USING (symbol) JOIN raw.calendars AS c ON c.name = sy.calendar
    WHERE st.ts IS NOT NULL
),
dated AS (
    SELECT b.*,
           CASE WHEN CAST(timezone(b.tz, b.ts) AS TIME) = TIME '00:00' THEN CAST(timezone(b.tz, b.ts) AS DATE)
                WHEN opened.trading_day IS NOT NULL THEN opened.trading_day
                WHEN CAST(timezone({alt}, b.ts) AS TIME) = TIME '00:00' THEN CAST(timezone({alt}, b.ts) AS DATE)
           END AS day
    FROM staged AS b
    LEFT JOIN raw.sessions AS opened ON opened.calendar = b.calendar AND opened.session_start = b.ts
)
SELECT d.__row, se.session_start,
       CASE WHEN d.day IS NULL
            THEN format('timestamp {{}} is not on the 1d grid (a daily bar must be at 00:00 or at the session open '
                        || 'in the zone of the calendar)', strftime(timezone(d.tz, d.ts), '%Y-%m-%d %H:%M:%S'))
            WHEN se.session_start IS NULL
            THEN format('{{}} is not a trading day of calendar {{}} (a weekend or holiday)', d.day, d.calendar)
       END AS reason
FROM dated AS d
LEFT JOIN raw.sessions AS se ON se.calendar = d.calendar AND se.trading_day = d.day
"""


def place_in_sessions(con: duckdb.DuckDBPyConnection, grid: Grid, outside: str) -> int:
    """Check STAGE's bars against the sessions (written first where the calendar lacks these days); return how
    many intraday bars outside the sessions were kept."""
    for calendar, first, last in con.execute(_SPANS.format(stage=STAGE)).fetchall():
        calendars.cover(con, calendar, first, last)
    if grid.timeframe == "1d":
        _merge(con, _DAILY.format(stage=STAGE, alt=sql_literal(grid.alt_zone)), set_ts=True)
        return 0
    query = _OUTSIDE.format(stage=STAGE, seconds=grid.seconds)
    if outside == "keep":
        return con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
    _merge(con, query, set_ts=False)
    return 0


def _merge(con, query: str, set_ts: bool) -> None:
    """Add each row's session reason to its reason (and, for daily bars, set its start)."""
    ts = "ts = coalesce(p.session_start, s.ts), " if set_ts else ""
    con.execute(f"""
        UPDATE {STAGE} AS s SET {ts}
            reason = CASE WHEN p.reason IS NULL THEN s.reason ELSE concat_ws('; ', s.reason, p.reason) END
        FROM ({query}) AS p
        WHERE s.__row = p.__row
    """)
