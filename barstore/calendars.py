"""Session calendars: each calendar's trading days with their sessions as UTC instants, kept in raw.sessions.

Built-in calendars come from `exchange_calendars` (holidays, early closes, the previous evening's open) or, for
markets with no holidays, from a rule; they are written for whole years around the bars a warehouse holds and
extended when an ingest reaches past them. A user calendar is a file of sessions (`barstore calendar add`):
it covers exactly the days the file lists.

A session is [session_start, session_end) of its trading day; a bar belongs to the session it overlaps."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import duckdb
import numpy as np
import pyarrow as pa

from .errors import BarstoreError

EXCHANGE_CALENDARS = "exchange_calendars 4.13.2"  # the pinned release the built-in sessions come from
PAD_YEARS = 1  # sessions are written for whole years, one beyond the bars on each side


@dataclass(frozen=True)
class Calendar:
    name: str
    tz: str  # the zone its sessions are written in (daily bars dated at its midnight)
    description: str
    exchange: str | None = None  # exchange_calendars code; None for rule-based calendars
    cap_close: time | None = None  # local time of its trading day no session ends after (None: the exchange's)
    floor_open: time | None = None  # local time of its trading day no session starts before


BUILTIN = {
    c.name: c
    for c in (
        Calendar("crypto_24x7", "UTC", "every day, UTC days (00:00-24:00)"),
        Calendar(
            "us_rth",
            "America/New_York",
            "US equities, regular hours 09:30-16:00 New York: NYSE (XNYS) holidays and early closes",
            exchange="XNYS",
        ),
        Calendar(
            "cme_globex",
            "America/New_York",
            "CME Globex (CMES): 18:00 New York the evening before to 17:00, CME holidays and early halts; "
            "labelled by the day it ends",
            exchange="CMES",
            cap_close=time(17, 0),  # exchange_calendars runs CMES sessions to the next open; Globex halts 17-18
        ),
        Calendar(
            "cme_rth",
            "America/New_York",
            "CME futures in US regular hours (an RTH-only file): 09:30-16:00 New York on CME trading days, "
            "CME early halts",
            exchange="CMES",
            floor_open=time(9, 30),
            cap_close=time(16, 0),
        ),
        Calendar(
            "fx_24x5",
            "America/New_York",
            "FX 24x5: 17:00 New York the day before to 17:00 (the New York roll), Monday to Friday",
        ),
    )
}

SESSION_SCHEMA = pa.schema(
    [
        ("calendar", pa.string()),
        ("trading_day", pa.date32()),
        ("session_start", pa.timestamp("us", tz="UTC")),
        ("session_end", pa.timestamp("us", tz="UTC")),
    ]
)


def builtin_sessions(name: str, first: date, last: date) -> pa.Table:
    """The sessions of built-in calendar `name` whose trading day is in [first, last]."""
    cal = BUILTIN[name]
    if cal.exchange is not None:
        starts, ends, days = _exchange_sessions(cal, first, last)
    elif name == "fx_24x5":
        days = _days(first, last)
        days = days[np.is_busday(days)]
        starts, ends = _local_sessions(days, cal.tz, -1, time(17), 0, time(17))
    else:
        days = _days(first, last)
        starts = days.astype("datetime64[us]").astype(np.int64)
        ends = starts + 86_400_000_000
    return _table(name, days, starts, ends)


def _days(first: date, last: date) -> np.ndarray:
    return np.arange(np.datetime64(first, "D"), np.datetime64(last, "D") + 1)


def _exchange_sessions(cal: Calendar, first: date, last: date):
    import exchange_calendars  # ~0.6 s to import: only when sessions are written

    end = max(last, first + timedelta(days=1))  # exchange_calendars needs start < end
    schedule = exchange_calendars.get_calendar(cal.exchange, start=first.isoformat(), end=end.isoformat()).schedule
    schedule = schedule[schedule.index.date <= last]
    days = schedule.index.values.astype("datetime64[D]")
    starts = schedule["open"].dt.tz_convert("UTC").values.astype("datetime64[us]").astype(np.int64)
    ends = schedule["close"].dt.tz_convert("UTC").values.astype("datetime64[us]").astype(np.int64)
    if cal.floor_open is not None:
        floor, _ = _local_sessions(days, cal.tz, 0, cal.floor_open, 0, cal.floor_open)
        starts = np.maximum(starts, floor)
    if cal.cap_close is not None:
        _, cap = _local_sessions(days, cal.tz, 0, cal.cap_close, 0, cal.cap_close)
        ends = np.minimum(ends, cap)
    return starts, ends, days


def _local_sessions(days: np.ndarray, tz: str, open_day: int, opens: time, close_day: int, closes: time):
    """UTC microseconds of `opens` on day + open_day and `closes` on day + close_day, local wall time in `tz`."""
    zone = ZoneInfo(tz)

    def at(offset: int, t: time) -> np.ndarray:
        return np.array(
            [
                int(datetime.combine(d.item() + timedelta(days=offset), t, tzinfo=zone).timestamp()) * 1_000_000
                for d in days
            ],
            dtype=np.int64,
        )

    return at(open_day, opens), at(close_day, closes)


def _table(name: str, days: np.ndarray, starts: np.ndarray, ends: np.ndarray) -> pa.Table:
    return pa.table(
        {
            "calendar": pa.array([name] * len(days), pa.string()),
            "trading_day": pa.array(days.astype("datetime64[D]"), pa.date32()),
            "session_start": pa.array(starts, pa.timestamp("us", tz="UTC")),
            "session_end": pa.array(ends, pa.timestamp("us", tz="UTC")),
        },
        schema=SESSION_SCHEMA,
    )


def register_builtin(con: duckdb.DuckDBPyConnection) -> None:
    """Add the built-in calendars that raw.calendars lacks (their sessions come when bars need them)."""
    known = {r[0] for r in con.execute("SELECT name FROM raw.calendars").fetchall()}
    for cal in BUILTIN.values():
        if cal.name not in known:
            source = f"{EXCHANGE_CALENDARS} {cal.exchange}" if cal.exchange else "rule"
            con.execute(
                "INSERT INTO raw.calendars VALUES (?, ?, ?, NULL, NULL, ?)", [cal.name, cal.tz, source, cal.description]
            )


def cover(con: duckdb.DuckDBPyConnection, calendar: str, first: date, last: date) -> None:
    """Make raw.sessions hold `calendar`'s sessions for every day in [first, last] (inside the caller's write
    transaction). Built-in calendars are rewritten for the whole years around the union of the old and new
    spans; a user calendar covers what its file listed, and nothing is added to it."""
    rows = con.execute("SELECT first_day, last_day FROM raw.calendars WHERE name = ?", [calendar]).fetchall()
    if not rows or calendar not in BUILTIN:
        return
    have_first, have_last = rows[0]
    if have_first is not None and have_first <= first and last <= have_last:
        return
    lo, hi = date(first.year - PAD_YEARS, 1, 1), date(last.year + PAD_YEARS, 12, 31)
    if have_first is not None:
        lo, hi = min(lo, have_first), max(hi, have_last)
    sessions = builtin_sessions(calendar, lo, hi)
    con.execute("DELETE FROM raw.sessions WHERE calendar = ?", [calendar])
    con.register("_new_sessions", sessions)
    try:
        con.execute("INSERT INTO raw.sessions SELECT * FROM _new_sessions")
    finally:
        con.unregister("_new_sessions")
    con.execute("UPDATE raw.calendars SET first_day = ?, last_day = ? WHERE name = ?", [lo, hi, calendar])


def cover_stored_bars(con: duckdb.DuckDBPyConnection) -> None:
    """Sessions for the span of every symbol's stored bars (after a migration or a schema upgrade)."""
    spans = con.execute(
        "SELECT s.calendar, CAST(min(b.ts) AS DATE) - 7, CAST(max(b.ts) AS DATE) + 7 FROM raw.bars b "
        "JOIN raw.symbols s USING (symbol) GROUP BY s.calendar"
    ).fetchall()
    for calendar, first, last in spans:
        cover(con, calendar, first, last)


def calendar_zone(con: duckdb.DuckDBPyConnection, name: str) -> str:
    rows = con.execute("SELECT tz FROM raw.calendars WHERE name = ?", [name]).fetchall()
    if not rows:
        raise BarstoreError(f"unknown calendar {name!r}")
    return rows[0][0]
