"""Connections to the warehouse for Feast: each retrieval reads the warehouse's last committed snapshot.

The warehouse is a snapshot store (barstore.lake), so a retrieval never waits for a writer, and one running while
`barstore build` commits sees the state before or after that commit, never a mix.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from ..errors import BarstoreError
from ..home import resolve_home
from ..warehouse import connect

if TYPE_CHECKING:
    from feast.repo_config import RepoConfig


def warehouse_path(config: RepoConfig) -> Path:
    """offline_store.warehouse of feature_store.yaml (relative to the feature repo), else $BARSTORE_HOME's."""
    configured = getattr(config.offline_store, "warehouse", "")
    if not configured:
        return resolve_home().warehouse
    path = Path(configured).expanduser()
    if not path.is_absolute() and config.repo_path:
        path = Path(config.repo_path) / path
    return path.resolve()


@contextmanager
def warehouse_connection(path: str | Path) -> Iterator[duckdb.DuckDBPyConnection]:
    """A read-only connection to the warehouse at `path` (TimeZone UTC), closed on exit."""
    path = Path(path).resolve()
    if not path.exists():
        raise BarstoreError(
            f"the warehouse {path} does not exist: ingest bars and build the feature models first "
            "(barstore ingest ..., barstore build), or set offline_store.warehouse in feature_store.yaml"
        )
    with closing(connect(path, read_only=True)) as con:
        yield con
