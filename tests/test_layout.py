"""The layout the project keeps: stages use the core, the core never imports a stage, and no two modules of the
core or of one stage import each other (directly or around a cycle). Only the CLI (barstore/cli/) wires stages
together. Every check fails when it finds no files, so a moved folder cannot make it pass vacuously."""

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


def _imports(path: Path, runtime_only: bool = False) -> set[str]:
    """Absolute names of everything the file imports, at any depth (lazy imports count); `runtime_only` leaves out
    the `if TYPE_CHECKING:` blocks, which never run."""
    package = _module(path) if path.name == "__init__.py" else _module(path).rpartition(".")[0]
    tree = ast.parse(path.read_text())
    skipped = set()
    if runtime_only:
        for node in ast.walk(tree):
            if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
                skipped |= {id(n) for child in node.body for n in ast.walk(child)}
    out = set()
    for node in ast.walk(tree):
        if id(node) in skipped:
            continue
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            base = package.split(".")[: len(package.split(".")) - node.level + 1] if node.level else []
            name = ".".join([*base, node.module] if node.module else base)
            out.add(name)
            out |= {f"{name}.{a.name}" for a in node.names}
    return out


def _files(top: str) -> list[Path]:
    found = sorted((PROJECT_DIR / top).rglob("*.py"))
    assert found, f"no Python files under {PROJECT_DIR / top}: the layout checks would check nothing"
    return found


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


def _cycles(files: dict[str, Path], runtime_only: bool = False) -> list[str]:
    edges = {m: {n for n in _imports(p, runtime_only) if n in files and n != m} for m, p in files.items()}
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
    return cycles


def test_no_import_cycles_in_the_core():
    files = {_module(p): p for p in _files("barstore") if "cli" not in p.relative_to(PROJECT_DIR).parts}
    assert _cycles(files) == []


def test_no_import_cycles_inside_a_stage():
    """Imports that run (lazy ones included); annotations under TYPE_CHECKING may name a sibling."""
    found = {stage: _cycles({_module(p): p for p in _files(stage)}, runtime_only=True) for stage in STAGES}
    assert found == {stage: [] for stage in STAGES}


def test_a_cycle_is_found():
    """The checker itself: two modules importing each other lazily are a cycle."""
    import tempfile

    with tempfile.TemporaryDirectory(dir=PROJECT_DIR) as tmp:
        a, b = Path(tmp) / "a.py", Path(tmp) / "b.py"
        a.write_text("def f():\n    from . import b\n")
        b.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    pass\nfrom . import a\n")
        files = {_module(a): a, _module(b): b}
        assert len(_cycles(files, runtime_only=True)) == 1
        b.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from . import a\n")
        assert _cycles(files, runtime_only=True) == []
