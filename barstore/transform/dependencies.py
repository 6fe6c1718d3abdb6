"""Which tables a model's query reads, from its parse tree (sqlglot, DuckDB dialect).

sqlglot's scope analysis tells a real table from a CTE or a derived table of the same name, which a plain
search for table nodes cannot do.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from contextlib import contextmanager
from pathlib import Path

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.optimizer.scope import traverse_scope

from ..errors import ModelError

DIALECT = "duckdb"
BUILD_WINDOW = "build_window"  # the runner's temp table of symbols to (re)compute; never a dependency


def parse_query(sql: str, shown: str) -> exp.Expression:
    try:
        statements = [s for s in sqlglot.parse(sql, dialect=DIALECT) if s is not None]
    except SqlglotError as err:
        raise ModelError(f"{shown}: cannot parse the SQL: {err}") from None
    if len(statements) != 1:
        raise ModelError(f"{shown}: expected exactly one SELECT statement, found {len(statements)}")
    query = statements[0]
    if not isinstance(query, exp.Query):
        raise ModelError(f"{shown}: a model must be a SELECT query, found {query.key.upper()}")
    return query


def table_name(table: exp.Table) -> str:
    """Lower-cased dotted name as written: `bars_1m`, `raw.bars`, `main.bars_1m` is `bars_1m`."""
    parts = [p.name.lower() for p in table.parts]
    if len(parts) == 2 and parts[0] == "main":  # the schema models live in
        parts = parts[1:]
    return ".".join(parts)


def tables_read(sql: str, shown: str = "<query>", keep_window: bool = False) -> set[str]:
    """Names of the tables (and views) a query reads, excluding its CTEs, table functions and (unless
    keep_window) build_window."""
    query = parse_query(sql, shown)
    try:
        with _quiet_sqlglot():
            scopes = traverse_scope(query)
    except SqlglotError as err:
        raise ModelError(f"{shown}: cannot analyse the SQL: {err}") from None
    tables = [source for scope in scopes for source in scope.sources.values() if isinstance(source, exp.Table)]
    # sqlglot cannot scope a CTE whose body is not a SELECT (DuckDB's `x AS (PIVOT ...)`): read those bodies
    # plainly, and never count such a CTE's name as a table.
    ctes = list(query.find_all(exp.CTE))
    cte_names = {cte.alias_or_name.lower() for cte in ctes}
    for cte in ctes:
        if not isinstance(cte.this, exp.Query):
            tables.extend(cte.this.find_all(exp.Table))
    names: set[str] = set()
    for table in tables:
        # A table function such as read_parquet(...) is a Table whose `this` is a call, not a name.
        if not isinstance(table.this, exp.Identifier):
            continue
        name = table_name(table)
        if name in cte_names or (name == BUILD_WINDOW and not keep_window):
            continue
        names.add(name)
    return names


@contextmanager
def _quiet_sqlglot():
    """sqlglot logs a warning for each scope it cannot traverse; tables_read handles those itself."""
    logger = logging.getLogger("sqlglot")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


# Part of the cache key: a change to this file (how tables are found) must not reuse older answers.
_ANALYSIS_VERSION = hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def cached_tables_read(sql: str, shown: str = "<query>", keep_window: bool = False) -> set[str]:
    """tables_read, remembered on disk by the query's hash: parsing every model with sqlglot costs ~0.1 s a
    build, a tenth of an incremental build. The key covers the query, the sqlglot version and this module's
    source, so an entry can never be stale."""
    key = hashlib.sha256(f"{sqlglot.__version__}|{_ANALYSIS_VERSION}|{keep_window}|{sql}".encode()).hexdigest()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "barstore" / "tables_read"
    entry = cache / f"{key}.json"
    try:
        return set(json.loads(entry.read_text()))
    except (OSError, ValueError):
        pass
    names = tables_read(sql, shown, keep_window)
    try:
        cache.mkdir(parents=True, exist_ok=True)
        tmp = entry.with_suffix(f".{os.getpid()}.tmp")
        tmp.write_text(json.dumps(sorted(names)))
        tmp.replace(entry)  # atomic: concurrent builds never read half a file
    except OSError:
        pass  # a read-only home only costs the parse
    return names
