"""`barstore build`, `dag` and `lineage` through the CLI, on a fixture project ($BARSTORE_SQL_DIR)."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from barstore.cli import app
from barstore.warehouse import connect

from .model_fixtures import RESAMPLE_PROJECT, add_bars, add_symbol, write_project


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("BARSTORE_SQL_DIR", str(write_project(tmp_path / "project", RESAMPLE_PROJECT)))
    home = tmp_path / "home"
    home.mkdir()
    con = connect(home / "warehouse.ducklake")
    add_symbol(con, "AAA")
    add_bars(con, "AAA", 0, 12)
    con.close()
    return home


def _run(home, *args):
    return CliRunner().invoke(app, [*args, "--home", str(home)])


def test_build_then_incremental_build(home):
    result = _run(home, "build")
    assert result.exit_code == 0, result.output
    assert "built 4 models" in result.stdout
    result = _run(home, "build", "--select", "bars_5m+")
    assert result.exit_code == 0 and "up to date" in result.stdout and "stg_bars" not in result.stdout
    con = connect(home / "warehouse.ducklake", read_only=True)
    assert con.execute("SELECT count(*) FROM bars_5m").fetchone()[0] == 3


def test_build_errors(home):
    result = _run(home, "build", "--select", "nope")
    assert result.exit_code == 4 and "selector 'nope'" in result.stderr


def test_dag(home):
    result = _run(home, "dag")
    assert result.exit_code == 0
    positions = [result.stdout.index(name) for name in ("stg_bars", "bars_5m", "feat_5m", "volume_by_symbol")]
    assert positions == sorted(positions)


def test_lineage(home):
    result = _run(home, "lineage", "volume_by_symbol.volume")
    assert result.exit_code == 0 and "raw.bars.volume" in result.stdout
    result = _run(home, "lineage", "volume_by_symbol")
    assert result.exit_code == 4 and "MODEL.COLUMN" in result.stderr
    result = _run(home, "lineage", "nope.x")
    assert result.exit_code == 4 and "no model named 'nope'" in result.stderr
