"""Where a workspace keeps its state: one home folder (--home, $BARSTORE_HOME, ./.barstore).

A workspace also knows its project (the SQL models, feature_repo/, expectations/), found when first needed
(barstore.project): commands that only touch the warehouse work anywhere."""

from __future__ import annotations

import os
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from .project import find_project_dir


@dataclass(frozen=True)
class Workspace:
    home: Path
    project: str | None = None  # --project-dir, if given

    @cached_property
    def project_dir(self) -> Path:
        return find_project_dir(self.project)

    @property
    def warehouse(self) -> Path:
        """The warehouse's catalog (a SQLite file; its Parquet data lies in warehouse_files/ beside it)."""
        return self.home / "warehouse.ducklake"

    @property
    def sql_dir(self) -> Path:
        # $BARSTORE_SQL_DIR points the commands at another models folder (tests use fixture projects).
        override = os.environ.get("BARSTORE_SQL_DIR")
        return Path(override).expanduser().resolve() if override else self.project_dir / "sql"

    @property
    def models_dir(self) -> Path:
        return self.home / "models"

    @property
    def reports_dir(self) -> Path:
        return self.home / "reports"


def resolve_home(home: str | os.PathLike | None = None, project: str | os.PathLike | None = None) -> Workspace:
    chosen = home or os.environ.get("BARSTORE_HOME") or ".barstore"
    path = Path(chosen).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return Workspace(home=path, project=str(project) if project else None)
