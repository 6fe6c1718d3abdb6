"""The layout the project keeps: stages use the core, the core never imports a stage, and no two modules of the
core import each other (directly or around a cycle). Only the CLI (barstore/cli/) wires stages together."""

from __future__ import annotations

import ast
from pathlib import Path

from .data_paths import PROJECT_DIR

STAGES = ("expectations", "training", "inference", "backtest")
# a stage may use the stages before it in the data flow: validate -> train -> predict -> backtest
MAY_USE = {
    "expectations": set(),
    "training": {"expectations"},
    "inference": set(),
    "backtest": {"expectations", "training", "inference"},
}


def _module(path: Path) -> str:
    parts = list(path.relative_to(PROJECT_DIR).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Absolute names of everything the file imports, at any depth (lazy imports count)."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            out.add(name)
            out |= {f"{name}.{a.name}" for a in node.names}
    return out


def _files(top: str) -> list[Path]:
    return sorted((PROJECT_DIR / top).rglob("*.py"))


def test_the_core_imports_no_stage():
    offenders = [
        f"{_module(p)} imports {name}"
        for p in _files("barstore")
        if "cli" not in p.relative_to(PROJECT_DIR).parts
        for name in _imports(p)
        if name.split(".")[0] in STAGES
    ]
    assert offenders == []


def test_stages_use_only_the_core_and_earlier_stages():
    offenders = [
        f"{_module(p)} imports {name}"
        for stage in STAGES
        for p in _files(stage)
        for name in _imports(p)
        if name.split(".")[0] in STAGES and name.split(".")[0] not in MAY_USE[stage] | {stage}
    ]
    assert offenders == []


def test_no_import_cycles_in_the_core():
    files = {_module(p): p for p in _files("barstore") if "cli" not in p.relative_to(PROJECT_DIR).parts}
    edges = {m: {n for n in _imports(p) if n in files and n != m} for m, p in files.items()}
    # a package's __init__ re-exporting its own modules is not a cycle between modules
    edges = {
        m: {n for n in ns if not (m.startswith(n + ".") or n.startswith(m + ".") and m in n)} for m, ns in edges.items()
    }
    cycles, state = [], {}

    def visit(m, path):
        state[m] = "open"
        for n in sorted(edges[m]):
            if state.get(n) == "open":
                cycles.append(" -> ".join(path[path.index(n) :] + [n]))
            elif n not in state:
                visit(n, path + [n])
        state[m] = "done"

    for m in sorted(files):
        if m not in state:
            visit(m, [m])
    assert cycles == []
