"""Finding the project (sql/, feature_repo/, expectations/ and barstore_project.toml) the way dbt finds its own.

A project folder is one holding `barstore_project.toml`. It is, in this order: `--project-dir`, the environment
variable BARSTORE_PROJECT_DIR, else the working directory or the nearest folder above it that holds the file.
The package itself is never the answer: a `pip install .` copies the code, not the project's SQL or suites.

`barstore_project.toml` also holds the settings of the later stages, one table each (`[validation]`,
`[ensemble]`, `[backtest]`, `[serving]`); `settings(section)` reads one, and each stage fills in its defaults.
"""

from __future__ import annotations

import os
import tomllib
from functools import lru_cache
from pathlib import Path

from .errors import BarstoreError

PROJECT_FILE = "barstore_project.toml"
PROJECT_ENV = "BARSTORE_PROJECT_DIR"


def find_project_dir(explicit: str | os.PathLike | None = None, start: Path | None = None) -> Path:
    """The project folder; a BarstoreError saying where it looked when there is none."""
    chosen = explicit or os.environ.get(PROJECT_ENV)
    if chosen:
        path = Path(chosen).expanduser().resolve()
        if not (path / PROJECT_FILE).is_file():
            source = "--project-dir" if explicit else PROJECT_ENV
            raise BarstoreError(f"{source} {path} is not a barstore project: it has no {PROJECT_FILE}")
        return path
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / PROJECT_FILE).is_file():
            return folder
    raise BarstoreError(
        f"no barstore project found: neither {here} nor a folder above it holds {PROJECT_FILE}; "
        f"run from the project (the folder with sql/ and feature_repo/), or pass --project-dir / set {PROJECT_ENV}"
    )


@lru_cache(maxsize=8)
def _load(path: Path, mtime: float) -> dict:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as err:
        raise BarstoreError(f"{path}: {err}") from None


def settings(project_dir: Path, section: str) -> dict:
    """One table of the project's barstore_project.toml ({} when it is absent)."""
    path = Path(project_dir) / PROJECT_FILE
    if not path.is_file():
        raise BarstoreError(f"{project_dir} is not a barstore project: it has no {PROJECT_FILE}")
    value = _load(path, path.stat().st_mtime).get(section, {})
    if not isinstance(value, dict):
        raise BarstoreError(f"{path}: [{section}] must be a table")
    return value
