"""`barstore migrate`: move a warehouse of the single-file layout (warehouse.duckdb) into the snapshot store.

Only what cannot be rebuilt moves: the raw tables (bars, rejected rows, symbols, futures roots, the ingest
log). The SQL models are rebuilt by the next `barstore build` (meta.model_runs is left behind, so that build
is a full one). DuckDB reads only files of its own storage versions, and the single-file layout was written by
DuckDB 2.0: when this DuckDB cannot open the file, a DuckDB 2.0 installed beside the home exports it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import duckdb

from . import lake
from .calendars import cover_stored_bars
from .errors import BarstoreError
from .warehouse import OLD_LAYOUT, init_schema, write_transaction

# the built-in calendars are written by init_schema, not moved
TABLES = ("raw.symbols", "raw.futures_roots", "raw.bars", "raw.rejected_bars", "raw.ingest_log")
EXPORTER_DUCKDB = "duckdb==2.0.0"  # the version that wrote the single-file layout
EXPORT_SCRIPT = """
import duckdb, json, sys
con = duckdb.connect(sys.argv[1], read_only=True)
out, tables = sys.argv[2], json.loads(sys.argv[3])
present = {f"{s}.{t}" for s, t in con.execute("SELECT schema_name, table_name FROM duckdb_tables()").fetchall()}
for name in tables:
    if name in present:
        con.execute(f"COPY {name} TO '{out}/{name}.parquet' (FORMAT parquet)")
"""


@dataclass(frozen=True)
class Migrated:
    rows: dict[str, int]
    backup: Path
    exporter: str  # which DuckDB read the old file


def migrate_home(home: Path, catalog: Path, show=print) -> Migrated:
    old = home / OLD_LAYOUT
    if not old.exists():
        raise BarstoreError(f"nothing to migrate: {home} has no {OLD_LAYOUT}")
    if catalog.exists():
        raise BarstoreError(f"{catalog} exists already: this home was migrated (its old file: {old})")
    with tempfile.TemporaryDirectory(dir=home, prefix=".migrate-") as tmp:
        exporter = _export(old, Path(tmp), home, show)
        rows = _import(catalog, Path(tmp))
    backup = old.with_name(old.name + ".migrated")
    old.rename(backup)
    for suffix in (".wal",):
        side = old.with_name(old.name + suffix)
        if side.exists():
            side.rename(backup.with_name(backup.name + suffix))
    return Migrated(rows, backup, exporter)


def _export(old: Path, out: Path, home: Path, show) -> str:
    try:
        con = duckdb.connect(str(old), read_only=True)
    except duckdb.Error as err:
        if "version" not in str(err).lower():
            raise BarstoreError(f"{old}: cannot be read: {err}") from None
    else:
        con.close()
        _run_export([sys.executable], old, out, {})
        return f"duckdb {duckdb.__version__}"
    target = home / ".migrate-duckdb"
    if not (target / "duckdb").is_dir():
        show(f"{old} was written by a newer DuckDB: installing {EXPORTER_DUCKDB} into {target} to export it")
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "-q", "--target", str(target), EXPORTER_DUCKDB],
            check=True,
        )
    _run_export([sys.executable, "-S"], old, out, {"PYTHONPATH": str(target)})
    return EXPORTER_DUCKDB


def _run_export(python: list[str], old: Path, out: Path, env: dict[str, str]) -> None:
    result = subprocess.run(
        [*python, "-c", EXPORT_SCRIPT, str(old), str(out), json.dumps(TABLES)],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
    )
    if result.returncode != 0:
        raise BarstoreError(f"{old}: the export failed: {result.stderr.strip().splitlines()[-1:]}")


def _import(catalog: Path, exported: Path) -> dict[str, int]:
    con = lake.attach(catalog)
    rows = {}
    try:
        with write_transaction(con):
            init_schema(con)
            for name in TABLES:
                path = exported / f"{name}.parquet"
                if not path.exists():
                    continue
                file = str(path).replace("'", "''")
                con.execute(f"INSERT INTO {name} BY NAME SELECT * FROM read_parquet('{file}')")
                rows[name] = con.execute(f"SELECT count(*) FROM {name}").fetchone()[0]
            cover_stored_bars(con)
    finally:
        con.close()
    return rows
