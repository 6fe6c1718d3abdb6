"""Incremental builds: what changed since a model was last built, and the `build_window` that says so.

The contract between the runner and the SQL models
--------------------------------------------------
Before it runs ANY model the runner (re)creates the temp table

    build_window(symbol VARCHAR, since TIMESTAMPTZ)

which lists the symbols to (re)compute and, for each, the first timestamp whose output rows must be
recomputed.

* Full build (every table model; an incremental model's first build, --full-refresh, a changed query or
  header setting, a missing target, or a parent that was itself fully rebuilt in this run):
  build_window holds every symbol of raw.symbols with since = '-infinity'. The target is replaced by
  `CREATE OR REPLACE TABLE <model> AS <query>`.

* Incremental build of model M (materialized: incremental):
    changed(s)    = the first change in raw.ingest_log rows with batch_id > M.last_batch_id, moved back to the
                    last bar stored before it (see CHANGED_SQL); a changed futures contract changes its root
                    from '-infinity'; symbols added to raw.symbols since M's last build get '-infinity'.
    since(M, s)   = min over M's parents P of since(P, s), minus M's `lookback`,
                    where since(raw source) = changed(s) and a model parent passes through
                    min over ITS parents minus its own lookback (a table/view has lookback 0 unless it says
                    otherwise). Symbols without changes are absent. An empty window = "up to date": skipped.
  Then, in the build transaction:
    DELETE FROM M WHERE <partition_column> = w.symbol AND <time_column> >= w.since      (per symbol)
    INSERT INTO M SELECT * FROM (<query>) WHERE <time_column> >= since of its symbol

What the model's query must do: join build_window to its sources and read every source row it needs to
compute correct output rows at or after `since` -- typically
    FROM raw.bars b JOIN build_window w USING (symbol) WHERE b.ts >= w.since - <margin>
with a margin covering the widest window/bucket the query looks back over (a 5-minute bucket starting
before `since`, a 20-bar rolling mean...). Output rows before `since` may be computed from partial input:
the runner discards them, so the margin only has to make rows at or after `since` exact. `lookback`
widens the recomputed range itself, for outputs that depend on LATER input (e.g. a daily bar whose
bucket starts before the changed minute: lookback 1 day recomputes it).

Tables and views downstream of an incremental model are rebuilt in full as usual. A model fully rebuilt
in a run makes its incremental children rebuild in full too; descendants not selected in that run lose
their meta.model_runs row, so their next build is a full one (they may have read the old contents).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from ..warehouse import quote_ident
from .dependencies import BUILD_WINDOW
from .project import Model, Project


@dataclass(frozen=True)
class RunRecord:
    """A model's row of meta.model_runs: what its last build saw."""

    sql_hash: str
    last_batch_id: int | None
    mode: str
    built_at: datetime


def last_runs(con: duckdb.DuckDBPyConnection) -> dict[str, RunRecord]:
    rows = con.execute("SELECT model, sql_hash, last_batch_id, mode, built_at FROM meta.model_runs").fetchall()
    return {r[0]: RunRecord(*r[1:]) for r in rows}


def max_batch_id(con: duckdb.DuckDBPyConnection) -> int:
    return con.execute("SELECT coalesce(max(batch_id), 0) FROM raw.ingest_log").fetchone()[0]


def full_build_reason(
    model: Model, record: RunRecord | None, full_refresh: bool, target_exists: bool, parent_reset: bool
) -> str | None:
    """Why the model must be computed from scratch in this run, or None when an increment will do."""
    if full_refresh:
        return "--full-refresh"
    if record is None:
        return "first build"
    if record.sql_hash != model.sql_hash:
        return "query changed"
    if not target_exists:
        return "target missing"
    if parent_reset:
        return "a parent was rebuilt in full"
    return None


# What changed per symbol since the model's last build (batch > $last_batch):
# - from the last bar stored BEFORE the first new/replaced bar: a bar that was still forming at the old end
#   of the data (even across a gap) becomes complete only now, and its outputs must be recomputed;
# - a futures contract's change re-rolls its root's whole continuous series (rolls, back-adjustment);
# - symbols registered since the last build start from -infinity.
CHANGED_SQL = """
WITH batches AS (
    SELECT symbol, timeframe, min(min_ts) AS min_ts FROM raw.ingest_log
    WHERE batch_id > $last_batch AND min_ts IS NOT NULL GROUP BY symbol, timeframe
),
from_previous_bar AS (
    SELECT l.symbol, coalesce(max(b.ts), l.min_ts) AS since
    FROM batches AS l
    LEFT JOIN raw.bars AS b ON b.symbol = l.symbol AND b.timeframe = l.timeframe AND b.ts < l.min_ts
    GROUP BY l.symbol, l.timeframe, l.min_ts
)
SELECT symbol, min(since) AS since FROM from_previous_bar GROUP BY symbol
UNION ALL
SELECT DISTINCT s.root, '-infinity'::TIMESTAMPTZ
FROM batches AS l JOIN raw.symbols AS s ON s.symbol = l.symbol WHERE s.root IS NOT NULL
UNION ALL
SELECT symbol, '-infinity'::TIMESTAMPTZ FROM raw.symbols WHERE created_at > $built_at
"""


def fill_full_window(con: duckdb.DuckDBPyConnection, symbols: list[str] | None = None) -> None:
    """Every symbol (or `symbols`) from -infinity."""
    _create_window(con)
    con.execute(
        f"INSERT INTO {BUILD_WINDOW} SELECT symbol, '-infinity'::TIMESTAMPTZ FROM raw.symbols "
        "WHERE $symbols IS NULL OR list_contains($symbols, symbol)",
        {"symbols": symbols},
    )


def symbol_batches(con: duckdb.DuckDBPyConnection, size: int) -> list[list[str]] | None:
    """raw.symbols in batches of `size` (None when one batch holds them all)."""
    symbols = [r[0] for r in con.execute("SELECT symbol FROM raw.symbols ORDER BY symbol").fetchall()]
    if size <= 0 or len(symbols) <= size:
        return None
    return [symbols[i : i + size] for i in range(0, len(symbols), size)]


def fill_incremental_window(con: duckdb.DuckDBPyConnection, project: Project, model: Model, record: RunRecord) -> int:
    """Fill build_window with since(model, symbol) as described above; returns how many symbols it holds."""
    _create_window(con)
    ctes = {"changed": CHANGED_SQL}
    final = _since_query(project, model.name, ctes)
    with_clause = ",\n".join(f'"{name}" AS ({sql})' for name, sql in ctes.items())
    con.execute(
        f"INSERT INTO {BUILD_WINDOW} WITH {with_clause} {final}",
        {"last_batch": record.last_batch_id or 0, "built_at": record.built_at},
    )
    return con.execute(f"SELECT count(*) FROM {BUILD_WINDOW}").fetchone()[0]


def _since_query(project: Project, name: str, ctes: dict[str, str]) -> str:
    """SELECT symbol, since for one model; adds one CTE per ancestor model (shared when reached twice)."""
    graph = project.graph
    inputs = []
    for parent in graph.parents[name]:
        cte = f"since_{parent}"
        if cte not in ctes:
            ctes[cte] = _since_query(project, parent, ctes)
        inputs.append(f'SELECT symbol, since FROM "{cte}"')
    if graph.sources[name]:
        inputs.append('SELECT symbol, since FROM "changed"')
    if not inputs:  # reads nothing that can change
        return "SELECT NULL::VARCHAR AS symbol, NULL::TIMESTAMPTZ AS since WHERE false"
    lookback = project.models[name].lookback.replace("'", "''")
    return (
        f"SELECT symbol, min(since) - CAST('{lookback}' AS INTERVAL) AS since "
        f"FROM ({' UNION ALL '.join(inputs)}) GROUP BY symbol"
    )


def apply_increment(con: duckdb.DuckDBPyConnection, model: Model) -> int:
    """Replace the target's rows inside the window by the query's rows inside it; returns rows inserted."""
    part, time = quote_ident(model.partition_column), quote_ident(model.time_column)
    target = quote_ident(model.name)
    con.execute(
        f"DELETE FROM {target} USING {BUILD_WINDOW} w WHERE {target}.{part} = w.symbol AND {target}.{time} >= w.since"
    )
    return con.execute(
        f"INSERT INTO {target} BY NAME SELECT m.* FROM (\n{model.sql}\n) AS m "
        f"JOIN {BUILD_WINDOW} w ON m.{part} = w.symbol WHERE m.{time} >= w.since"
    ).fetchone()[0]


def drop_window(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"DROP TABLE IF EXISTS temp.main.{BUILD_WINDOW}")


def _create_window(con: duckdb.DuckDBPyConnection) -> None:
    con.execute(f"CREATE OR REPLACE TEMP TABLE {BUILD_WINDOW} (symbol VARCHAR, since TIMESTAMPTZ)")
