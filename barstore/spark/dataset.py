"""`barstore dataset MODEL --engine spark --out DIR`: a training set built by Spark tasks, each building the
windows of one group of symbols with the code a local run uses (barstore.windows.build: spine, labels, Feast's
point-in-time retrieval, window index), from the same pinned warehouse snapshot, and writing its shards.

    manifest = export_dataset_spark(ws, spec, Selection(max_samples=5_000), Path("sets/seq300"), spark_settings())

Equal to the local engine's set, array for array (barstore.windows.export), because each symbol's windows depend
on that symbol alone, with one exception the driver handles: `--max-samples` picks windows evenly over the whole
selection in time order. The driver therefore makes the choice (spine and labels only, no features:
barstore.windows.build.choose_samples), and each task retrieves the chosen windows of its symbols; when some
turn out to miss features, the driver adds replacements and the tasks retrieve again, as the local rounds do.

Each task attempt writes under its own folder (a retried or speculative attempt never meets another's files);
the driver moves the shards of the attempts Spark reports as successful into place, reads them back for the
manifest and renames the staged set to DIR (barstore.windows.export.finish_set): no half-written set. On a
cluster, DIR must be a folder every executor can write (a shared file system).
"""

from __future__ import annotations

import itertools
import os
import shutil
from collections import Counter
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..errors import BarstoreError
from ..home import Workspace
from ..lake import snapshot_id
from ..splits import project_shares
from ..warehouse import connect, reading_snapshot
from ..warehouse_settings import warehouse_settings
from ..windows.build import choose_samples, retrieve_chosen, sample_candidates, spine_and_labels
from ..windows.export import finish_set, staged_set
from ..windows.index import AlignedMatrix, window_ends
from ..windows.retrieval import no_steps
from ..windows.shards import SHARDS, shard_name, shards_of
from ..windows.spine import step_counts
from .session import spark_session, task_error

if TYPE_CHECKING:
    from collections.abc import Iterator

    from ..specs import ModelSpec
    from ..windows.selection import Selection
    from .settings import SparkSettings

ATTEMPTS = "attempts"  # under the staged set: one folder per task attempt, removed before the rename


@dataclass(frozen=True)
class DatasetJob:
    """What every task of one set needs (pickled with the task)."""

    home: str
    project: str
    model: str
    selection: Selection  # with the snapshot pinned
    staging: str
    threads: int  # DuckDB threads and memory in a task
    memory: str


def export_dataset_spark(
    ws: Workspace,
    spec: ModelSpec,
    selection: Selection,
    out: Path,
    settings: SparkSettings,
    shares: tuple[float, float, float] | None = None,
) -> dict:
    """Write `spec`'s training set of the selection to `out` with Spark tasks; returns the manifest."""
    shares = shares or project_shares(ws.project_dir)
    con = connect(ws.warehouse, read_only=True, snapshot=selection.snapshot)
    try:
        selection = replace(selection, snapshot=snapshot_id(con))  # every task reads this snapshot
        with staged_set(out) as staging, spark_session(settings, app=f"barstore dataset {spec.name}") as spark:
            job = DatasetJob(
                str(ws.home),
                str(ws.project_dir),
                spec.name,
                selection,
                str(staging),
                settings.task_threads,
                settings.task_memory,
            )
            build = _sampled if selection.max_samples is not None else _whole
            results, dropped = build(spark, job, con, spec, settings)
            entries = _move_shards(staging, results)
            shutil.rmtree(staging / ATTEMPTS, ignore_errors=True)
            return finish_set(staging, spec, selection, shares, entries, dropped, "spark")
    finally:
        con.close()


def _whole(spark, job: DatasetJob, con, spec: ModelSpec, settings: SparkSettings) -> tuple[list[dict], dict]:
    """Every window of the selection: one task per group of symbols, each building its symbols' dataset."""
    sel = job.selection
    counts = step_counts(con, spec, list(sel.symbols) if sel.symbols else None, sel.until)
    if not counts:
        raise no_steps(spec)
    groups = symbol_groups(counts, settings.shard_count(len(counts)))
    results = _run(spark, job, [(k, 0, group, None) for k, group in enumerate(groups)])
    return results, _summed(r["dropped"] for r in results)


def _sampled(spark, job: DatasetJob, con, spec: ModelSpec, settings: SparkSettings) -> tuple[list[dict], dict]:
    """`max_samples` windows chosen over the whole selection by the driver, retrieved by the tasks in rounds."""
    sel = job.selection
    spine, labels, _ = spine_and_labels(con, spec, list(sel.symbols) if sel.symbols else None, sel.until)
    if spine.num_rows == 0:
        raise no_steps(spec)
    order = sample_candidates(spec, spine, labels, sel.since, sel.stride)
    if not len(order):  # steps but no window: the local engine's empty set, with why
        return [], window_ends(AlignedMatrix.from_arrow(spine, [], []), spec.steps, labels).dropped
    keys = SpineKeys(spine)
    rounds = itertools.count(1)

    def retrieve(chosen: np.ndarray) -> tuple[np.ndarray, list[dict]]:
        wanted = keys.times_by_symbol(chosen)
        groups = symbol_groups([(s, len(t)) for s, t in wanted.items()], settings.shard_count(len(wanted)))
        number = next(rounds)
        tasks = [(k, number, group, {s: wanted[s] for s in group}) for k, group in enumerate(groups)]
        results = _run(spark, job, tasks)
        kept = keys.rows({s: t for r in results for s, t in r["kept"].items()})
        return kept, results

    results = choose_samples(order, sel.max_samples, retrieve)
    samples = sum(shard["samples"] for r in results for shard in r["shards"])
    if samples > sel.max_samples:  # choose_samples never keeps more; select_dataset would cut them evenly
        raise RuntimeError(f"{samples} samples kept of --max-samples {sel.max_samples}")
    return results, _summed(r["dropped"] for r in results) | {"not sampled": int(len(order) - samples)}


def _run(spark, job: DatasetJob, tasks: list[tuple]) -> list[dict]:
    """One Spark job, one task per entry of `tasks` (group number, round, symbols, chosen window ends or None);
    the tasks' results by group number."""
    context = spark.sparkContext
    try:
        results = context.parallelize(tasks, numSlices=len(tasks)).mapPartitions(partial(_task, job)).collect()
    except Exception as err:  # py4j/PythonException: the task's own error is the message's last "...Error: ..." line
        raise BarstoreError(f"the Spark job writing {job.model}'s training set failed: {task_error(err)}") from None
    return sorted(results, key=lambda r: r["group"])


def _task(job: DatasetJob, partition: Iterator[tuple]) -> Iterator[dict]:
    for number, round_, symbols, chosen in partition:  # one entry per partition; read to its end, so that
        yield build_group(job, number, round_, symbols, chosen)  # Spark may reuse this Python worker


def build_group(job: DatasetJob, number: int, round_: int, symbols: list[str], chosen: dict | None) -> dict:
    """In a task: the dataset of these symbols (all their windows, or the `chosen` ends: symbol -> int64 µs times)
    written as shards under this attempt's folder; what the driver needs back (shard entries and folders, why
    windows were dropped, the chosen windows kept)."""
    from pyspark import TaskContext

    from ..feature_store import open_store
    from ..specs import model as model_spec
    from ..windows.build import window_dataset
    from ..windows.dataset import WindowDataset

    os.environ["BARSTORE_PROJECT_DIR"] = job.project  # [warehouse] settings and feature_repo/ of the driver's project
    ws, spec, sel = Workspace(Path(job.home), job.project), model_spec(job.model), job.selection
    folder = Path(job.staging) / ATTEMPTS / f"{round_}-{TaskContext.get().taskAttemptId()}"
    task_settings = replace(warehouse_settings(home=ws.home), threads=job.threads, memory_limit=job.memory)
    con = connect(ws.warehouse, read_only=True, snapshot=sel.snapshot, settings=task_settings)
    try:
        with reading_snapshot(ws.warehouse, sel.snapshot):
            store = open_store(ws)
            if chosen is None:
                ds = window_dataset(spec, str(ws.home), symbols, sel.since, sel.until, sel.stride, store, con)
                kept = {}
            else:
                spine, labels, label_times = spine_and_labels(con, spec, symbols, sel.until)
                keys = SpineKeys(spine)
                part = retrieve_chosen(store, spec, spine, labels, keys.rows(chosen))
                ds = WindowDataset(part.matrix, part.index, spec.steps, labels[part.rows], label_times[part.rows])
                kept = keys.times_by_symbol(part.kept)
    finally:
        con.close()
    shards = [{**s.save(folder / str(k)), "folder": str(folder / str(k))} for k, s in enumerate(shards_of(ds))]
    return {"group": number, "shards": shards, "dropped": dict(ds.dropped), "kept": kept}


def _move_shards(staging: Path, results: list[dict]) -> list[dict]:
    """The reported shards moved from their attempts' folders into staging/shards/, numbered in symbol order
    (groups are consecutive runs of symbols); their manifest entries."""
    (staging / SHARDS).mkdir(exist_ok=True)
    entries = []
    for result in results:
        for shard in result["shards"]:
            entry = {k: v for k, v in shard.items() if k != "folder"}
            entry["path"] = f"{SHARDS}/{shard_name(len(entries), entry['symbol'])}"
            os.rename(shard["folder"], staging / entry["path"])
            entries.append(entry)
    return entries


def symbol_groups(sizes: list[tuple[str, int]], count: int) -> list[list[str]]:
    """The symbols (in their order) cut into at most `count` consecutive runs of about equal total size: each
    symbol goes to the run its size's midpoint falls in."""
    weights = np.array([n for _, n in sizes], dtype=np.float64)
    midpoints = np.cumsum(weights) - weights / 2
    runs = np.minimum((midpoints * count / max(weights.sum(), 1.0)).astype(np.int64), count - 1)
    groups: dict[int, list[str]] = {}
    for (symbol, _), run in zip(sizes, runs, strict=True):
        groups.setdefault(int(run), []).append(symbol)
    return [groups[k] for k in sorted(groups)]


class SpineKeys:
    """A spine's rows by (symbol, event time): the spine is sorted by symbol, then time, so each symbol's rows are
    one run. Driver and tasks name windows this way, since their spines (all symbols, or a group's) number the
    rows differently but hold the same rows for a symbol."""

    def __init__(self, spine: pa.Table):
        self.symbols = spine["symbol"].to_numpy(zero_copy_only=False)
        stamps = pc.cast(spine["event_timestamp"], pa.timestamp("us", "UTC")).to_numpy(zero_copy_only=False)
        self.times = stamps.astype("datetime64[us]").astype(np.int64)
        n = len(self.symbols)
        starts = np.flatnonzero(np.r_[True, self.symbols[1:] != self.symbols[:-1]]) if n else np.zeros(0, int)
        stops = np.r_[starts[1:], n].astype(int)
        self.runs = {self.symbols[a]: (int(a), int(b)) for a, b in zip(starts, stops, strict=True)}

    def times_by_symbol(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """symbol -> int64 µs times of these rows (ascending), in the spine's symbol order."""
        rows = np.sort(np.asarray(rows, dtype=np.int64))
        out = {}
        for symbol, (a, b) in self.runs.items():
            lo, hi = np.searchsorted(rows, [a, b])
            if hi > lo:
                out[symbol] = self.times[rows[lo:hi]]
        return out

    def rows(self, times_by_symbol: dict[str, np.ndarray]) -> np.ndarray:
        """The rows of these (symbol, time) steps, ascending; a step this spine lacks is an error (the driver's
        and the task's spines would not be the same data)."""
        found = []
        for symbol, times in times_by_symbol.items():
            a, b = self.runs.get(symbol, (0, 0))
            rows = a + np.minimum(np.searchsorted(self.times[a:b], times), max(b - a - 1, 0))
            if b == a or not np.array_equal(self.times[rows], times):
                raise RuntimeError(f"steps of {symbol} chosen by the driver are not in this task's spine")
            found.append(rows)
        return np.sort(np.concatenate(found)) if found else np.zeros(0, dtype=np.int64)


def _summed(counts) -> dict[str, int]:
    total: Counter = Counter()
    for c in counts:
        total.update(c)
    return {k: int(v) for k, v in total.items()}
