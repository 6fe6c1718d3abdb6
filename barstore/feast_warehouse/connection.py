"""Connections to the warehouse for Feast: reuse the one barstore holds in this process, else open read-only.

DuckDB refuses a second connection to one file in one process with a different read_only setting, and
one read-write connection per file at a time across processes. So: a connection shared by barstore
(`share_connection`) is reused through a cursor; otherwise the file is opened read-only, and if this
process already holds it read-write (unshared), DuckDB's instance cache hands back that same database.
"""

from __future__ import annotations

from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Iterator

import duckdb

from ..errors import BarstoreError
from ..home import resolve_home
from ..warehouse import open_duckdb

if TYPE_CHECKING:
    from feast.repo_config import RepoConfig

_shared: dict[Path, duckdb.DuckDBPyConnection] = {}


def warehouse_path(config: RepoConfig) -> Path:
    """offline_store.warehouse of feature_store.yaml (relative to the feature repo), else $BARSTORE_HOME's."""
    configured = getattr(config.offline_store, "warehouse", "")
    if not configured:
        return resolve_home().warehouse
    path = Path(configured).expanduser()
    if not path.is_absolute() and config.repo_path:
        path = Path(config.repo_path) / path
    return path.resolve()


def share_connection(path: str | Path, con: duckdb.DuckDBPyConnection) -> None:
    """Let Feast retrieval in this process run on `con` (barstore's own connection to `path`)."""
    _shared[Path(path).resolve()] = con


def _shared_cursor(path: Path) -> duckdb.DuckDBPyConnection | None:
    con = _shared.get(path)
    if con is None:
        return None
    try:
        return con.cursor()
    except duckdb.ConnectionException:  # closed since it was shared
        _shared.pop(path, None)
        return None


def _open(path: Path) -> duckdb.DuckDBPyConnection:
    if not path.exists():
        raise BarstoreError(
            f"the warehouse {path} does not exist: ingest bars and build the feature models first "
            "(barstore ingest ..., barstore build), or set offline_store.warehouse in feature_store.yaml"
        )
    return open_duckdb(path, read_only=True)


@contextmanager
def warehouse_connection(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection to the warehouse at `path` (TimeZone UTC), closed on exit if this opened it."""
    path = Path(path).resolve()
    con = _shared_cursor(path) or _open(path)
    try:
        con.execute("SET TimeZone = 'UTC'")
        yield con
    finally:
        con.close()  # a cursor's close leaves the shared connection open
