"""The model graph: a model's parents are the models its query reads; everything else it reads is a source."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from typing import Any

from ..errors import ModelError
from .dependencies import BUILD_WINDOW, cached_tables_read


@dataclass
class ModelGraph:
    parents: dict[str, list[str]]  # model -> models it reads (sorted)
    sources: dict[str, list[str]]  # model -> non-model tables it reads (sorted), e.g. raw.bars
    reads_window: dict[str, bool]  # model -> whether it joins the runner's build_window

    @classmethod
    def of(cls, models: dict[str, Any]) -> ModelGraph:
        """The graph of project.py's models (name -> Model; read: `.sql`, `.display_path`)."""
        parents, sources, reads_window = {}, {}, {}
        for name, model in models.items():
            reads = cached_tables_read(model.sql, model.display_path, keep_window=True)
            reads_window[name] = BUILD_WINDOW in reads
            reads.discard(BUILD_WINDOW)
            parents[name] = sorted(t for t in reads if t in models)
            sources[name] = sorted(t for t in reads if t not in models)
        return cls(parents=parents, sources=sources, reads_window=reads_window)

    @cached_property
    def children(self) -> dict[str, list[str]]:
        kids: dict[str, list[str]] = {name: [] for name in self.parents}
        for name, ps in self.parents.items():
            for p in ps:
                kids[p].append(name)
        return {k: sorted(v) for k, v in kids.items()}

    @cached_property
    def order(self) -> list[str]:
        """Topological order, ties broken by name so builds are reproducible; a cycle is an error."""
        done: set[str] = set()
        order: list[str] = []
        pending = {name: set(ps) for name, ps in self.parents.items()}
        while pending:
            ready = sorted(name for name, ps in pending.items() if ps <= done)
            if not ready:
                raise ModelError(f"the models form a cycle: {' -> '.join(self._find_cycle(pending))}")
            for name in ready:
                order.append(name)
                done.add(name)
                del pending[name]
        return order

    def _find_cycle(self, pending: dict[str, set[str]]) -> list[str]:
        # Every pending model waits on a pending parent, so walking parents from any of them must loop.
        path: list[str] = []
        node = min(pending)
        while node not in path:
            path.append(node)
            node = min(p for p in pending[node] if p in pending)
        cycle = path[path.index(node) :] + [node]
        return list(reversed(cycle))  # parent -> child, the direction data flows

    def ancestors(self, name: str) -> set[str]:
        return self._reach(name, self.parents)

    def descendants(self, name: str) -> set[str]:
        return self._reach(name, self.children)

    @staticmethod
    def _reach(name: str, edges: dict[str, list[str]]) -> set[str]:
        seen: set[str] = set()
        stack = list(edges[name])
        while stack:
            node = stack.pop()
            if node not in seen:
                seen.add(node)
                stack.extend(edges[node])
        return seen


def print_dag(project, console=None) -> None:
    """Print the models in build order with their folder, materialization, parents and sources."""
    from rich.console import Console
    from rich.table import Table

    graph = project.graph
    table = Table(title=f"{len(project.models)} models in {project.sql_dir}", title_justify="left")
    longest = max((len(n) for n in project.models), default=5)
    table.add_column("#", justify="right")
    table.add_column("model", min_width=longest, no_wrap=True)  # names stay whole on narrow terminals
    for column in ("folder", "materialized", "reads models", "reads sources"):
        table.add_column(column)
    for i, name in enumerate(graph.order, 1):
        model = project.models[name]
        table.add_row(
            str(i),
            name,
            model.folder or ".",
            model.materialized,
            ", ".join(graph.parents[name]) or "-",
            ", ".join(graph.sources[name]) or "-",
        )
    (console or Console()).print(table)
