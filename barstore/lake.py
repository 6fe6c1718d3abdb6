"""The snapshot store under the warehouse: a DuckLake (a SQLite catalog plus Parquet data files in the home).

Every commit is a snapshot. A reader attaches the catalog and reads the last committed snapshot, so a writer
(ingest, build) never blocks it, and a writer killed at any instant leaves only unreferenced Parquet files behind
(removed by the next writer, barstore.writer_lock). Attaching `SNAPSHOT_VERSION n` re-reads an old snapshot: a
training run records the id it read.

One in-memory DuckDB per process (the engine) holds the extensions and the memory settings; each connection is a
cursor of it with the lake attached under its own name, detached once the cursor is closed.
"""

from __future__ import annotations

import importlib.util
import itertools
import shutil
import sqlite3
import threading
import time
import weakref
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import duckdb

from .warehouse_settings import WarehouseSettings, warehouse_settings

EXTENSIONS = (("duckdb_extension_sqlite_scanner", "sqlite_scanner"), ("duckdb_extension_ducklake", "ducklake"))
# WAL: with SQLite's default journal a commit fails while a reader holds a transaction (duckdb/ducklake#128).
# OVERRIDE_DATA_PATH: the data folder is wherever the catalog is now, so a home can be moved or copied.
CATALOG_OPTIONS = (
    "META_JOURNAL_MODE 'WAL', META_BUSY_TIMEOUT {busy_ms}, DATA_INLINING_ROW_LIMIT {inline}, OVERRIDE_DATA_PATH true"
)

_engine: list[duckdb.DuckDBPyConnection] = []
_lock = threading.Lock()
_names = itertools.count()
_attached: dict[str, weakref.ref] = {}  # alias -> the cursor using it (weak: a dropped cursor frees it)
_lakes: dict[str, tuple[Path, WarehouseSettings]] = {}  # alias -> its catalog file and the settings it was opened with


def data_path(catalog: Path) -> Path:
    """The folder of the lake's Parquet files, beside its catalog."""
    return catalog.parent / f"{catalog.stem}_files"


def _extension(package: str, name: str) -> str:
    spec = importlib.util.find_spec(package)
    if spec is None or spec.origin is None:
        raise ImportError(f"the {package} package is missing: reinstall barstore (pip install -e .)")
    return str(Path(spec.origin).parent / "extensions" / f"v{duckdb.__version__}" / f"{name}.duckdb_extension")


def engine(settings: WarehouseSettings | None = None) -> duckdb.DuckDBPyConnection:
    """This process's DuckDB, made on first use with `settings` (later calls share it and its settings)."""
    with _lock:
        if not _engine:
            s = settings or warehouse_settings()
            s.temp_directory.mkdir(parents=True, exist_ok=True)
            con = duckdb.connect(config=s.duckdb_config())
            load_extensions(con)
            _engine.append(con)
        return _engine[0]


def load_extensions(con: duckdb.DuckDBPyConnection) -> None:
    """DuckLake and its SQLite catalog, loaded by path: `INSTALL ducklake` would need the internet."""
    for package, name in EXTENSIONS:
        con.execute(f"LOAD '{_extension(package, name)}'")


def attach_statement(
    catalog: Path, name: str, settings: WarehouseSettings, read_only: bool = False, snapshot: int | None = None
) -> str:
    """The ATTACH of the lake at `catalog` under `name`, as every process opens it (a distributed build's tasks
    too)."""
    options = [f"DATA_PATH {_literal(str(data_path(catalog)) + '/')}"]
    options.append(CATALOG_OPTIONS.format(busy_ms=int(settings.busy_timeout * 1000), inline=settings.inline_rows))
    if read_only:
        options.append("READ_ONLY")
    if snapshot is not None:
        options.append(f"SNAPSHOT_VERSION {int(snapshot)}")
    return f"ATTACH {_literal('ducklake:sqlite:' + str(catalog))} AS {name} ({', '.join(options)})"


def _literal(text: str | Path) -> str:
    return "'" + str(text).replace("'", "''") + "'"


def attach(
    catalog: Path,
    read_only: bool = False,
    snapshot: int | None = None,
    settings: WarehouseSettings | None = None,
) -> duckdb.DuckDBPyConnection:
    """A connection whose default catalog is the lake at `catalog` (TimeZone UTC): read-only at its last
    snapshot, or at `snapshot`, when asked."""
    s = settings or warehouse_settings(home=catalog.parent)
    base = engine(s)
    _detach_closed(base)
    con = base.cursor()
    name = f"lake_{next(_names)}"
    con.execute(attach_statement(catalog, name, s, read_only, snapshot))
    con.execute(f"USE {name}")
    con.execute("SET TimeZone = 'UTC'")
    with _lock:
        _attached[name] = weakref.ref(con)
        _lakes[name] = (catalog, s)
    return con


def alias(con: duckdb.DuckDBPyConnection) -> str:
    """The name the connection's lake is attached under (its default catalog)."""
    return con.execute("SELECT current_database()").fetchone()[0]


def lake_of(con: duckdb.DuckDBPyConnection) -> tuple[Path, WarehouseSettings] | None:
    """The catalog file and settings of a connection made by `attach` (None for any other connection)."""
    return _lakes.get(alias(con))


def catalog_of(con: duckdb.DuckDBPyConnection) -> Path | None:
    """The catalog file of a connection made by `attach` (None for any other connection)."""
    found = lake_of(con)
    return found[0] if found else None


def _detach_closed(base: duckdb.DuckDBPyConnection) -> None:
    """Detach the lakes whose cursors were closed since (a closed cursor refuses every statement), and those whose
    catalog file is gone: DuckDB's catalog listings (duckdb_tables(), information_schema) visit every attached
    lake, and one whose catalog was deleted fails them, or crashes the process."""
    with _lock:
        aliases = [(name, ref, _lakes.get(name)) for name, ref in _attached.items()]
    for name, ref, found in aliases:
        con = ref()
        if con is not None:
            if found is not None and not found[0].exists():
                con.close()
            else:
                try:
                    con.execute("SELECT 1")
                    continue
                except duckdb.ConnectionException:
                    pass
        with _lock:
            _attached.pop(name, None)
            _lakes.pop(name, None)
        try:
            base.execute(f"DETACH DATABASE IF EXISTS {name}")
        except duckdb.Error:
            pass  # still in use by a statement of another thread: next time


def committed_relations(con: duckdb.DuckDBPyConnection, name: str | None = None) -> dict[str, str]:
    """'schema.name' -> 'BASE TABLE' or 'VIEW' (as information_schema says) for the connection's lake (or the
    lake attached as `name`) at its last commit, read from the lake's own metadata. duckdb_tables() and
    information_schema would visit every lake attached in the process, and fail on one whose catalog was deleted or
    whose pinned snapshot was expired."""
    meta = f"__ducklake_metadata_{name or alias(con)}"
    rows = con.execute(
        f"SELECT s.schema_name || '.' || r.name, r.kind FROM ("
        f"  SELECT schema_id, table_name AS name, 'BASE TABLE' AS kind FROM {meta}.ducklake_table"
        f"  WHERE end_snapshot IS NULL"
        f"  UNION ALL SELECT schema_id, view_name, 'VIEW' FROM {meta}.ducklake_view WHERE end_snapshot IS NULL"
        f") r JOIN {meta}.ducklake_schema s USING (schema_id) WHERE s.end_snapshot IS NULL"
    ).fetchall()
    return dict(rows)


def detach_all() -> None:
    """Close every connection `attach` made in this process and detach its lake (a test's end)."""
    with _lock:
        cursors = [ref() for ref in _attached.values()]
    for con in cursors:
        if con is not None:
            con.close()
    if _engine:
        _detach_closed(_engine[0])


def snapshot_id(con: duckdb.DuckDBPyConnection) -> int:
    """The snapshot this connection reads (the last committed one unless it was attached at another)."""
    return int(con.execute(f"FROM {alias(con)}.current_snapshot()").fetchone()[0])


def delete_orphans(con: duckdb.DuckDBPyConnection) -> None:
    """Delete the data files no snapshot references (what a writer killed mid-write leaves)."""
    con.execute(f"CALL ducklake_delete_orphaned_files({_literal(alias(con))}, cleanup_all => true)")


def copy_lake(catalog: Path, dest: Path) -> None:
    """Copy the lake at `catalog` to the catalog path `dest` (a consistent copy of the catalog, through SQLite's
    backup, while writers may be at work; then its data files)."""
    with sqlite3.connect(catalog) as src, sqlite3.connect(dest) as out:
        src.backup(out)
    if data_path(catalog).is_dir():  # absent while every commit is small enough to sit in the catalog
        shutil.copytree(data_path(catalog), data_path(dest), dirs_exist_ok=True)


# Files a merge replaced stay on disk this long, for queries that were reading them when it ran.
CLEANUP_GRACE_S = 15 * 60


@dataclass(frozen=True)
class Compaction:
    flushed_rows: int  # inlined rows written out to Parquet
    merged_files: int  # small files merged into larger ones
    expired_snapshots: int
    deleted_files: int
    seconds: float


def compact(con: duckdb.DuckDBPyConnection, retention_s: float, keep: set[int] = frozenset()) -> Compaction:
    """Keep the lake's files few after many small commits: write out inlined rows, merge adjacent small files,
    rewrite files with many deleted rows, expire the snapshots older than `retention_s` (except those in `keep`)
    and delete the files no snapshot references any more. Merged files keep every snapshot's rows, so time
    travel to the snapshots kept still works. The caller holds the writer lock; each step commits on its own."""
    start = time.perf_counter()
    name = alias(con)
    lake = _literal(name)
    flushed = con.execute(f"CALL ducklake_flush_inlined_data({lake})").fetchall()
    merged = con.execute(f"CALL ducklake_merge_adjacent_files({lake})").fetchall()
    con.execute(f"CALL ducklake_rewrite_data_files({lake})").fetchall()
    cutoff = datetime.now(UTC) - timedelta(seconds=retention_s)
    expire = [
        sid
        for (sid,) in con.execute(
            f"SELECT snapshot_id FROM ducklake_snapshots({lake}) WHERE snapshot_time < ? "
            f"AND snapshot_id < (SELECT max(snapshot_id) FROM ducklake_snapshots({lake}))",
            [cutoff],
        ).fetchall()
        if sid not in keep
    ]
    if expire:
        con.execute(f"CALL ducklake_expire_snapshots({lake}, versions => ?)", [expire]).fetchall()
    deleted = _delete_scheduled(con, name, catalog_of(con))
    return Compaction(
        flushed_rows=sum(int(r[-1] or 0) for r in flushed),
        merged_files=sum(int(r[2] or 0) for r in merged),
        expired_snapshots=len(expire),
        deleted_files=deleted,
        seconds=time.perf_counter() - start,
    )


def _delete_scheduled(con: duckdb.DuckDBPyConnection, name: str, catalog: Path | None) -> int:
    """Delete the files DuckLake scheduled for deletion more than CLEANUP_GRACE_S ago. Done here because
    `ducklake_cleanup_old_files(older_than => ...)` of 1.5.5 deletes files scheduled a moment ago as well."""
    if catalog is None:
        return 0
    table = f"__ducklake_metadata_{name}.ducklake_files_scheduled_for_deletion"
    cutoff = datetime.now(UTC) - timedelta(seconds=CLEANUP_GRACE_S)
    rows = con.execute(
        f"SELECT data_file_id, path, path_is_relative FROM {table} WHERE CAST(schedule_start AS TIMESTAMPTZ) < ?",
        [cutoff],
    ).fetchall()
    for _, path, relative in rows:
        (data_path(catalog) / path if relative else Path(path)).unlink(missing_ok=True)
    if rows:
        con.execute(f"DELETE FROM {table} WHERE list_contains(?, data_file_id)", [[r[0] for r in rows]])
    return len(rows)


def data_files(catalog: Path) -> int:
    """How many Parquet files the lake holds on disk (referenced or awaiting deletion)."""
    folder = data_path(catalog)
    return sum(1 for _ in folder.rglob("*.parquet")) if folder.is_dir() else 0
