"""Ingest through the CLI and as a process: plain errors and exit codes (the write lock and crashes: test_snapshots)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from barstore.cli import app
from barstore.warehouse import connect

from .process_helpers import run_cli


def state(warehouse: Path):
    con = connect(warehouse)
    try:
        return tuple(
            con.execute(q).fetchall()
            for q in (
                "SELECT symbol, timeframe, count(*), min(ts), max(ts), sum(close), max(ingested_at) "
                "FROM raw.bars GROUP BY ALL ORDER BY ALL",
                "SELECT * FROM raw.ingest_log ORDER BY ALL",
                "SELECT symbol, calendar FROM raw.symbols ORDER BY ALL",
                "SELECT count(*) FROM raw.rejected_bars",
            )
        )
    finally:
        con.close()


def test_cli_ingest_prints_the_report(tmp_path, bar_file, minute_bars):
    path = bar_file("a.csv", minute_bars(3))
    result = CliRunner().invoke(
        app,
        [
            "ingest",
            str(path),
            "--symbol",
            "X",
            "--timeframe",
            "1m",
            "--calendar",
            "crypto_24x7",
            "--home",
            str(tmp_path / "home"),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "inserted" in result.output and "3 rows in" in result.output
    assert state(tmp_path / "home" / "warehouse.ducklake")[0][0][:3] == ("X", "1m", 3)


def test_cli_bad_file_exits_nonzero_without_traceback(tmp_path, bar_file, minute_bars):
    rows = minute_bars(3)
    rows[1]["low"] = 500.0
    path = bar_file("bad.csv", rows)
    result = run_cli(
        tmp_path / "home", "ingest", str(path), "--symbol", "X", "--timeframe", "1m", "--calendar", "crypto_24x7"
    )
    assert result.returncode == 2
    assert "error:" in result.stderr and "bad.csv" in result.stderr and "row 3: low 500.0 is above" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
