"""Which models of a build run where when Spark distributes it.

Every model is per symbol unless its header says `distribution: broadcast` (barstore/transform/project.py):
- broadcast tables that read no per-symbol model (calendars, constants) are built first, on the driver, and
  handed to every task whole;
- per-symbol tables (and the views between them) are built by the tasks, each on its shard of symbols, with the
  same runner and queries as a local build;
- broadcast tables that read per-symbol models are built last, on the driver, from the registered shards; no
  per-symbol model may read one (its shard would need every other shard's rows first).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import ModelError
from ..transform.project import Project


@dataclass(frozen=True)
class BuildPlan:
    order: list[str]  # the selected models, driver-first broadcast tables ahead (still a dependency order)
    sharded: list[str]  # selected per-symbol tables: computed by the tasks, registered by the driver
    task_models: list[str]  # what a task builds: the sharded models and every view they read through
    broadcast_inputs: list[str]  # broadcast tables the tasks read (built this run or already in the warehouse)
    symbol_inputs: list[str]  # per-symbol tables the tasks read but do not build (already in the warehouse)


def plan_build(project: Project, selected: list[str]) -> BuildPlan:
    graph, models = project.graph, project.models
    chosen = set(selected)

    def per_symbol_ancestry(name: str) -> bool:
        return any(models[a].per_symbol for a in graph.ancestors(name))

    first = [m for m in selected if not models[m].per_symbol and not per_symbol_ancestry(m)]
    order = first + [m for m in selected if m not in first]
    sharded = [m for m in selected if models[m].per_symbol]
    for name in order:
        late_broadcast = models[name].materialized != "view" and not models[name].per_symbol and name not in first
        readers = sorted(d for d in graph.descendants(name) if models[d].per_symbol and d in chosen)
        if late_broadcast and readers:
            raise ModelError(
                f"{models[name].display_path}: a broadcast table that reads per-symbol models cannot feed the "
                f"per-symbol model {readers[0]} in a distributed build (its shard would need every shard's rows)"
            )
    reach = set(sharded).union(*(graph.ancestors(m) for m in sharded)) if sharded else set()
    task_models = [m for m in graph.order if m in reach and (m in sharded or models[m].materialized == "view")]
    tables_read = [m for m in graph.order if m in reach and m not in task_models]
    return BuildPlan(
        order=order,
        sharded=sharded,
        task_models=task_models,
        broadcast_inputs=[m for m in tables_read if not models[m].per_symbol],
        symbol_inputs=[m for m in tables_read if models[m].per_symbol],
    )
