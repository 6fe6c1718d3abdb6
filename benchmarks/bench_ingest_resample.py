"""Ingest the ~1M-row Binance set and build the resample DAG; print rows/s per step.

Run: .venv/bin/python benchmarks/bench_ingest_resample.py   (figures go to BENCHMARKS.md by hand)
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from barstore.ingest import IngestOptions, ingest_files  # noqa: E402
from barstore.transform.runner import build_models  # noqa: E402
from barstore.warehouse import connect  # noqa: E402
from benchmarks.common import (  # noqa: E402
    BINANCE,
    PROJECT_DIR,  # noqa: E402
    machine,
    require_data,
    stopwatch,
)

RESAMPLE_DAG = "staging/ contracts/ bars/"


def main() -> None:
    require_data()
    print(machine())
    rows = duckdb.sql(f"SELECT count(*) FROM '{BINANCE}'").fetchall()[0][0]
    t: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        con = connect(Path(tmp) / "warehouse.ducklake")
        with stopwatch(t, "ingest"):
            ingest_files(con, [BINANCE], IngestOptions(timeframe="1m", calendar="crypto_24x7"), progress=False)
        with stopwatch(t, "re-ingest (no-op)"):
            ingest_files(con, [BINANCE], IngestOptions(timeframe="1m", calendar="crypto_24x7"), progress=False)
        with stopwatch(t, "resample DAG (full)"):
            results = build_models(con, PROJECT_DIR / "sql", select=RESAMPLE_DAG, show=False)
        with stopwatch(t, "resample DAG (nothing new)"):
            build_models(con, PROJECT_DIR / "sql", select=RESAMPLE_DAG, show=False)
        out = con.execute("SELECT timeframe, count(*) FROM resampled_bars GROUP BY 1 ORDER BY 1").fetchall()
        # the alternative we rejected: a declared primary key on raw.bars
        con.execute("CREATE TABLE pk_bars AS SELECT * FROM raw.bars LIMIT 0")
        con.execute("ALTER TABLE pk_bars ADD PRIMARY KEY (symbol, timeframe, ts)")
        with stopwatch(t, "insert into a PK-indexed copy"):
            con.execute("INSERT INTO pk_bars SELECT * FROM raw.bars")
        con.execute("CREATE TABLE plain_bars AS SELECT * FROM raw.bars LIMIT 0")
        with stopwatch(t, "insert into an unindexed copy"):
            con.execute("INSERT INTO plain_bars SELECT * FROM raw.bars")
    start = time.perf_counter()
    subprocess.run([str(Path(sys.executable).parent / "barstore"), "--help"], capture_output=True, check=True)
    t["barstore --help"] = time.perf_counter() - start

    print(f"input: {rows:,} one-minute bars, 18 symbols")
    for name, seconds in t.items():
        rate = f"{rows / seconds / 1e6:6.2f} M rows/s" if "help" not in name else ""
        print(f"  {name:32s} {seconds:7.3f} s  {rate}")
    print("  per model (full build):")
    for r in results:
        print(f"    {r.model:24s} {r.seconds:7.3f} s  rows={r.rows}")
    print("  output bars: " + ", ".join(f"{tf}={n:,}" for tf, n in out))
    ratio = t["insert into a PK-indexed copy"] / t["insert into an unindexed copy"]
    print(f"  PK insert / unindexed insert: {ratio:.1f}x")


if __name__ == "__main__":
    main()
