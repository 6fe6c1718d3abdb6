"""Online latency: all five models' windows for one symbol in one lookup, SQLite (in-process) and Redis.

Builds a workspace from 460 days of synthetic minute bars of one symbol (every model has a window), applies
feature_repo/, materializes, then times `inference.get_windows` (p50, p99). Redis: starts Debian's redis-server
on 127.0.0.1 when it is installed.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from barstore.feature_store import apply, open_store  # noqa: E402
from barstore.home import resolve_home  # noqa: E402
from barstore.ingest import IngestOptions, ingest_files  # noqa: E402
from barstore.specs import MODELS  # noqa: E402
from barstore.synthetic import write_demo_files  # noqa: E402
from barstore.transform.runner import build_models  # noqa: E402
from barstore.warehouse import connect  # noqa: E402
from benchmarks.common import machine  # noqa: E402
from inference import get_windows, materialize_windows  # noqa: E402

LOOKUPS = 2000


def latency(store, symbol: str) -> tuple[float, float]:
    for _ in range(50):
        get_windows(store, symbol)
    times = []
    for _ in range(LOOKUPS):
        start = time.perf_counter()
        get_windows(store, symbol)
        times.append(time.perf_counter() - start)
    return float(np.percentile(times, 50) * 1e3), float(np.percentile(times, 99) * 1e3)


def redis_server():
    exe = shutil.which("redis-server")
    if exe is None:
        return None, None
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    proc = subprocess.Popen(
        [exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(0.5)
    return proc, f"127.0.0.1:{port}"


def main() -> None:
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        ws = resolve_home(tmp)
        files = write_demo_files(Path(tmp) / "bars", days=460, n_symbols=1)
        con = connect(ws.warehouse)
        for f in files:
            ingest_files(
                con,
                [f.path],
                IngestOptions(symbol=f.symbol, timeframe=f.timeframe, calendar=f.calendar),
                progress=False,
            )
        build_models(con, ws.sql_dir, show=False)
        apply(ws)
        symbol = files[0].symbol
        width = sum(MODELS[m].steps * MODELS[m].n_features for m in MODELS)
        print(f"symbol {symbol}; five windows = {width:,} float64 values per lookup")
        store = open_store(ws)
        materialize_windows(store, con)
        p50, p99 = latency(store, symbol)
        print(f"  sqlite  p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   ({LOOKUPS} lookups)")
        proc, url = redis_server()
        if proc is None:
            print("  redis   skipped: redis-server not installed")
            return
        try:
            os.environ["BARSTORE_REDIS"] = url
            redis_store = open_store(ws, "redis")
            materialize_windows(redis_store, con)
            p50, p99 = latency(redis_store, symbol)
            print(f"  redis   p50 {p50:6.2f} ms   p99 {p99:6.2f} ms   ({LOOKUPS} lookups, server on {url})")
        finally:
            proc.terminate()


if __name__ == "__main__":
    main()
