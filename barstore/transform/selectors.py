"""dbt-like model selection.

`name` one model; `name+` it and its descendants; `+name` it and its ancestors; `+name+` both;
`folder/` every model under sql/folder/ (also with + on either side). Several selectors separated by
spaces or commas select the union.
"""

from __future__ import annotations

import re

from ..errors import ModelError
from .project import Project


def select_models(project: Project, selector: str | None) -> list[str]:
    """The selected model names in build order; every model when selector is None or blank."""
    graph = project.graph
    if selector is None or not selector.strip():
        return list(graph.order)
    chosen: set[str] = set()
    for token in re.split(r"[\s,]+", selector.strip()):
        if token:
            chosen |= _select_one(project, token)
    return [name for name in graph.order if name in chosen]


def _select_one(project: Project, token: str) -> set[str]:
    with_ancestors = token.startswith("+")
    with_descendants = token.endswith("+") and len(token) > 1
    base = token[1 if with_ancestors else 0 : len(token) - (1 if with_descendants else 0)]
    if base.endswith("/"):
        folder = base.strip("/")
        names = {n for n, m in project.models.items() if m.folder == folder or m.folder.startswith(folder + "/")}
        if not names:
            folders = sorted({m.folder for m in project.models.values() if m.folder})
            raise ModelError(
                f"selector {token!r}: no models under {project.sql_dir.name}/{folder}/ "
                f"(folders: {', '.join(folders) or 'none'})"
            )
    elif base in project.models:
        names = {base}
    else:
        raise ModelError(
            f"selector {token!r}: no model named {base!r} (models: {', '.join(sorted(project.models)) or 'none'}; "
            "a folder selector ends with /)"
        )
    selected = set(names)
    for name in names:
        if with_ancestors:
            selected |= project.graph.ancestors(name)
        if with_descendants:
            selected |= project.graph.descendants(name)
    return selected
