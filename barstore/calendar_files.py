"""User calendars from a CSV file of sessions: `barstore calendar add NAME FILE --tz ZONE`.

The file has a header and one row per trading day: trading_day (YYYY-MM-DD), session_start, session_end.
Times carry an offset (2024-07-03 09:30:00-04:00) or are wall-clock time in --tz. Days between the first and
the last listed that the file omits are closed. The whole file is checked before anything is written."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa

from .calendars import BUILTIN
from .errors import IngestError
from .warehouse import quote_ident, write_transaction

COLUMNS = ("trading_day", "session_start", "session_end")
_SHOWN = 5

_PARSED = """
WITH cells AS (
    SELECT row, trading_day AS day_text, session_start AS start_text, session_end AS end_text
    FROM _calendar_cells
),
parsed AS (
    SELECT *, try_cast(day_text AS DATE) AS trading_day,
           {start} AS session_start, {end} AS session_end
    FROM cells
)
SELECT *, lag(session_end) OVER (ORDER BY session_start) AS previous_end,
       count(*) OVER (PARTITION BY trading_day) AS same_day
FROM parsed
"""


def _instant(column: str) -> str:
    """Text with an offset as written; text without one as wall-clock time in the calendar's zone."""
    return (
        f"coalesce(try_cast(CASE WHEN regexp_matches({column}, '([+-]\\d\\d(:?\\d\\d)?|Z)$') THEN {column} END "
        f"AS TIMESTAMPTZ), timezone($tz, try_cast({column} AS TIMESTAMP)))"
    )


_REASONS = """
SELECT row, concat_ws('; ',
    CASE WHEN trading_day IS NULL THEN format('trading_day ''{}'' is not a date (YYYY-MM-DD)', day_text) END,
    CASE WHEN session_start IS NULL THEN format('session_start ''{}'' is not a time', start_text) END,
    CASE WHEN session_end IS NULL THEN format('session_end ''{}'' is not a time', end_text) END,
    CASE WHEN session_end <= session_start THEN 'the session ends before it starts' END,
    CASE WHEN same_day > 1 THEN format('trading_day {} is listed {} times', trading_day, same_day) END,
    CASE WHEN previous_end > session_start THEN 'the session starts before the previous one ends' END
) AS reason
FROM _calendar_file
WHERE trading_day IS NULL OR session_start IS NULL OR session_end IS NULL OR session_end <= session_start
   OR same_day > 1 OR previous_end > session_start
ORDER BY row
"""


def add_calendar(
    con: duckdb.DuckDBPyConnection, name: str, path: Path, tz: str, description: str | None, replace: bool
) -> int:
    """Register calendar `name` with the sessions in `path`; return how many. Raises IngestError naming the file,
    row and reason for a bad file, and nothing is written."""
    if name in BUILTIN:
        raise IngestError(f"{name} is a built-in calendar; choose another name for yours")
    if not path.exists():
        raise IngestError(f"{path}: no such file")
    try:
        con.execute("SELECT timezone($tz, TIMESTAMP '2000-01-01')", {"tz": tz})
    except duckdb.Error:
        raise IngestError(f"unknown time zone {tz!r}; use an IANA name such as America/New_York") from None
    cells = _read_cells(path)
    sql = _PARSED.format(start=_instant("start_text"), end=_instant("end_text"))
    try:
        con.register("_calendar_cells", cells)
        con.execute(f"CREATE OR REPLACE TEMP TABLE _calendar_file AS {sql}", {"tz": tz})
        con.unregister("_calendar_cells")
        bad = con.execute(_REASONS).fetchall()
        if bad:
            shown = "\n".join(f"  row {row}: {reason}" for row, reason in bad[:_SHOWN])
            more = f"\n  ... and {len(bad) - _SHOWN} more" if len(bad) > _SHOWN else ""
            raise IngestError(
                f"{path}: {len(bad)} bad row(s) (the header is row 1):\n{shown}{more}\nNothing was written."
            )
        n, first, last = con.execute(
            "SELECT count(*), min(trading_day), max(trading_day) FROM _calendar_file"
        ).fetchone()
        if not n:
            raise IngestError(f"{path}: no sessions in the file")
        with write_transaction(con):
            exists = con.execute("SELECT count(*) FROM raw.calendars WHERE name = ?", [name]).fetchone()[0]
            if exists and not replace:
                raise IngestError(f"calendar {name} exists; pass --replace to replace its sessions")
            con.execute("DELETE FROM raw.calendars WHERE name = ?", [name])
            con.execute("DELETE FROM raw.sessions WHERE calendar = ?", [name])
            con.execute(
                "INSERT INTO raw.calendars VALUES (?, ?, ?, ?, ?, ?)",
                [name, tz, f"file {path.resolve()}", first, last, description or f"sessions from {path.name}"],
            )
            con.execute(
                "INSERT INTO raw.sessions SELECT ?, trading_day, session_start, session_end FROM _calendar_file "
                "ORDER BY trading_day",
                [name],
            )
        return n
    finally:
        con.execute("DROP TABLE IF EXISTS _calendar_file")


def _read_cells(path: Path) -> pa.Table:
    """The file's cells as text, with `row` numbered as a spreadsheet shows it (the header is row 1)."""
    from pyarrow import csv

    try:
        names = csv.read_csv(path, read_options=csv.ReadOptions(block_size=1 << 16)).column_names
        table = csv.read_csv(path, convert_options=csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string())))
    except (pa.ArrowInvalid, OSError) as err:
        raise IngestError(f"{path}: not a readable CSV file: {err}") from None
    missing = [c for c in COLUMNS if c not in table.column_names]
    if missing:
        raise IngestError(
            f"{path}: missing column(s) {', '.join(map(quote_ident, missing))}; a calendar file has the columns "
            f"{', '.join(COLUMNS)} (one row per trading day)"
        )
    return table.select(list(COLUMNS)).append_column("row", pa.array(range(2, table.num_rows + 2), pa.int64()))


def list_calendars(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(name, tz, source, first_day, last_day, sessions, symbols, description) per calendar."""
    return con.execute("""
        SELECT c.name, c.tz, c.source, c.first_day, c.last_day,
               (SELECT count(*) FROM raw.sessions s WHERE s.calendar = c.name),
               (SELECT count(*) FROM raw.symbols y WHERE y.calendar = c.name), c.description
        FROM raw.calendars c ORDER BY c.name
    """).fetchall()
