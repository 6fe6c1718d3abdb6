"""`[spark]` of barstore_project.toml: where the distributed build runs and what each task may take.

[spark]
master = "local[2]"          # local[N], spark://host:7077, yarn, k8s://...
partitions = 0               # shards of symbols (tasks); 0: two per core of a local master, else 8
max_failures = 4             # attempts per task before the job fails (local masters too)
task_threads = 1             # DuckDB threads in a task (match spark.task.cpus)
task_memory = "2GiB"         # DuckDB's memory in a task; spills to the task's temp folder above it
staging = "spark_staging"    # task outputs before the commit, relative to the home (a shared folder on a cluster)
[spark.conf]                 # any Spark setting, passed as is
"spark.driver.memory" = "2g"
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import BarstoreError
from ..project import find_project_dir
from ..settings_tables import Integer, Rule, load
from ..warehouse_settings import Folder, Size

SECTION = "spark"
LOCAL = re.compile(r"local(\[(\d+|\*)(,\s*(\d+))?\])?")


class Text(Rule):
    expected = "text"

    def read(self, value, label: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.refuse(value, label)
        return value.strip()


class Conf(Rule):
    expected = "a table of Spark settings (name = value)"

    def read(self, value, label: str) -> dict[str, str]:
        if not isinstance(value, dict) or any(isinstance(v, dict | list) for v in value.values()):
            raise self.refuse(value, label)
        return {str(k): str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}


RULES = {
    "master": Text(),
    "partitions": Integer(ge=0),
    "max_failures": Integer(ge=1),
    "task_threads": Integer(ge=1),
    "task_memory": Size(),
    "staging": Folder(),
    "conf": Conf(),
}


@dataclass(frozen=True)
class SparkSettings:
    master: str = "local[2]"
    partitions: int = 0
    max_failures: int = 4
    task_threads: int = 1
    task_memory: str = "2GiB"
    staging: str = "spark_staging"
    conf: dict[str, str] = field(default_factory=dict)

    def with_options(self, master: str | None = None, partitions: int | None = None) -> SparkSettings:
        """These settings with the command line's --master / --partitions over them."""
        if partitions is not None and partitions < 1:
            raise BarstoreError(f"--partitions must be at least 1 (got {partitions})")
        return replace(self, master=master or self.master, partitions=partitions or self.partitions)

    def master_url(self) -> str:
        """The master as Spark reads it. A local master retries a failed task only when told how often
        (local[N, F]): without it one killed worker would fail the whole job."""
        found = LOCAL.fullmatch(self.master.replace(" ", ""))
        if found is None or found.group(4):
            return self.master
        cores = found.group(2) or "1"
        return f"local[{cores},{self.max_failures}]"

    def local_cores(self) -> int | None:
        found = LOCAL.fullmatch(self.master.replace(" ", ""))
        if found is None:
            return None
        cores = found.group(2) or "1"
        return os.cpu_count() or 1 if cores == "*" else int(cores)

    def shard_count(self, groups: int) -> int:
        """How many shards (tasks) `groups` symbol groups are cut into."""
        wanted = self.partitions or 2 * (self.local_cores() or 4)
        return max(1, min(wanted, groups))

    def staging_dir(self, home: Path) -> Path:
        path = Path(self.staging).expanduser()
        return path if path.is_absolute() else Path(home).resolve() / path


def spark_settings(project_dir: Path | None = None) -> SparkSettings:
    """The project's [spark] table over the defaults (the defaults alone outside a project)."""
    if project_dir is None:
        try:
            project_dir = find_project_dir()
        except BarstoreError:
            return SparkSettings()
    return load(SparkSettings, project_dir, SECTION, RULES)
