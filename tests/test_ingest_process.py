"""Ingest through the CLI and as a process: plain errors, the write lock, and a SIGKILL mid-ingest."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
from typer.testing import CliRunner

from barstore.cli import app
from barstore.ingest import IngestOptions, ingest_files
from barstore.warehouse import connect

PROJECT = Path(__file__).resolve().parents[1]


def cli_env(home: Path) -> dict[str, str]:
    env = dict(os.environ, BARSTORE_HOME=str(home))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    return env


def run_cli(home: Path, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "barstore.cli", *args],
        cwd=PROJECT,
        env=cli_env(home),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


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
    assert state(tmp_path / "home" / "warehouse.duckdb")[0][0][:3] == ("X", "1m", 3)


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


def test_locked_warehouse_is_reported_plainly(tmp_path, bar_file, minute_bars):
    home = tmp_path / "home"
    home.mkdir()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); time.sleep(60)",
            str(home / "warehouse.duckdb"),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "ready"
        result = run_cli(
            home,
            "ingest",
            str(bar_file("a.csv", minute_bars(1))),
            "--symbol",
            "X",
            "--timeframe",
            "1m",
            "--calendar",
            "crypto_24x7",
        )
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 3
    assert "is locked by" in result.stderr and "one writer at a time" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout


def write_big_file(path: Path, rows: int) -> None:
    minutes = np.arange(rows, dtype=np.int64)
    ts = pa.array((1_600_000_020 + minutes * 60) * 1_000_000, pa.timestamp("us", tz="UTC"))
    price = 100.0 + (minutes % 1000) / 10.0
    table = pa.table(
        {"ts": ts, "open": price, "high": price + 1, "low": price - 1, "close": price, "volume": np.ones(rows)}
    )
    pq.write_table(table, path, compression="snappy")


def test_sigkill_mid_ingest_leaves_the_warehouse_as_before(tmp_path, bar_file, minute_bars):
    home = tmp_path / "home"
    home.mkdir()
    warehouse = home / "warehouse.duckdb"
    con = connect(warehouse)
    ingest_files(
        con,
        [bar_file("small.csv", minute_bars(5))],
        IngestOptions(symbol="SMALL", calendar="crypto_24x7"),
        progress=False,
    )
    con.close()
    before = state(warehouse)
    size_before = warehouse.stat().st_size
    wal = Path(f"{warehouse}.wal")

    big = tmp_path / "big.parquet"
    write_big_file(big, 4_000_000)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "barstore.cli",
            "ingest",
            str(big),
            "--symbol",
            "BIG",
            "--timeframe",
            "1m",
            "--calendar",
            "crypto_24x7",
        ],
        cwd=PROJECT,
        env=cli_env(home),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    # Kill once the bars start reaching the database file (or its WAL): mid-write, before COMMIT.
    deadline = time.monotonic() + 120
    while proc.poll() is None and time.monotonic() < deadline:
        if warehouse.stat().st_size > size_before or (wal.exists() and wal.stat().st_size > 0):
            break
        time.sleep(0.002)
    finished_early = proc.poll() is not None
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not finished_early, f"the ingest ended before it could be killed: {proc.stderr.read()!r}"
    assert proc.returncode == -signal.SIGKILL

    assert state(warehouse) == before
    # and the warehouse still takes writes
    con = connect(warehouse)
    report = ingest_files(con, [bar_file("more.csv", minute_bars(6))], IngestOptions(symbol="SMALL"), progress=False)
    con.close()
    assert report.total("inserted") == 1
