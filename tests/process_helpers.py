"""Running barstore as its users do, in separate processes: the CLI, and a writer held open mid-transaction."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

PROJECT = Path(__file__).resolve().parents[1]


def cli_env(home: Path, **extra: str) -> dict[str, str]:
    env = dict(os.environ, BARSTORE_HOME=str(home), **extra)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT), env.get("PYTHONPATH")]))
    return env


def run_cli(home: Path, *args: str, timeout: float = 60, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "barstore.cli", *args],
        cwd=PROJECT,
        env=cli_env(home, **env),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def write_big_file(path: Path, rows: int) -> None:
    """`rows` one-minute bars of one symbol as Parquet: an ingest long enough to be caught mid-write."""
    minutes = np.arange(rows, dtype=np.int64)
    ts = pa.array((1_600_000_020 + minutes * 60) * 1_000_000, pa.timestamp("us", tz="UTC"))
    price = 100.0 + (minutes % 1000) / 10.0
    table = pa.table(
        {"ts": ts, "open": price, "high": price + 1, "low": price - 1, "close": price, "volume": np.ones(rows)}
    )
    pq.write_table(table, path, compression="snappy")
