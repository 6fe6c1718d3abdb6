"""One task of a distributed build: the project's own models, run by the local runner on one shard of symbols.

The task opens an in-memory DuckDB, attaches the warehouse read-only at the snapshot the driver pinned, and
makes the shard's world in it: `raw.*` as views of the warehouse's raw tables cut to the shard's symbols, the
broadcast tables the driver built, and the per-symbol tables it reads but does not build (views of the
warehouse, cut to the shard). Then
`run_models` builds the plan's task models exactly as a local build would (same macros, same queries, same
incremental windows), and each sharded model's new rows are written to the staging folder as Parquet, with the
window they replace when the build was an increment. The driver registers them (barstore.spark.build).

Shard outputs are named by task attempt, so a retried task never overwrites the files its first attempt was
writing; only the files of the attempt Spark reports back are registered.
"""

from __future__ import annotations

import os
import resource
import shutil
import signal
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .. import lake
from ..transform.incremental import RunRecord, fill_incremental_window
from ..transform.project import Project, load_project
from ..transform.runner import existing_relations, materialize_here, run_models
from ..warehouse import quote_ident
from ..warehouse_settings import WarehouseSettings

# The warehouse's raw tables that hold rows of one symbol each, and the column naming it; the others
# (calendars, sessions) are read whole by every shard.
RAW_BY_SYMBOL = {
    "bars": "symbol",
    "symbols": "symbol",
    "ingest_log": "symbol",
    "rejected_bars": "symbol",
    "futures_roots": "root",
}
RAW_WHOLE = ("calendars", "sessions")
SHARD_ROWS, NEW_ROWS = "__stored", "__new"  # an incremental target's stored rows (a view) and its increment


@dataclass(frozen=True)
class ShardJob:
    """Everything a task needs, shipped with the task: the project's SQL travels as text, so workers need no
    copy of the project, only the warehouse's catalog and data files (a shared folder on a cluster)."""

    catalog: str
    snapshot: int
    warehouse: WarehouseSettings
    sql_files: dict[str, str]  # path under sql/ -> text
    task_models: list[str]
    sharded: list[str]
    broadcast_files: dict[str, str]  # broadcast table built this run -> its Parquet file in the staging folder
    broadcast_in_lake: list[str]
    symbol_inputs: list[str]
    incremental_targets: list[str]  # incremental models the warehouse already holds (increments overlay them)
    staging: str
    full_refresh: bool = False
    batch_symbols: int = 32
    threads: int = 1
    memory: str = "2GiB"
    crash_at: str | None = None  # fault injection for the tests: "task" kills every attempt, "task_once" the first


def run_shard(job: ShardJob, shard: int, groups: list[list[str]], attempt: int) -> list[dict]:
    """Build the shard's symbol groups, a batch of about job.batch_symbols symbols at a time (memory follows a
    batch, not the shard); one manifest row per (batch, sharded model)."""
    _maybe_crash(job)
    sql_dir = Path(tempfile.mkdtemp(prefix="barstore-sql-")) / "sql"
    try:
        for rel, text in job.sql_files.items():
            (sql_dir / rel).parent.mkdir(parents=True, exist_ok=True)
            (sql_dir / rel).write_text(text, encoding="utf-8")
        project = load_project(sql_dir)
        rows = []
        for number, batch in enumerate(_batches(groups, job.batch_symbols)):
            rows += _build_batch(job, project, shard, number, batch, attempt)
        return rows
    finally:
        shutil.rmtree(sql_dir.parent, ignore_errors=True)


def _batches(groups: list[list[str]], size: int) -> list[list[str]]:
    """Whole groups (a futures root with its contracts) packed into batches of about `size` symbols."""
    out: list[list[str]] = []
    for group in groups:
        if out and (size <= 0 or len(out[-1]) + len(group) <= size):
            out[-1].extend(group)
        else:
            out.append(list(group))
    return out


def _build_batch(job: ShardJob, project: Project, shard: int, number: int, symbols: list[str], attempt: int):
    started = time.perf_counter()
    spill = tempfile.mkdtemp(prefix="barstore-task-")
    con = duckdb.connect(config={"threads": str(job.threads), "memory_limit": job.memory, "temp_directory": spill})
    try:
        lake.load_extensions(con)
        con.execute(lake.attach_statement(Path(job.catalog), "lake", job.warehouse, True, job.snapshot))
        con.execute("SET TimeZone = 'UTC'")
        _shard_world(con, job, project, symbols)
        export = _Export(job, f"s{shard}-b{number}-a{attempt}")
        # decisions (full, incremental, up to date) are made on what the warehouse holds, as the driver's are
        known = {n.removeprefix("main.").lower(): k for n, k in lake.committed_relations(con, "lake").items()}
        existing = {**known, **existing_relations(con)}
        run_models(con, project, job.task_models, job.full_refresh, materialize=export, existing=existing)
    finally:
        con.close()
        shutil.rmtree(spill, ignore_errors=True)
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cost = {"batch": number, "symbols": len(symbols), "seconds": seconds, "peak_rss_mb": peak_mb}
    return [{**row, "shard": shard, "attempt": attempt, **cost} for row in export.rows]


def _in(symbols: list[str]) -> str:
    return "(" + ", ".join("'" + s.replace("'", "''") + "'" for s in symbols) + ")"


def _shard_world(con, job: ShardJob, project: Project, symbols: list[str]) -> None:
    """The relations a local build would find in the warehouse, holding only this shard's symbols."""
    shard = _in(symbols)
    con.execute("CREATE SCHEMA raw; CREATE SCHEMA meta")
    for table, column in RAW_BY_SYMBOL.items():
        con.execute(f"CREATE VIEW raw.{table} AS SELECT * FROM lake.raw.{table} WHERE {column} IN {shard}")
    for table in RAW_WHOLE:
        con.execute(f"CREATE VIEW raw.{table} AS SELECT * FROM lake.raw.{table}")
    con.execute("CREATE TABLE meta.model_runs AS SELECT * FROM lake.meta.model_runs")
    for name, path in job.broadcast_files.items():
        con.execute(f"CREATE TABLE {quote_ident(name)} AS SELECT * FROM read_parquet(?)", [path])
    for name in job.broadcast_in_lake:
        con.execute(f"CREATE VIEW {quote_ident(name)} AS SELECT * FROM lake.main.{quote_ident(name)}")
    for name, suffix in [(n, "") for n in job.symbol_inputs] + [(n, SHARD_ROWS) for n in job.incremental_targets]:
        column = quote_ident(project.models[name].partition_column)
        con.execute(
            f"CREATE VIEW {quote_ident(name + suffix)} AS "
            f"SELECT * FROM lake.main.{quote_ident(name)} WHERE {column} IN {shard}"
        )


class _Export:
    """materialize_here, then the sharded model's new rows (and the window they replace) to the staging folder.

    An increment of a target the warehouse holds is not applied to a copy of the shard's history: the target
    becomes a view of the warehouse's rows outside the window plus the new rows inside it, which is what the
    local build's DELETE + INSERT leaves, so the models after it read the same rows without the task copying
    years of history for a one-minute append."""

    def __init__(self, job: ShardJob, tag: str):
        self.job, self.tag, self.rows = job, tag, []

    def __call__(self, con, project: Project, model, record: RunRecord | None, existing, reason):
        overlaid = model.name in self.job.incremental_targets and reason is None
        if overlaid:
            mode, rows = self._overlay(con, project, model, record)
        else:
            mode, rows, reason = materialize_here(con, project, model, record, existing, reason)
        if model.name in self.job.sharded and mode in ("full", "incremental"):
            folder = Path(self.job.staging) / "shards" / model.name
            folder.mkdir(parents=True, exist_ok=True)
            data, window = folder / f"{self.tag}.parquet", ""
            if mode == "full":
                _copy(con, f"SELECT * FROM {quote_ident(model.name)}", data)
            else:
                _copy(con, f"SELECT * FROM {quote_ident(model.name + NEW_ROWS)}", data)
                window = str(folder / f"{self.tag}.window.parquet")
                _copy(con, "SELECT * FROM build_window", Path(window))
            self.rows.append({"model": model.name, "mode": mode, "data": str(data), "window": window, "rows": rows})
        return mode, rows, reason

    def _overlay(self, con, project: Project, model, record: RunRecord) -> tuple[str, int]:
        name, shard = quote_ident(model.name), quote_ident(model.name + SHARD_ROWS)
        new = quote_ident(model.name + NEW_ROWS)
        part, ts = quote_ident(model.partition_column), quote_ident(model.time_column)
        if fill_incremental_window(con, project, model, record) == 0:
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {shard}")
            return "up to date", 0
        rows = con.execute(
            f"CREATE TABLE {new} AS SELECT m.* FROM (\n{model.sql}\n) AS m "
            f"JOIN build_window w ON m.{part} = w.symbol WHERE m.{ts} >= w.since"
        ).fetchone()[0]
        window = quote_ident(model.name + "__window")
        con.execute(f"CREATE TABLE {window} AS SELECT * FROM build_window")
        con.execute(
            f"CREATE OR REPLACE VIEW {name} AS SELECT * FROM {shard} AS o WHERE NOT EXISTS ("
            f"SELECT 1 FROM {window} AS w WHERE w.symbol = o.{part} AND o.{ts} >= w.since) "
            f"UNION ALL BY NAME SELECT * FROM {new}"
        )
        return "incremental", rows


def _copy(con, query: str, path: Path) -> None:
    con.execute(f"COPY ({query}) TO '{str(path).replace(chr(39), chr(39) * 2)}' (FORMAT parquet)")


def _maybe_crash(job: ShardJob) -> None:
    """Kill this Python worker as an out-of-memory killer or a lost node would (the fault tests)."""
    if job.crash_at == "task":
        os.kill(os.getpid(), signal.SIGKILL)
    if job.crash_at == "task_once":
        marker = Path(job.staging) / "crashed_once"
        try:
            marker.touch(exist_ok=False)
        except FileExistsError:
            return
        os.kill(os.getpid(), signal.SIGKILL)
