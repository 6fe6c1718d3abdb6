"""The warehouse: a snapshot store (barstore.lake) holding the raw schema, the SQL models and meta tables.

`connect` gives a connection on its last committed snapshot; `write_transaction` is the only way to change it
(one writer at a time, all or nothing). DuckLake declares no keys, indexes or sequences: uniqueness is kept by
the writers, which run one at a time."""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

from . import calendars, lake
from .checkpoints import trained_snapshots
from .errors import BarstoreError
from .home import Workspace
from .warehouse_settings import WarehouseSettings, warehouse_settings
from .writer_lock import writer_lock

COMPACTED = ".compacted"  # beside the catalog: its modification time is the last compaction's
OLD_LAYOUT = "warehouse.duckdb"  # one DuckDB file in the home: the layout before the snapshot store

RAW_SCHEMA = """
CREATE SCHEMA IF NOT EXISTS raw;
CREATE SCHEMA IF NOT EXISTS meta;

-- Session calendars (barstore/calendars.py): resampling, labels and the spine need each symbol's sessions.
CREATE TABLE IF NOT EXISTS raw.calendars (
    name        VARCHAR NOT NULL,  -- unique
    tz          VARCHAR NOT NULL,  -- zone the sessions are written in; daily bars dated at its midnight
    source      VARCHAR NOT NULL,  -- 'exchange_calendars <version> <code>', 'rule' or 'file <path>'
    first_day   DATE,              -- raw.sessions holds every trading day in [first_day, last_day]
    last_day    DATE,
    description VARCHAR
);

-- One row per (calendar, trading_day): the session [session_start, session_end), UTC. Days absent
-- inside a calendar's [first_day, last_day] are closed (weekends, holidays).
CREATE TABLE IF NOT EXISTS raw.sessions (
    calendar      VARCHAR NOT NULL,
    trading_day   DATE NOT NULL,
    session_start TIMESTAMPTZ NOT NULL,
    session_end   TIMESTAMPTZ NOT NULL
);

CREATE TABLE IF NOT EXISTS raw.symbols (
    symbol     VARCHAR NOT NULL,  -- unique
    calendar   VARCHAR NOT NULL,
    root       VARCHAR,   -- futures root for contracts (e.g. NQ for ENQ.H24); NULL otherwise
    expiry     DATE,      -- contract expiry, for the roll's fixed-date fallback
    created_at TIMESTAMPTZ
);

-- Uniqueness of (symbol, timeframe, ts) is the primary key; ingest enforces it with an anti-join
-- instead of a declared ART index, which made bulk inserts 10x slower (see BENCHMARKS.md).
-- Futures roots: the continuous series' roll settings (see barstore/contracts.py, sql/contracts/).
CREATE TABLE IF NOT EXISTS raw.futures_roots (
    root             VARCHAR NOT NULL,  -- unique: symbol of the continuous series, e.g. NQ
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
-- batch_id: one more than the largest so far (taken under the write lock).
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
    model         VARCHAR NOT NULL,  -- unique
    sql_hash      VARCHAR NOT NULL,
    last_batch_id BIGINT,
    mode          VARCHAR NOT NULL,
    rows          BIGINT,
    seconds       DOUBLE,
    built_at      TIMESTAMPTZ NOT NULL
);
"""


def quote_ident(name: str) -> str:
    """A SQL identifier, quoted."""
    return '"' + name.replace('"', '""') + '"'


def _refuse_old_layout(catalog: Path) -> None:
    old = catalog.parent / OLD_LAYOUT
    if old.exists() and not catalog.exists():
        raise BarstoreError(
            f"{old} is a warehouse in the single-file layout, which let one writer lock out every reader; "
            f"this version keeps the warehouse as snapshots ({catalog.name} + {lake.data_path(catalog).name}/). "
            f"Run `barstore migrate --home {catalog.parent}` once to move its bars into it, then `barstore build`."
        )


_pinned: dict[Path, int] = {}  # catalog -> the snapshot read-only connections read (reading_snapshot)


@contextmanager
def reading_snapshot(path: Path, snapshot: int) -> Iterator[None]:
    """Within the block, read-only connections to this warehouse read `snapshot` (Feast's offline store opens
    its own: so a training run's spine, labels and features all come from one snapshot)."""
    path = Path(path).resolve()
    before = _pinned.get(path)
    _pinned[path] = snapshot
    try:
        yield
    finally:
        if before is None:
            _pinned.pop(path, None)
        else:
            _pinned[path] = before


def current_snapshot(path: Path) -> int:
    """The id of the warehouse's last committed snapshot."""
    con = connect(path, read_only=True)
    try:
        return lake.snapshot_id(con)
    finally:
        con.close()


def connect(
    path: Path, read_only: bool = False, snapshot: int | None = None, settings: WarehouseSettings | None = None
) -> duckdb.DuckDBPyConnection:
    """A connection to the warehouse whose catalog is `path` (barstore.home: <home>/warehouse.ducklake), on its
    last committed snapshot (or `snapshot`, or the one reading_snapshot pinned for read-only connections); made
    with the raw schema on first use."""
    path = Path(path).resolve()
    _refuse_old_layout(path)
    if read_only and snapshot is None:
        snapshot = _pinned.get(path)
    settings = settings or warehouse_settings(home=path.parent)
    if not path.exists() or not read_only:
        con = lake.attach(path, settings=settings)
        if _missing_tables(con):
            with write_transaction(con):
                if _missing_tables(con):  # another writer may have made them while this one waited
                    init_schema(con)
        if not read_only and snapshot is None:
            return con
        con.close()
    return lake.attach(path, read_only=True, snapshot=snapshot, settings=settings)


_SCHEMA_TABLES = sorted(re.findall(r"CREATE TABLE IF NOT EXISTS (\w+\.\w+)", RAW_SCHEMA))


def _missing_tables(con) -> bool:
    return bool(set(_SCHEMA_TABLES) - set(lake.committed_relations(con)))


def _columns(con, table: str) -> list[str] | None:
    """A table's column names in the connection's own catalog, None when it has no such table (a probe: see
    lake.committed_relations). Python replacement scans are off for it, or a missing table would be looked for among
    the caller's variables."""
    database = lake.alias(con)
    replacements = con.execute("SELECT current_setting('python_enable_replacements')").fetchone()[0]
    con.execute("SET python_enable_replacements = false")
    try:
        return [d[0] for d in con.execute(f'SELECT * FROM "{database}".{table} LIMIT 0').description]
    except duckdb.CatalogException:
        return None
    finally:
        con.execute(f"SET python_enable_replacements = {str(replacements).lower()}")


_in_transaction: set[int] = set()  # ids of connections inside write_transaction


@contextmanager
def write_transaction(con: duckdb.DuckDBPyConnection, on_wait=None) -> Iterator[None]:
    """Change the warehouse: hold the write lock, run the block in one transaction, commit (or roll back on any
    error). A write nested in another on the same connection joins it."""
    if id(con) in _in_transaction:
        yield
        return
    catalog, settings = _lake_of(con, "write_transaction")
    with writer_lock(catalog, settings.writer_wait, on_wait) as crashed:
        if crashed:  # the last writer died mid-write: its Parquet files are referenced by no snapshot
            lake.delete_orphans(con)
        con.execute("BEGIN TRANSACTION")
        _in_transaction.add(id(con))
        try:
            yield
            _crash_point("before_commit")
            con.execute("COMMIT")
            _crash_point("after_commit")
        except BaseException:
            con.execute("ROLLBACK")
            raise
        finally:
            _in_transaction.discard(id(con))


def _crash_point(name: str) -> None:
    """Fault injection for the crash tests: $BARSTORE_CRASH_AT=NAME kills this process there, as kill -9 would."""
    if os.environ.get("BARSTORE_CRASH_AT") == name:
        os.kill(os.getpid(), signal.SIGKILL)


def compact_warehouse(con: duckdb.DuckDBPyConnection, on_wait=None) -> lake.Compaction | None:
    """Compact the warehouse after a build (barstore.lake.compact), under the writer lock; None inside a caller's
    write transaction (compaction commits step by step: the next build outside one compacts)."""
    if id(con) in _in_transaction:
        return None
    catalog, settings = _lake_of(con, "compact_warehouse")
    stamp = catalog.with_name(catalog.name + COMPACTED)
    if stamp.exists() and time.time() - stamp.stat().st_mtime < settings.compact_interval:
        return None
    keep = trained_snapshots(Workspace(catalog.parent).models_dir)
    with writer_lock(catalog, settings.writer_wait, on_wait):
        done = lake.compact(con, settings.snapshot_retention, keep)
    stamp.touch()
    return done


def _lake_of(con: duckdb.DuckDBPyConnection, what: str) -> tuple[Path, WarehouseSettings]:
    """The catalog and the settings `connect` opened this connection with (so --project-dir's hold throughout)."""
    found = lake.lake_of(con)
    if found is None:
        raise BarstoreError(f"{what} needs a connection from barstore.warehouse.connect")
    return found


def query_arrow(con: duckdb.DuckDBPyConnection, sql: str, params=None, **relations):
    """A query's result as an Arrow table, on a connection the caller may have used before; `relations` (Arrow
    tables or frames) are registered under their keyword names for the query only."""
    for name, relation in relations.items():
        con.register(name, relation)
    try:
        return con.sql(sql, params=params).to_arrow_table()
    finally:
        for name in relations:
            con.unregister(name)


def init_schema(con: duckdb.DuckDBPyConnection) -> None:
    """The raw and meta tables and the built-in calendars (inside the caller's write transaction)."""
    upgrade = _has_weekday_calendars(con)
    if upgrade:  # the weekday templates before raw.sessions: their rows are replaced by real sessions
        con.execute("DROP TABLE raw.calendars")
    con.execute(RAW_SCHEMA)
    calendars.register_builtin(con)
    if upgrade:
        calendars.cover_stored_bars(con)


def _has_weekday_calendars(con) -> bool:
    return "weekdays" in (_columns(con, "raw.calendars") or [])


def calendar_names(con: duckdb.DuckDBPyConnection) -> list[str]:
    return [r[0] for r in con.execute("SELECT name FROM raw.calendars ORDER BY name").fetchall()]
