"""`[warehouse]` of barstore_project.toml: how much memory, how many threads and how much spill disk the
warehouse's DuckDB may take, and how long writers wait for each other. The defaults let a 16 GiB machine build
the whole universe: DuckDB's own default memory limit is 80% of RAM, which leaves nothing for Python, Arrow
and torch beside it."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from .errors import BarstoreError
from .project import find_project_dir, settings
from .times import parse_duration

DEFAULTS = {
    "memory_limit": "4GiB",  # DuckDB's buffer manager; spills to temp_directory above it
    "threads": 0,  # 0: one per core
    "temp_directory": "tmp",  # relative to the home
    "max_temp_directory_size": "40GiB",
    "writer_wait": "60s",  # a second writer waits this long for the first, then is refused
    "busy_timeout": "10s",  # SQLite catalog: how long a commit waits for a reader's read lock
    "inline_rows": 1000,  # commits of fewer rows stay in the catalog until compaction (live minute appends)
    # compaction expires older snapshots, except those a saved training run read (time travel reaches this far)
    "snapshot_retention": "1h",
    # a full build of a per-symbol model runs this many symbols at a time (its memory grows with a batch, not
    # with the universe); 0: all at once
    "build_batch_symbols": 32,
    # builds compact the lake when its last compaction is older than this: a live loop's minute builds skip it
    # (its small commits stay inlined in the catalog meanwhile); 0s: after every build
    "compact_interval": "5m",
}


@dataclass(frozen=True)
class WarehouseSettings:
    memory_limit: str
    threads: int
    temp_directory: Path
    max_temp_directory_size: str
    writer_wait: float  # seconds
    busy_timeout: float
    inline_rows: int
    snapshot_retention: float
    build_batch_symbols: int = DEFAULTS["build_batch_symbols"]
    compact_interval: float = 300.0  # seconds

    def duckdb_config(self) -> dict[str, str]:
        config = {
            "memory_limit": self.memory_limit,
            "temp_directory": str(self.temp_directory),
            "max_temp_directory_size": self.max_temp_directory_size,
            # DuckDB 1.5 plans an ASOF JOIN whose left side it cannot size (an Arrow scan: Feast's entity rows)
            # as a nested loop plus a window: 11.6 s instead of 0.075 s for 10k entity rows over 1M feature rows
            "asof_loop_join_threshold": "0",
        }
        if self.threads:
            config["threads"] = str(self.threads)
        return config

    def lines(self) -> list[str]:
        threads = self.threads or f"{os.cpu_count()} (one per core)"
        return [
            f"memory_limit {self.memory_limit}",
            f"threads {threads}",
            f"temp_directory {self.temp_directory} (at most {self.max_temp_directory_size})",
            f"writer_wait {self.writer_wait:g} s",
            f"build_batch_symbols {self.build_batch_symbols or 'all'}",
        ]


def warehouse_settings(home: Path | None = None, project_dir: Path | None = None) -> WarehouseSettings:
    """The project's [warehouse] settings over the defaults; the defaults alone outside a project."""
    try:
        table = settings(project_dir or find_project_dir(), "warehouse")
    except BarstoreError:
        if project_dir is not None:
            raise
        table = {}
    unknown = sorted(set(table) - set(DEFAULTS))
    if unknown:
        raise BarstoreError(f"[warehouse] has unknown key(s) {', '.join(unknown)}; known: {', '.join(DEFAULTS)}")
    v = {**DEFAULTS, **table}
    temp = Path(str(v["temp_directory"])).expanduser()
    if not temp.is_absolute():
        temp = (home or Path(os.environ.get("BARSTORE_HOME", ".barstore"))).resolve() / temp
    return WarehouseSettings(
        memory_limit=str(v["memory_limit"]),
        threads=int(v["threads"]),
        temp_directory=temp,
        max_temp_directory_size=str(v["max_temp_directory_size"]),
        writer_wait=_seconds(v["writer_wait"], "writer_wait"),
        busy_timeout=_seconds(v["busy_timeout"], "busy_timeout"),
        inline_rows=int(v["inline_rows"]),
        snapshot_retention=_seconds(v["snapshot_retention"], "snapshot_retention"),
        build_batch_symbols=int(v["build_batch_symbols"]),
        compact_interval=_seconds(v["compact_interval"], "compact_interval"),
    )


def _seconds(value, key: str) -> float:
    if isinstance(value, int | float):
        return float(value)
    return parse_duration(str(value), f"[warehouse] {key}").total_seconds()
