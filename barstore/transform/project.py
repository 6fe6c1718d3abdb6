"""Discovering the SQL models of a project: sql/**/<name>.sql files, each one SELECT under a header comment.

Files under sql/macros/ are not models but DDL (e.g. `CREATE OR REPLACE MACRO ...`) that every build runs
first, so models can call the macros they define.

Header: the leading block of `--` lines. The first names the model and says its purpose
(`-- bars_5m: 5-minute bars resampled from 1-minute bars`); the others are `-- key: value` settings, where key
is one of SETTINGS, or prose. A prose line may not start with a single word and a colon (`-- Rule: ...`): that
reads as a misspelt setting, so it is an error naming the file and line, not a silent configuration.
Only BUILD_SETTINGS enter a model's hash: rewording the description or prose never forces a rebuild.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import duckdb

from ..errors import ModelError
from .dag import ModelGraph

MATERIALIZATIONS = ("table", "view", "incremental")
# How a distributed build (barstore.spark) computes a table: `symbol` (the default) per shard of symbols, each
# row belonging to the symbol in its partition_column (a futures root's rows go with its contracts);
# `broadcast` once, whole, on the driver, and read by every shard (calendars, constants).
DISTRIBUTIONS = ("symbol", "broadcast")
DEFAULT_PARTITION = "symbol"
DEFAULT_LOOKBACK = "0 seconds"
MACROS_FOLDER = "macros"
_HEADER_LINE = re.compile(r"^--\s*([A-Za-z_][\w.]*)\s*:\s*(.*?)\s*$")
# settings that change what a build writes (they enter the hash), and the one that only documents the model
BUILD_SETTINGS = ("materialized", "time_column", "partition_column", "lookback")
SETTINGS = ("grain", *BUILD_SETTINGS, "distribution")


@dataclass(frozen=True)
class Model:
    name: str
    path: Path
    folder: str  # folder relative to sql/, "" for top-level files, "bars/sub" for nested ones
    sql: str  # the SELECT, header and trailing semicolon removed
    description: str
    config: dict[str, str] = field(default_factory=dict)
    materialized: str = "table"
    time_column: str | None = None
    partition_column: str = DEFAULT_PARTITION
    lookback: str = DEFAULT_LOOKBACK
    distribution: str = "symbol"
    display_path: str = ""  # e.g. sql/bars/bars_5m.sql, used in messages

    @cached_property
    def sql_hash(self) -> str:
        """Changes when the query or a setting changes (not the description): a full rebuild is then due."""
        # a table is rebuilt whole every time: which column names its symbol does not change what it holds
        hashed = BUILD_SETTINGS if self.is_incremental else tuple(k for k in BUILD_SETTINGS if k != "partition_column")
        settings = "\n".join(f"{k}={v}" for k, v in sorted(self.config.items()) if k in hashed)
        return hashlib.sha256(f"{self.sql}\n--\n{settings}".encode()).hexdigest()[:16]

    @property
    def is_incremental(self) -> bool:
        return self.materialized == "incremental"

    @property
    def per_symbol(self) -> bool:
        """A stored table whose rows a distributed build computes shard by shard."""
        return self.materialized != "view" and self.distribution == "symbol"


@dataclass(frozen=True)
class Macro:
    """A file of sql/macros/: statements run at the start of every build, before any model."""

    path: Path
    sql: str
    display_path: str


@dataclass
class Project:
    sql_dir: Path
    models: dict[str, Model]
    macros: list[Macro] = field(default_factory=list)

    graph: ModelGraph = field(default=None)  # set by load_project


def load_project(sql_dir: Path) -> Project:
    """Read every model under sql_dir, check their headers, queries and dependency graph (cycles)."""
    sql_dir = Path(sql_dir)
    if not sql_dir.is_dir():
        raise ModelError(f"{sql_dir}: no such SQL models folder")
    models: dict[str, Model] = {}
    macros: list[Macro] = []
    for path in sorted(sql_dir.rglob("*.sql")):
        if path.relative_to(sql_dir).parts[0] == MACROS_FOLDER:
            macros.append(Macro(path, path.read_text(encoding="utf-8"), _shown(path, sql_dir)))
            continue
        model = parse_model(path, sql_dir)
        if model.name in models:
            raise ModelError(
                f"{model.display_path}: duplicate model name {model.name!r} "
                f"(also {models[model.name].display_path}); model names must be unique across folders"
            )
        models[model.name] = model
    graph = ModelGraph.of(models)
    _ = graph.order  # parse every query and reject cycles now, naming the files
    return Project(sql_dir=sql_dir, models=models, macros=macros, graph=graph)


def parse_model(path: Path, sql_dir: Path) -> Model:
    rel = path.relative_to(sql_dir)
    shown = _shown(path, sql_dir)
    text = path.read_text(encoding="utf-8")
    header, body = _split_header(text)
    if not header:
        raise ModelError(f"{shown}: missing header; start the file with `-- {path.stem}: <purpose>`")
    first_no, first_line = header[0]
    first = _HEADER_LINE.match(first_line)
    if not first or first.group(1) != path.stem:
        raise ModelError(
            f"{shown}:{first_no}: the header's first line must be `-- {path.stem}: <purpose>`, got {first_line!r}"
        )
    config: dict[str, str] = {}
    for number, line in header[1:]:
        match = _HEADER_LINE.match(line)
        if not match:
            continue  # prose
        key = match.group(1).lower()
        if key not in SETTINGS:
            raise ModelError(
                f"{shown}:{number}: unknown header setting {match.group(1)!r}; the settings are "
                f"{', '.join(SETTINGS)} (prose may not start with `Word:`)"
            )
        config[key] = match.group(2)
    materialized = config.get("materialized", "table").lower()
    if materialized not in MATERIALIZATIONS:
        raise ModelError(f"{shown}: unknown materialization {materialized!r}; use one of {', '.join(MATERIALIZATIONS)}")
    time_column = config.get("time_column") or None
    if materialized == "incremental" and not time_column:
        raise ModelError(f"{shown}: incremental models need a `-- time_column: <column>` header line")
    lookback = config.get("lookback", DEFAULT_LOOKBACK)
    _check_interval(lookback, shown)
    distribution = config.get("distribution", "symbol").lower()
    if distribution not in DISTRIBUTIONS:
        raise ModelError(f"{shown}: unknown distribution {distribution!r}; use one of {', '.join(DISTRIBUTIONS)}")
    if distribution == "broadcast" and materialized == "incremental":
        raise ModelError(f"{shown}: an incremental model is per symbol; `distribution: broadcast` needs a table")
    sql = body.strip().rstrip(";").strip()
    if not sql:
        raise ModelError(f"{shown}: no SQL query after the header")
    return Model(
        name=path.stem,
        path=path,
        folder=rel.parent.as_posix() if rel.parent != Path(".") else "",
        sql=sql,
        description=first.group(2),
        config=config,
        materialized=materialized,
        time_column=time_column,
        partition_column=config.get("partition_column") or DEFAULT_PARTITION,
        lookback=lookback,
        distribution=distribution,
        display_path=shown,
    )


def _shown(path: Path, sql_dir: Path) -> str:
    return (Path(sql_dir.name) / path.relative_to(sql_dir)).as_posix()


def _split_header(text: str) -> tuple[list[tuple[int, str]], str]:
    """The header's (1-based line number, line) pairs and the rest of the file."""
    lines = text.splitlines()
    header: list[tuple[int, str]] = []
    i = 0
    while i < len(lines) and (lines[i].strip().startswith("--") or (not lines[i].strip() and not header)):
        if lines[i].strip():
            header.append((i + 1, lines[i].strip()))
        i += 1
    return header, "\n".join(lines[i:])


_interval_checker: duckdb.DuckDBPyConnection | None = None


def _check_interval(value: str, shown: str) -> None:
    """Let DuckDB itself judge the lookback, so it accepts exactly what the runner will use."""
    global _interval_checker
    if _interval_checker is None:
        _interval_checker = duckdb.connect()
    try:
        _interval_checker.execute("SELECT ?::INTERVAL", [value])
    except duckdb.Error:
        raise ModelError(f"{shown}: lookback {value!r} is not a DuckDB interval (e.g. `2 days`)") from None
