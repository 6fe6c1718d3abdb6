"""Connections to the warehouse for Feast: reuse the one barstore holds in this process, else read-only.

DuckDB refuses a second connection to one file in one process with a different read_only setting, and
one read-write connection per file at a time across processes. So: a connection shared by barstore
(`barstore.warehouse.share_connection`) is reused through a cursor; otherwise the file is attached read-only,
for this use only, to an in-memory DuckDB kept by the process (~1 ms, where opening and closing a DuckDB instance
takes 15-30 ms); and if that fails, e.g. because this process holds the file read-write (unshared), the
file is opened read-only, DuckDB's instance cache handing back that same database. Detaching after each
use keeps no lock and no data between uses: every retrieval reads the file as it is then.
"""

from __future__ import annotations

import itertools
import tempfile
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from ..errors import BarstoreError
from ..home import resolve_home
from ..warehouse import open_duckdb, shared_cursor

if TYPE_CHECKING:
    from feast.repo_config import RepoConfig

_engine: list[duckdb.DuckDBPyConnection] = []  # the in-memory DuckDB files are attached to, made on first use
_engine_lock = threading.Lock()
_aliases = itertools.count()  # one catalog name per attachment: uses in several threads do not collide


def warehouse_path(config: RepoConfig) -> Path:
    """offline_store.warehouse of feature_store.yaml (relative to the feature repo), else $BARSTORE_HOME's."""
    configured = getattr(config.offline_store, "warehouse", "")
    if not configured:
        return resolve_home().warehouse
    path = Path(configured).expanduser()
    if not path.is_absolute() and config.repo_path:
        path = Path(config.repo_path) / path
    return path.resolve()


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    if not path.exists():
        raise BarstoreError(
            f"the warehouse {path} does not exist: ingest bars and build the feature models first "
            "(barstore ingest ..., barstore build), or set offline_store.warehouse in feature_store.yaml"
        )
    return open_duckdb(path, read_only=True)


def _engine_cursor() -> duckdb.DuckDBPyConnection:
    with _engine_lock:
        if not _engine:
            # an in-memory DuckDB spills into ./.tmp of whatever the working directory is: use the system's
            spill = Path(tempfile.gettempdir()) / "barstore-duckdb"
            _engine.append(duckdb.connect(config={"temp_directory": str(spill)}))
        return _engine[0].cursor()


@contextmanager
def _attached(path: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A cursor of the in-memory engine whose default catalog is `path`, attached read-only until exit;
    the plain read-only connection when attaching fails (its error, if any, says why)."""
    con, alias = _engine_cursor(), f"warehouse_{next(_aliases)}"
    try:
        con.execute(f"ATTACH '{str(path).replace(chr(39), chr(39) * 2)}' AS {alias} (READ_ONLY)")
    except duckdb.Error:
        con.close()
        with closing(_open(path)) as own:
            yield own
        return
    try:
        con.execute(f"USE {alias}")
        yield con
    finally:
        con.execute(f"USE memory; DETACH {alias}")
        con.close()


@contextmanager
def warehouse_connection(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse at `path` (TimeZone UTC), closed (or detached) on exit if this opened it."""
    path = Path(path).resolve()
    shared = shared_cursor(path)
    with closing(shared) if shared else _attached(path) as con:  # a cursor's close leaves the shared one open
        con.execute("SET TimeZone = 'UTC'")
        yield con
