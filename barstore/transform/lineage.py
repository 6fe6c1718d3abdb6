"""Column-level lineage: which source columns (raw.*) a model column is computed from.

sqlglot expands every model a query reads into its SQL (recursively), so one lineage() call walks the
whole chain of models. `SELECT *` over a source table needs that table's columns: the raw schema comes
from warehouse.RAW_SCHEMA (no warehouse needed); other tables from the warehouse when a connection is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import duckdb
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage

from ..errors import ModelError
from .dependencies import BUILD_WINDOW, DIALECT, table_name
from .project import Project

# The runner's build_window stands for "the rows to compute", not data: it is replaced by an empty
# relation of the right columns so that its columns never show up as lineage leaves.
_WINDOW_STANDIN = "SELECT CAST(NULL AS VARCHAR) AS symbol, CAST(NULL AS TIMESTAMPTZ) AS since WHERE false"


@dataclass
class LineageNode:
    name: str  # model.column for model columns, schema.table.column for sources
    is_source: bool = False
    children: list[LineageNode] = field(default_factory=list)


def column_lineage(project: Project, target: str, con: duckdb.DuckDBPyConnection | None = None) -> LineageNode:
    """The lineage tree of MODEL.COLUMN: model columns down to the source columns they are computed from."""
    model_name, column = _split_target(project, target)
    model = project.models[model_name]
    sources = {name: m.sql for name, m in project.models.items() if name != model_name}
    sources[BUILD_WINDOW] = _WINDOW_STANDIN
    schema = source_schema(con)
    try:
        root = lineage(column, model.sql, schema=schema, sources=sources, dialect=DIALECT)
    except SqlglotError as err:
        raise ModelError(
            f"{model.display_path}: cannot trace column {column!r}: {err}"
            f"{_unknown_columns_hint(project, model_name, schema)}"
        ) from None
    tree = LineageNode(f"{model_name}.{column}")
    for child in root.downstream:
        _attach(tree, child, model_name)
    return tree


def source_columns(project: Project, target: str, con: duckdb.DuckDBPyConnection | None = None) -> set[str]:
    """The leaf source columns of MODEL.COLUMN, e.g. {"raw.bars.close", "raw.bars.ts"}."""
    found: set[str] = set()

    def visit(node: LineageNode) -> None:
        if node.is_source:
            found.add(node.name)
        for child in node.children:
            visit(child)

    visit(column_lineage(project, target, con))
    return found


def print_lineage(project: Project, target: str, con: duckdb.DuckDBPyConnection | None = None, console=None) -> None:
    from rich.console import Console
    from rich.tree import Tree

    def render(node: LineageNode, branch: Tree) -> None:
        for child in node.children:
            label = f"[green]{child.name}[/]" if child.is_source else child.name
            render(child, branch.add(label, highlight=False))

    root = column_lineage(project, target, con)
    tree = Tree(f"[bold]{root.name}[/]", highlight=False)
    render(root, tree)
    (console or Console()).print(tree)


def _attach(parent: LineageNode, node: Node, model: str) -> None:
    """Add node under parent as `model.column`, collapsing sqlglot's steps inside one model (CTEs,
    subqueries, UNION branches) so the tree shows one level per model."""
    if isinstance(node.source, exp.Table):
        if isinstance(node.source.this, exp.Identifier):  # not a table function such as generate_series
            _child(parent, f"{table_name(node.source)}.{node.name.rsplit('.', 1)[-1]}", is_source=True)
        return
    if not node.downstream:  # a constant, or the build_window stand-in
        return
    here, inner = parent, node.source_name or model
    column = node.name.rsplit(".", 1)[-1]
    if inner != model and inner != BUILD_WINDOW and not column.isdigit():
        here = _child(parent, f"{inner}.{column}")
        model = inner
    for child in node.downstream:
        _attach(here, child, model)


def _child(parent: LineageNode, name: str, is_source: bool = False) -> LineageNode:
    found = next((c for c in parent.children if c.name == name), None)
    if found is None:
        found = LineageNode(name, is_source=is_source)
        parent.children.append(found)
    return found


def _unknown_columns_hint(project: Project, model_name: str, schema: dict) -> str:
    """Name the sources whose columns are unknown: a SELECT * over them cannot be expanded."""
    graph = project.graph
    chain = {model_name} | graph.ancestors(model_name)
    unknown = sorted(
        src
        for name in chain
        for src in graph.sources[name]
        if src.partition(".")[2] not in schema.get(src.partition(".")[0], {})
    )
    if not unknown:
        return ""
    return (
        f" (the columns of {', '.join(unknown)} are unknown without a warehouse that has them, so a "
        "SELECT * over them cannot be expanded: list the columns explicitly or build the warehouse first)"
    )


def _split_target(project: Project, target: str) -> tuple[str, str]:
    model_name, dot, column = target.partition(".")
    if not dot or not column:
        raise ModelError(f"lineage target {target!r} must be MODEL.COLUMN, e.g. bars_1d.close")
    if model_name not in project.models:
        raise ModelError(
            f"lineage target {target!r}: no model named {model_name!r} "
            f"(models: {', '.join(sorted(project.models)) or 'none'})"
        )
    return model_name, column


def source_schema(con: duckdb.DuckDBPyConnection | None = None) -> dict[str, dict[str, dict[str, str]]]:
    """{schema: {table: {column: type}}} of the raw schema and, with a connection, of the warehouse's
    non-main tables (models are expanded from their SQL instead)."""
    from ..warehouse import init_schema

    scratch = duckdb.connect()
    init_schema(scratch)
    schema: dict[str, dict[str, dict[str, str]]] = {}
    for source in (scratch, con):
        if source is None:
            continue
        rows = source.execute(
            "SELECT table_schema, table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_catalog = current_database() AND table_schema NOT IN ('main', 'information_schema', "
            "'pg_catalog') ORDER BY table_schema, table_name, ordinal_position"
        ).fetchall()
        for db, table, column, dtype in rows:
            schema.setdefault(db, {}).setdefault(table, {})[column] = dtype
    scratch.close()
    return schema
