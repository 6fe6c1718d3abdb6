"""Finding the project like dbt: --project-dir, $BARSTORE_PROJECT_DIR, else the working directory upwards."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from barstore.errors import BarstoreError
from barstore.project import PROJECT_ENV, find_project_dir, settings

from .data_paths import PROJECT_DIR


def test_found_from_a_subfolder(monkeypatch):
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    assert find_project_dir(start=PROJECT_DIR / "sql" / "features") == PROJECT_DIR


def test_explicit_and_environment_win_and_are_checked(tmp_path, monkeypatch):
    (tmp_path / "barstore_project.toml").write_text("[validation]\npositive_share = [0.3, 0.7]\n")
    monkeypatch.setenv(PROJECT_ENV, str(tmp_path))
    assert find_project_dir(start=PROJECT_DIR) == tmp_path
    assert settings(tmp_path, "validation") == {"positive_share": [0.3, 0.7]}
    assert find_project_dir(PROJECT_DIR) == PROJECT_DIR
    with pytest.raises(BarstoreError, match="has no barstore_project.toml"):
        find_project_dir(tmp_path / "elsewhere")


def test_none_found_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.delenv(PROJECT_ENV, raising=False)
    with pytest.raises(BarstoreError, match="no barstore project found: neither .* holds barstore_project.toml"):
        find_project_dir(start=tmp_path)


def test_cli_outside_the_project(tmp_path):
    """A command that needs the SQL models, run elsewhere: a plain error and exit 1, or --project-dir."""
    env = {k: v for k, v in os.environ.items() if k != PROJECT_ENV} | {"BARSTORE_HOME": str(tmp_path / "home")}
    cli = [sys.executable, "-m", "barstore.cli"]
    lost = subprocess.run([*cli, "dag"], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert lost.returncode == 1 and "no barstore project found" in lost.stderr and "Traceback" not in lost.stderr
    found = subprocess.run(
        [*cli, "--project-dir", str(PROJECT_DIR), "dag"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert found.returncode == 0 and "bars_1m" in found.stdout
