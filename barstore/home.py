"""Where a workspace keeps its state: one home folder (--home, $BARSTORE_HOME, ./.barstore)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

# The repository root: sql/, feature_repo/, expectations/ live beside the package.
PROJECT_DIR = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Workspace:
    home: Path
    project_dir: Path = PROJECT_DIR

    @property
    def warehouse(self) -> Path:
        return self.home / "warehouse.duckdb"

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


def resolve_home(home: str | os.PathLike | None = None) -> Workspace:
    chosen = home or os.environ.get("BARSTORE_HOME") or ".barstore"
    path = Path(chosen).expanduser().resolve()
    path.mkdir(parents=True, exist_ok=True)
    return Workspace(home=path)
