"""`[warehouse]` of barstore_project.toml: how much memory, how many threads and how much spill disk the
warehouse's DuckDB may take, and how long writers wait for each other. The defaults let a 16 GiB machine build
the whole universe: DuckDB's own default memory limit is 80% of RAM, which leaves nothing for Python, Arrow
and torch beside it."""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from pathlib import Path

from .errors import BarstoreError
from .project import find_project_dir, settings
from .settings_tables import Duration, Integer, Rule, Table, where
from .times import DURATION

SECTION = "warehouse"
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


class Size(Rule):
    """A size as DuckDB reads it ("4GiB", "500 MB", "1.5gb"; "none" or "-1": no limit), kept as the text."""

    expected = "a size such as 4GiB, 500MB or 1.5GB"
    UNITS = "b|bytes?|k|kb|kib|kilobytes?|m|mb|mib|megabytes?|g|gb|gib|gigabytes?|t|tb|tib|terabytes?"
    PATTERN = re.compile(rf"\s*(\d+(\.\d+)?\s*({UNITS})|none|-1)\s*", re.IGNORECASE)

    def read(self, value, label: str) -> str:
        if not isinstance(value, str) or not self.PATTERN.fullmatch(value):
            raise self.refuse(value, label)
        return value


class Folder(Rule):
    expected = "a folder path (text)"

    def read(self, value, label: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.refuse(value, label)
        return value


class Seconds(Duration):
    """A duration ("60s", "1h30m") or a number of seconds, held as seconds."""

    expected = f"{DURATION}, or a number of seconds >= 0"

    def read(self, value, label: str) -> float:
        if isinstance(value, int | float) and not isinstance(value, bool) and 0 <= value < math.inf:
            return float(value)
        return super().read(value, label).total_seconds()


RULES = {
    "memory_limit": Size(),
    "threads": Integer(ge=0),
    "temp_directory": Folder(),
    "max_temp_directory_size": Size(),
    "writer_wait": Seconds(),
    "busy_timeout": Seconds(),
    "inline_rows": Integer(ge=0),
    "snapshot_retention": Seconds(),
    "build_batch_symbols": Integer(ge=0),
    "compact_interval": Seconds(),
}
TABLE = Table(RULES, DEFAULTS)  # the defaults, read by the rules


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
    """The project's [warehouse] settings over the defaults; the defaults alone outside a project. Refusals name
    the file, the table and the key (barstore/settings_tables.py)."""
    if project_dir is None:
        try:
            project_dir = find_project_dir()
        except BarstoreError:  # outside a project: the defaults alone
            pass
    if project_dir is None:
        values = TABLE.defaults
    else:
        values = TABLE.read(settings(Path(project_dir), SECTION), where(project_dir, SECTION))
    temp = Path(values["temp_directory"]).expanduser()
    if not temp.is_absolute():
        temp = (home or Path(os.environ.get("BARSTORE_HOME", ".barstore"))).resolve() / temp
    return WarehouseSettings(**{**values, "temp_directory": temp})
