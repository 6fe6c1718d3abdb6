"""The DuckDB warehouse: opening it (with a plain message when it is locked) and its raw schema."""

from __future__ import annotations

import re
from pathlib import Path

import duckdb

from .errors import WarehouseLocked

RAW_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS meta;

-- Session calendars: resampling needs each symbol's trading day and session hours.
CREATE TABLE IF NOT EXISTS raw.calendars (
    name          VARCHAR PRIMARY KEY,
    tz            VARCHAR NOT NULL,   -- zone the session hours are written in
    assign_from   INTERVAL NOT NULL,  -- a bar belongs to trading day D when ts >= D + assign_from (local)
    session_open  INTERVAL NOT NULL,  -- D + session_open (local) = session start; may be negative (previous evening)
    session_close INTERVAL NOT NULL,  -- D + session_close (local) = session end
    weekdays      VARCHAR NOT NULL,   -- ISO weekdays (1=Mon) that are trading days
    description   VARCHAR
);

CREATE TABLE IF NOT EXISTS raw.symbols (
    symbol     VARCHAR PRIMARY KEY,
    calendar   VARCHAR NOT NULL,
    root       VARCHAR,   -- futures root for contracts (e.g. NQ for ENQ.H24); NULL otherwise
    expiry     DATE,      -- contract expiry, for the roll's fixed-date fallback
    created_at TIMESTAMPTZ DEFAULT current_timestamp
);

-- Uniqueness of (symbol, timeframe, ts) is the primary key; ingest enforces it with an anti-join
-- instead of a declared ART index, which made bulk inserts 10x slower (see BENCHMARKS.md).
-- Futures roots: the continuous series' roll settings (see barstore/contracts.py, sql/contracts/).
CREATE TABLE IF NOT EXISTS raw.futures_roots (
    root             VARCHAR PRIMARY KEY,  -- symbol of the continuous series, e.g. NQ
    back_adjust      BOOLEAN NOT NULL DEFAULT false,  -- additive back-adjustment of continuous_bars
    roll_offset_days INTEGER NOT NULL DEFAULT 8       -- fixed-date roll: expiry - this many calendar days
);

CREATE TABLE IF NOT EXISTS raw.bars (
    symbol      VARCHAR NOT NULL,
    timeframe   VARCHAR NOT NULL,
    ts          TIMESTAMPTZ NOT NULL,  -- bar START, UTC, microseconds
    open        DOUBLE NOT NULL,
    high        DOUBLE NOT NULL,
    low         DOUBLE NOT NULL,
    close       DOUBLE NOT NULL,
    volume      DOUBLE NOT NULL,
    source      VARCHAR,
    ingested_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.rejected_bars (
    source      VARCHAR NOT NULL,
    row_number  BIGINT NOT NULL,      -- 1-based, as a spreadsheet shows it (header = row 1 in CSV)
    reason      VARCHAR NOT NULL,
    record      VARCHAR,              -- the row as read, JSON
    symbol      VARCHAR,
    timeframe   VARCHAR,
    rejected_at TIMESTAMPTZ NOT NULL
);

-- One row per (ingest batch, symbol, timeframe): incremental builds read what changed from here.
CREATE SEQUENCE IF NOT EXISTS raw.batch_seq;
CREATE TABLE IF NOT EXISTS raw.ingest_log (
    batch_id      BIGINT NOT NULL,
    source        VARCHAR NOT NULL,
    symbol        VARCHAR NOT NULL,
    timeframe     VARCHAR NOT NULL,
    rows_read     BIGINT NOT NULL,
    rows_inserted BIGINT NOT NULL,
    rows_replaced BIGINT NOT NULL,
    min_ts        TIMESTAMPTZ,
    max_ts        TIMESTAMPTZ,
    ingested_at   TIMESTAMPTZ NOT NULL
);

-- Never read: the (empty) batch source Feast requires for the online window views (feature_repo/).
CREATE TABLE IF NOT EXISTS meta.online_windows (
    symbol          VARCHAR,
    event_timestamp TIMESTAMPTZ,
    "window"        DOUBLE[],
    window_end_us   BIGINT,
    steps           BIGINT,
    n_features      BIGINT
);

CREATE TABLE IF NOT EXISTS meta.model_runs (
    model         VARCHAR PRIMARY KEY,
    sql_hash      VARCHAR NOT NULL,
    last_batch_id BIGINT,
    mode          VARCHAR NOT NULL,
    rows          BIGINT,
    seconds       DOUBLE,
    built_at      TIMESTAMPTZ NOT NULL
);
"""

CALENDARS = [
    # name, tz, assign_from, session_open, session_close, weekdays, description
    ("crypto_24x7", "UTC", "0 hours", "0 hours", "24 hours", "1234567", "UTC days, every day"),
    (
        "us_rth",
        "America/New_York",
        "0 hours",
        "9 hours 30 minutes",
        "16 hours",
        "12345",
        "US regular trading hours 09:30-16:00 New York, Mon-Fri",
    ),
    (
        "cme_globex",
        "America/New_York",
        "-7 hours",
        "-6 hours",
        "17 hours",
        "12345",
        "CME Globex: 18:00 previous evening to 17:00 New York, labelled by the day it ends; "
        "Sunday evening opens Monday",
    ),
]


def _locked_message(path: Path, err: Exception) -> str:
    holder = re.search(r"PID (\d+)", str(err))
    who = f"process {holder.group(1)}" if holder else "another process"
    return (
        f"the warehouse {path} is locked by {who} (DuckDB allows one writer at a time). "
        "Wait for that command to finish or stop it, then run this again; "
        "read-only queries can use `barstore sql` once the writer is done."
    )


def quote_ident(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def open_duckdb(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """A DuckDB connection to `path` (TimeZone UTC), with a plain error when another process holds the lock.

    A read-only request while this process already holds the file read-write gets that database instead:
    DuckDB refuses a second connection to one file with a different configuration."""
    try:
        con = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as err:
        if "lock" in str(err).lower():
            raise WarehouseLocked(_locked_message(path, err)) from None
        raise
    except duckdb.ConnectionException as err:
        if not read_only or "different configuration" not in str(err):
            raise
        con = duckdb.connect(str(path))
    con.execute("SET TimeZone = 'UTC'")
    return con


def connect(path: Path, read_only: bool = False) -> duckdb.DuckDBPyConnection:
    """Open the warehouse, creating the raw schema on first use."""
    path = Path(path)
    if read_only and not path.exists():
        read_only = False  # nothing to read yet: create it
    con = open_duckdb(path, read_only)
    if not read_only:
        init_schema(con)
        # Feast retrieval in this process (barstore.feast_warehouse) reuses this connection
        share_connection(path, con)
    return con


# Connections barstore holds read-write in this process, by file: DuckDB refuses a second connection with a
# different configuration, so readers in the same process (Feast retrieval) take a cursor of these instead.
_shared: dict[Path, duckdb.DuckDBPyConnection] = {}


def share_connection(path: str | Path, con: duckdb.DuckDBPyConnection) -> None:
    """Let readers in this process (Feast retrieval) run on `con`, this process's own connection to `path`."""
    _shared[Path(path).resolve()] = con


def shared_cursor(path: Path) -> duckdb.DuckDBPyConnection | None:
    """A cursor of the connection shared for `path`, or None when there is none (or it was closed)."""
    con = _shared.get(path)
    if con is None:
        return None
    try:
        return con.cursor()
    except duckdb.ConnectionException:  # closed since it was shared
        _shared.pop(path, None)
        return None


def query_arrow(con: duckdb.DuckDBPyConnection, sql: str, params=None, **relations):
    """A query's result as an Arrow table, on a connection the caller may have used before; `relations` (Arrow
    tables or frames) are registered under their keyword names for the query only.

    DuckDB 2.x refuses `con.sql(...)` while an earlier `con.execute(...)` result is not fetched to its end (e.g.
    after `.fetchone()`: ResourceInUseException); `complete()` runs that one out first. (`con.execute` would
    discard it too, but its Arrow output is an extra copy of the rows.)"""
    con.complete()
    for name, relation in relations.items():
        con.register(name, relation)
    try:
        return con.sql(sql, params=params).to_arrow_table()
    finally:
        for name in relations:
            con.unregister(name)


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(RAW_SCHEMA)
    con.executemany(
        "INSERT INTO raw.calendars VALUES (?, ?, ?::INTERVAL, ?::INTERVAL, ?::INTERVAL, ?, ?) "
        "ON CONFLICT (name) DO NOTHING",
        CALENDARS,
    )


def calendar_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT name FROM raw.calendars ORDER BY name").fetchall()]
