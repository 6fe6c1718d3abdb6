"""`barstore build --engine spark`: the same sql/ models, built by Spark tasks on shards of symbols, committed to
the warehouse in one snapshot exactly as a local build commits.

The driver holds the warehouse's write lock and one transaction throughout, as a local build does:
1. it reads the snapshot the tasks will read, builds the broadcast tables the shards need (barstore.spark.plan)
   and writes them to the staging folder;
2. Spark runs one task per shard (barstore.spark.shard_build): each builds its symbols with the local runner in
   its own DuckDB and writes each per-symbol model's new rows to the staging folder;
3. the driver walks the models in build order as a local build does (same full/incremental decisions, same
   meta.model_runs), registering each per-symbol model from its shards' files (CREATE OR REPLACE from them, or
   DELETE the shards' windows then INSERT their rows), and builds the views and any remaining broadcast table;
4. one COMMIT publishes it all. A failed task is retried by Spark; a failed job rolls back, so readers keep the
   last committed snapshot, and the staging folder is removed either way.

Results equal a local build bit for bit by construction: every per-symbol row is computed by the same query on
the same rows of its symbol (the queries' sums are exact, so no result depends on which symbols share a batch).
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import duckdb

from .. import lake
from ..errors import BarstoreError, ModelError
from ..transform.incremental import RunRecord
from ..transform.project import Model, Project, load_project
from ..transform.runner import (
    ModelResult,
    materialize_here,
    print_summary,
    refuse_lossy_columns,
    replace_relation,
    run_models,
)
from ..transform.selectors import select_models
from ..warehouse import compact_warehouse, quote_ident, write_transaction
from ..writer_lock import say_waiting
from .plan import BuildPlan, plan_build
from .session import spark_session, task_error
from .settings import SparkSettings
from .shard_build import ShardJob, run_shard

MANIFEST_SCHEMA = (
    "shard int, attempt int, batch int, model string, mode string, data string, window string, rows long, symbols int, "
    "seconds double, peak_rss_mb double"
)
CRASH_ENV = "BARSTORE_SPARK_CRASH_AT"  # fault injection for the tests: task | task_once


@dataclass(frozen=True)
class ShardOutput:
    shard: int
    attempt: int  # 0 unless Spark retried the shard's task
    batch: int
    model: str
    mode: str
    data: str
    window: str
    rows: int
    symbols: int
    seconds: float
    peak_rss_mb: float


@dataclass(frozen=True)
class SparkBuild:
    results: list[ModelResult]
    shards: list[ShardOutput]  # one per (shard, batch, model): per-partition cost for the benchmark
    partitions: int


def build_with_spark(
    con: duckdb.DuckDBPyConnection,
    sql_dir: Path,
    settings: SparkSettings,
    select: str | None = None,
    full_refresh: bool = False,
    show: bool = True,
    spark=None,
) -> SparkBuild:
    """Build the selected models on Spark (a session from `settings`, or `spark`); all or nothing."""
    project = load_project(sql_dir)
    selected = select_models(project, select)
    plan = plan_build(project, selected)
    catalog, warehouse = lake.lake_of(con) or (None, None)
    if catalog is None:
        raise BarstoreError("a distributed build needs a connection from barstore.warehouse.connect")
    staging = settings.staging_dir(catalog.parent) / f"build-{uuid.uuid4().hex[:12]}"
    staging.mkdir(parents=True)
    register = _Register(plan, staging)
    try:
        with write_transaction(con, on_wait=say_waiting if show else None):
            groups = symbol_groups(con)
            shards = cut_shards(groups, settings.shard_count(len(groups)))

            def run_tasks() -> list[ShardOutput]:
                job = _job(con, project, plan, settings, catalog, warehouse, staging, full_refresh)
                if spark is not None:
                    return run_job(spark, job, shards, show)
                with spark_session(settings) as session:
                    return run_job(session, job, shards, show)

            register.run_tasks = run_tasks
            results = run_models(con, project, plan.order, full_refresh, show, materialize=register)
        compacted = compact_warehouse(con)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    if show:
        print_summary(results)
        if compacted:
            print(f"compacted in {compacted.seconds:.2f} s")
    return SparkBuild(results, register.outputs, len(shards))


def symbol_groups(con) -> list[list[str]]:
    """raw.symbols grouped so that a futures root travels with its contracts (rolls are per root)."""
    rows = con.execute(
        "SELECT coalesce(root, symbol) AS key, list(symbol ORDER BY symbol) FROM raw.symbols GROUP BY key ORDER BY key"
    ).fetchall()
    return [r[1] for r in rows]


def cut_shards(groups: list[list[str]], count: int) -> list[list[list[str]]]:
    """`count` shards of whole groups, as even in symbols as a greedy cut makes them (same cut every run)."""
    shards: list[list[list[str]]] = [[] for _ in range(count)]
    sizes = [0] * count
    for group in sorted(groups, key=lambda g: (-len(g), g[0])):
        i = sizes.index(min(sizes))
        shards[i].append(group)
        sizes[i] += len(group)
    return [s for s in shards if s]


def _job(con, project, plan: BuildPlan, settings, catalog, warehouse, staging: Path, full_refresh) -> ShardJob:
    """The task's job, once the driver has built the broadcast tables the shards read (in this transaction)."""
    existing = lake.committed_relations(con)
    built_here = [m for m in plan.broadcast_inputs if m in plan.order]
    files = {}
    for name in built_here:
        path = staging / "broadcast" / f"{name}.parquet"
        path.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY (SELECT * FROM {quote_ident(name)}) TO '{_quoted(path)}' (FORMAT parquet)")
        files[name] = str(path)
    targets = [
        m for m in plan.sharded if project.models[m].is_incremental and existing.get(f"main.{m}") == "BASE TABLE"
    ]
    return ShardJob(
        catalog=str(catalog),
        snapshot=lake.snapshot_id(con),
        warehouse=warehouse,
        sql_files={
            p.relative_to(project.sql_dir).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(project.sql_dir.rglob("*.sql"))
        },
        task_models=plan.task_models,
        sharded=plan.sharded,
        broadcast_files=files,
        broadcast_in_lake=[m for m in plan.broadcast_inputs if m not in built_here],
        symbol_inputs=plan.symbol_inputs,
        incremental_targets=targets,
        staging=str(staging),
        full_refresh=full_refresh,
        batch_symbols=warehouse.build_batch_symbols,
        threads=settings.task_threads,
        memory=settings.task_memory,
        crash_at=os.environ.get(CRASH_ENV) or None,
    )


def _quoted(path: Path) -> str:
    return str(path).replace("'", "''")


def _task(job: ShardJob, batches: Iterator) -> Iterator:
    """mapInArrow's function: build each shard row handed to this task; yield its manifest rows."""
    import pyarrow as pa
    from pyspark import TaskContext

    attempt = TaskContext.get().attemptNumber()
    kinds = {"int": pa.int32(), "long": pa.int64(), "string": pa.string(), "double": pa.float64()}
    schema = pa.schema([(f.split()[0], kinds[f.split()[1]]) for f in MANIFEST_SCHEMA.split(", ")])
    for batch in batches:
        for shard, groups in zip(batch.column("shard").to_pylist(), batch.column("groups").to_pylist()):
            rows = run_shard(job, shard, json.loads(groups), attempt)
            if rows:
                yield pa.RecordBatch.from_pylist(rows, schema=schema)


def run_job(spark, job: ShardJob, shards: list[list[list[str]]], show: bool) -> list[ShardOutput]:
    """One Spark task per shard; the manifest rows of the attempts that succeeded."""
    frame = spark.createDataFrame(
        [(i, json.dumps(groups)) for i, groups in enumerate(shards)], "shard int, groups string"
    ).repartition(len(shards))
    watcher = _progress(spark, len(shards)) if show else None
    try:
        rows = frame.mapInArrow(partial(_task, job), MANIFEST_SCHEMA).collect()
    except Exception as err:  # a task that failed every attempt: Spark's error carries the worker's traceback
        raise BarstoreError(f"the distributed build failed, nothing was committed: {task_error(err)}") from None
    finally:
        if watcher:
            watcher.set()
    outputs = [ShardOutput(**r.asDict()) for r in rows]
    missing = set(range(len(shards))) - {o.shard for o in outputs}
    if missing and job.sharded:
        raise BarstoreError(f"the distributed build lost shards {sorted(missing)}: nothing was committed")
    return outputs


def _progress(spark, total: int) -> threading.Event:
    """Print how many shards are done while the job runs (Spark's own console bar is off)."""
    from rich.console import Console

    done = threading.Event()
    console = Console(stderr=True)

    def watch():
        tracker, last = spark.sparkContext.statusTracker(), -1
        while not done.wait(1.0):
            finished = 0
            for stage in tracker.getActiveStageIds():
                info = tracker.getStageInfo(stage)
                finished += info.numCompletedTasks if info else 0
            if finished != last:
                console.print(f"shards done: {finished}/{total}", highlight=False)
                last = finished

    threading.Thread(target=watch, daemon=True).start()
    return done


class _Register:
    """The driver's materialize: per-symbol models from their shards' files, the rest as a local build does."""

    def __init__(self, plan: BuildPlan, staging: Path):
        self.plan, self.staging = plan, staging
        self.outputs: list[ShardOutput] | None = None
        self.run_tasks = None

    def __call__(self, con, project: Project, model: Model, record: RunRecord | None, existing, reason):
        if model.name not in self.plan.sharded:
            return materialize_here(con, project, model, record, existing, reason)
        if self.outputs is None:  # every broadcast table the shards read is built by now (plan order)
            self.outputs = self.run_tasks()
        mine = [o for o in self.outputs if o.model == model.name]
        modes = {o.mode for o in mine}
        if reason is not None or not model.is_incremental:
            if modes != {"full"}:
                raise ModelError(f"{model.display_path}: shards disagree on a full build ({sorted(modes)})")
            files = _list([o.data for o in mine])
            replace_relation(con, model, existing, "TABLE", query=f"SELECT * FROM read_parquet({files})")
            refuse_lossy_columns(con, model)
            rows = con.execute(f"SELECT count(*) FROM {quote_ident(model.name)}").fetchone()[0]
            return "full", rows, ", ".join(filter(None, [reason, f"on {len({o.shard for o in mine})} shards"]))
        changed = [o for o in mine if o.mode == "incremental"]
        if "full" in modes:
            raise ModelError(f"{model.display_path}: shards disagree on an incremental build ({sorted(modes)})")
        if not changed:
            return "up to date", 0, reason
        target = quote_ident(model.name)
        part, ts = quote_ident(model.partition_column), quote_ident(model.time_column)
        con.execute(
            f"DELETE FROM {target} USING read_parquet({_list([o.window for o in changed])}) w "
            f"WHERE {target}.{part} = w.symbol AND {target}.{ts} >= w.since"
        )
        rows = con.execute(
            f"INSERT INTO {target} BY NAME SELECT * FROM read_parquet({_list([o.data for o in changed])})"
        ).fetchone()[0]
        return "incremental", rows, reason


def _list(paths: list[str]) -> str:
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"
