"""Building the selected models, in dependency order, inside one transaction (all or nothing)."""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from pathlib import Path

import duckdb

from .. import lake
from ..errors import ModelError
from ..warehouse import compact_warehouse, write_transaction
from ..writer_lock import say_waiting
from .dependencies import BUILD_WINDOW
from .incremental import (
    RunRecord,
    apply_increment,
    drop_window,
    fill_full_window,
    fill_incremental_window,
    full_build_reason,
    last_runs,
    max_batch_id,
    symbol_batches,
)
from .project import Model, Project, load_project
from .selectors import select_models


@dataclass(frozen=True)
class ModelResult:
    model: str
    materialized: str
    mode: str  # full | incremental | up to date | view
    rows: int | None  # rows written by this run (None for views)
    seconds: float
    reason: str = ""  # why a full build, e.g. "first build", "query changed"


def build_models(
    con: duckdb.DuckDBPyConnection,
    sql_dir: Path,
    select: str | None = None,
    full_refresh: bool = False,
    show: bool = True,
) -> list[ModelResult]:
    """Build the selected models (all by default); on any error nothing is changed and ModelError is raised."""
    project = load_project(sql_dir)
    selected = select_models(project, select)
    # what exists is read under the write lock: another writer may have committed while this one waited
    with write_transaction(con, on_wait=say_waiting if show else None):
        results = run_models(con, project, selected, full_refresh, show)
    compacted = compact_warehouse(con)
    if show:
        print_summary(results)
        if compacted:
            print(_compaction_line(compacted))
    return results


# How one model's rows come to be: (con, project, model, record, existing, reason) -> (mode, rows, reason).
# Locally the query runs here (materialize_here); a distributed build registers what its tasks computed.
Materialize = Callable[..., tuple[str, int | None, str | None]]


def run_models(
    con: duckdb.DuckDBPyConnection,
    project: Project,
    selected: list[str],
    full_refresh: bool = False,
    show: bool = False,
    materialize: Materialize | None = None,
    existing: dict[str, str] | None = None,
) -> list[ModelResult]:
    """Build `selected` (in build order) on `con`, inside the caller's transaction: each model full,
    incremental or up to date as the incremental contract says, recorded in meta.model_runs. `existing` (the
    relations on `con` by default) is what those decisions see: a shard of a distributed build decides on the
    warehouse's relations, not on the few its own DuckDB holds."""
    materialize = materialize or materialize_here
    existing = existing_relations(con) if existing is None else existing
    check_references(project, selected, existing)
    runs = last_runs(con)
    batch = max_batch_id(con)
    run_macros(con, project)
    results: list[ModelResult] = []
    reset: set[str] = set()
    progress = _progress(show, len(selected))
    with progress or nullcontext():
        task = progress.add_task("building", total=len(selected)) if progress else None
        for name in selected:
            model = project.models[name]
            if progress:
                progress.update(task, description=f"{name} ({model.materialized})")
            result = _build_one(con, project, model, runs.get(name), existing, reset, full_refresh, batch, materialize)
            results.append(result)
            if progress:
                progress.advance(task)
                progress.console.print(_progress_line(result), highlight=False)
    _forget_stale_descendants(con, project, reset, set(selected))
    drop_window(con)
    return results


def _compaction_line(c) -> str:
    return (
        f"compacted in {c.seconds:.2f} s: {c.flushed_rows:,} inlined rows written out, {c.merged_files} small files "
        f"merged, {c.expired_snapshots} snapshots expired, {c.deleted_files} old files deleted"
    )


def _build_one(
    con,
    project: Project,
    model: Model,
    record: RunRecord | None,
    existing: dict[str, str],
    reset: set[str],
    full_refresh: bool,
    batch: int,
    materialize: Materialize,
) -> ModelResult:
    started = time.perf_counter()
    parent_reset = any(p in reset for p in project.graph.parents[model.name])
    relation_type = "VIEW" if model.materialized == "view" else "BASE TABLE"  # as information_schema says
    target_exists = existing.get(model.name) == relation_type
    reason = full_build_reason(model, record, full_refresh, target_exists, parent_reset)
    if reason is not None:
        reset.add(model.name)
    try:
        mode, rows, reason = materialize(con, project, model, record, existing, reason)
    except duckdb.Error as err:
        raise ModelError(f"{model.display_path}: {_message(err)}") from None
    existing[model.name] = relation_type
    seconds = time.perf_counter() - started
    con.execute("DELETE FROM meta.model_runs WHERE model = ?", [model.name])
    con.execute(
        "INSERT INTO meta.model_runs VALUES (?, ?, ?, ?, ?, ?, current_timestamp)",
        [model.name, model.sql_hash, batch, mode, rows, seconds],
    )
    return ModelResult(model.name, model.materialized, mode, rows, seconds, reason or "")


def materialize_here(
    con, project: Project, model: Model, record: RunRecord | None, existing: dict[str, str], reason: str | None
) -> tuple[str, int | None, str | None]:
    """Run the model's query on `con`: a view, an increment inside build_window, or the whole table."""
    if model.materialized == "view":
        replace_relation(con, model, existing, "VIEW")
        return "view", None, reason
    if model.is_incremental and reason is None:
        if fill_incremental_window(con, project, model, record) == 0:
            return "up to date", 0, reason
        return "incremental", apply_increment(con, model), reason
    batches = _build_full(con, project, model, existing)
    if batches > 1:
        reason = ", ".join(filter(None, [reason, f"in {batches} batches of symbols"]))
    refuse_lossy_columns(con, model)
    return "full", con.execute(f'SELECT count(*) FROM "{model.name}"').fetchone()[0], reason


def _build_full(con, project: Project, model: Model, existing: dict[str, str]) -> int:
    """Compute the model from scratch: a per-symbol model (one reading build_window) in batches of symbols when
    the universe is large, so that its memory follows a batch; all inside the build's one transaction."""
    batches = symbol_batches(con, _batch_size(con)) if project.graph.reads_window[model.name] else None
    if batches is None:
        fill_full_window(con)
        replace_relation(con, model, existing, "TABLE")
        return 1
    for i, batch in enumerate(batches):
        fill_full_window(con, batch)
        if i == 0:
            replace_relation(con, model, existing, "TABLE")
        else:
            con.execute(f'INSERT INTO "{model.name}" BY NAME SELECT * FROM (\n{model.sql}\n)')
    return len(batches)


def refuse_lossy_columns(con, model: Model) -> None:
    """The lake stores tables as Parquet, which has no 128-bit integers: DuckDB writes a HUGEINT as a DOUBLE,
    so a stored sum would silently lose its last digits."""
    columns = con.execute(f'DESCRIBE "{model.name}"').fetchall()  # this lake only: see lake.committed_relations
    lossy = [(c[0], c[1]) for c in columns if c[1] in ("HUGEINT", "UHUGEINT")]
    if lossy and lake.lake_of(con) is not None:
        column, kind = lossy[0]
        raise ModelError(
            f"{model.display_path}: column {column} is {kind}, which the warehouse's Parquet files hold only as a "
            f"DOUBLE; cast it to DECIMAL(38, 0) (exact) or BIGINT"
        )


def _batch_size(con) -> int:
    found = lake.lake_of(con)
    return found[1].build_batch_symbols if found else 0


def run_macros(con, project: Project) -> None:
    for macro in project.macros:
        try:
            con.execute(macro.sql)
        except duckdb.Error as err:
            raise ModelError(f"{macro.display_path}: {_message(err)}") from None


def replace_relation(con, model: Model, existing: dict[str, str], kind: str, query: str | None = None) -> None:
    """CREATE OR REPLACE the model; drop first when it changed between view and table (DuckDB refuses that)."""
    other = {"VIEW": ("BASE TABLE", "TABLE"), "TABLE": ("VIEW", "VIEW")}[kind]
    if existing.get(model.name) == other[0]:
        con.execute(f'DROP {other[1]} IF EXISTS "{model.name}"')
    con.execute(f'CREATE OR REPLACE {kind} "{model.name}" AS (\n{query or model.sql}\n)')


def _forget_stale_descendants(con, project: Project, reset: set[str], selected: set[str]) -> None:
    """Descendants of a model rebuilt in full, not built in this run, must rebuild in full next time."""
    stale = set().union(*(project.graph.descendants(r) for r in reset)) - selected
    for name in sorted(stale):
        con.execute("DELETE FROM meta.model_runs WHERE model = ?", [name])


def existing_relations(con) -> dict[str, str]:
    """Tables and views in the warehouse: 'schema.name' (or 'name' in main) -> table_type; read at the start of
    the build's transaction, when its lake's committed catalog is still the transaction's own."""
    if lake.lake_of(con) is not None:
        found = lake.committed_relations(con)
    else:
        rows = con.execute(
            "SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables "
            "WHERE table_catalog = current_database()"
        ).fetchall()
        found = dict(rows)
    return {name.removeprefix("main.").lower(): kind for name, kind in found.items()}


def check_references(project: Project, selected: list[str], existing: dict[str, str]) -> None:
    """Every table a selected model reads must be a model or an existing relation; parents must exist."""
    chosen = set(selected)
    for name in selected:
        model = project.models[name]
        for source in project.graph.sources[name]:
            if source not in existing:
                raise ModelError(f"{model.display_path}: reads unknown table {source}")
        for parent in project.graph.parents[name]:
            if parent not in chosen and parent not in existing:
                raise ModelError(
                    f"{model.display_path}: reads model {parent}, which is not built yet; "
                    f"select it too (e.g. --select +{name})"
                )
        if model.materialized == "view" and project.graph.reads_window[name]:
            raise ModelError(
                f"{model.display_path}: a view cannot read {BUILD_WINDOW} (it only exists during a build); "
                "materialize it as a table or incremental"
            )


def _message(err: Exception) -> str:
    return str(err).strip()


def _progress(show: bool, total: int):
    if not show or total == 0:
        return None
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(stderr=True),
        transient=True,
    )


def _progress_line(result: ModelResult) -> str:
    rows = "" if result.rows is None else f", {result.rows:,} rows"
    why = f" ({result.reason})" if result.reason and result.mode == "full" else ""
    return f"[green]done[/] {result.model}: {result.mode}{why}{rows} in {result.seconds:.2f}s"


def print_summary(results: list[ModelResult], console=None) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"built {len(results)} models", title_justify="left")
    for column, justify in (
        ("model", "left"),
        ("materialized", "left"),
        ("mode", "left"),
        ("rows", "right"),
        ("seconds", "right"),
    ):
        table.add_column(column, justify=justify)
    for r in results:
        table.add_row(r.model, r.materialized, r.mode, "-" if r.rows is None else f"{r.rows:,}", f"{r.seconds:.2f}")
    (console or Console()).print(table)
