"""The users' scale end to end, as a user runs it: every stage a `barstore` command in its own process, timed with
its peak RSS (`/usr/bin/time`), and `barstore sql` latency measured while the build runs.

  universe N: N synthetic symbols x 1 year of US regular-hours minutes (seeded; 2024, NYSE sessions: 251 days,
              ~97.6k bars a symbol): ingest -> build -> apply -> validate -> train the three minute models one
              epoch on bounded samples -> materialize -> predict (three-model ensemble, no trend filter)
  sp500:      the S&P 500 daily file (503 symbols x 20 years) -> ingest (quarantining its one bad row) -> build

Run: make bench-scale   (or .venv/bin/python benchmarks/scale_end_to_end.py --symbols 118 300 --sp500)
Not in CI: the 300-symbol universe takes ~15 minutes on 2 cores. Figures go to BENCHMARKS.md by hand.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import DATA, PROJECT_DIR, machine  # noqa: E402

CLI = [sys.executable, "-m", "barstore.cli"]
FIRST_DAY, DAYS = date(2024, 1, 1), 366  # 2024 is a leap year: the whole of it
SYMBOLS_PER_FILE = 25
MINUTE_MODELS = ("seq300_minute", "seq500_minute", "seq800_minute")
# training runs: bounded, at least the gate's min_samples (1000)
SAMPLES = {"seq300_minute": 2000, "seq500_minute": 1000, "seq800_minute": 1000}


def write_universe(folder: Path, n: int) -> list[Path]:
    """N synthetic RTH symbols, SYMBOLS_PER_FILE to a Parquet file with a symbol column."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from barstore.synthetic import generate_minute_bars

    folder.mkdir(parents=True)
    paths = []
    for first in range(0, n, SYMBOLS_PER_FILE):
        tables = [
            generate_minute_bars(f"S{i:03d}", "us_rth", FIRST_DAY, DAYS, seed=7, start_price=20.0 + i)
            for i in range(first, min(n, first + SYMBOLS_PER_FILE))
        ]
        path = folder / f"rth_{first:03d}.parquet"
        pq.write_table(pa.concat_tables(tables), path)
        paths.append(path)
    return paths


def timed(home: Path, args: list[str], label: str, results: list) -> float:
    """Run `barstore ARGS --home HOME` under /usr/bin/time; record (label, wall s, peak RSS GiB)."""
    cmd = ["/usr/bin/time", "-f", "%e %M", *CLI, *args, "--home", str(home)]
    done = subprocess.run(cmd, cwd=PROJECT_DIR, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{label} failed ({done.returncode}):\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    wall, kib = done.stderr.strip().splitlines()[-1].split()
    results.append((label, float(wall), int(kib) / 2**20))
    print(f"  {label:44s} {float(wall):8.1f} s  {int(kib) / 2**20:6.2f} GiB", flush=True)
    return float(wall)


def sql_latency_during(home: Path, stop: threading.Event, out: list) -> None:
    """`barstore sql` (a whole process) again and again until `stop`: the analyst's view of a running build."""
    query = "SELECT count(*) FROM raw.bars"
    while not stop.is_set():
        start = time.perf_counter()
        done = subprocess.run([*CLI, "sql", query, "--home", str(home)], cwd=PROJECT_DIR, capture_output=True)
        out.append((time.perf_counter() - start, done.returncode))


def universe(n: int, root: Path, full_gate: bool, serve: bool = True, resume: bool = False) -> list:
    print(f"universe of {n} symbols x 1 year of RTH minutes", flush=True)
    home, results = root / "home", []
    if resume and home.exists():
        print(f"  (resuming {home}: ingested, built and applied before)", flush=True)
    else:
        load(root, home, n, results)
    timed(home, ["validate", "seq300_minute", "--max-samples", "2000"], "validate seq300_minute (2000)", results)
    timed(home, ["validate", "seq300_minute", "--max-samples", "2000"], "the same again (bars passed before)", results)
    if full_gate:  # the gate over every sample, in bounded memory
        timed(home, ["validate", "seq300_minute"], "validate seq300_minute (every sample)", results)
    if not serve:
        return results
    for model in MINUTE_MODELS:
        args = ["train", model, "--max-samples", str(SAMPLES[model]), "--epochs", "1", "--device", "cpu"]
        timed(home, args, f"train {model} ({SAMPLES[model]}, 1 epoch)", results)
    as_of = "2024-12-31T21:00:01"  # the last bar's close + 1 s
    timed(home, ["materialize", "--as-of", as_of], "materialize", results)
    # S001 has no minute window at the end: its %B is undefined after 20 flat minutes (a $21 synthetic price)
    predict = ["predict", "S000", "S002", "--as-of", as_of, "--mode", "three_model", "--trend-filter", "none"]
    timed(home, predict, "predict (2 symbols, cold process)", results)
    return results


def load(root: Path, home: Path, n: int, results: list) -> None:
    """Bar files -> ingest -> full build (with `barstore sql` polled meanwhile) -> apply."""
    started = time.perf_counter()
    files = write_universe(root / "bars", n)
    print(f"  (bar files written in {time.perf_counter() - started:.0f} s, not timed)", flush=True)
    timed(home, ["ingest", *map(str, files), "--timeframe", "1m", "--calendar", "us_rth"], "ingest", results)
    stop, latencies = threading.Event(), []
    poller = threading.Thread(target=sql_latency_during, args=(home, stop, latencies))
    poller.start()
    try:
        timed(home, ["build", "--verbose"], "build (full)", results)
    finally:
        stop.set()
        poller.join()
    ok = [s for s, rc in latencies if rc == 0]
    failed = sum(1 for _, rc in latencies if rc)
    if ok:
        print(f"  barstore sql during the build: {len(ok)} answers, median {statistics.median(ok):.2f} s, "
              f"max {max(ok):.2f} s, {failed} failed")  # fmt: skip
    timed(home, ["apply"], "apply", results)


def sp500(root: Path) -> list:
    path = DATA / "sp500_daily_1999-2020.parquet"
    if not path.exists():
        print(f"sp500: {path} absent, skipped")
        return []
    print("S&P 500 daily file (503 symbols x 20 years)", flush=True)
    home, results = root / "sp500", []
    args = ["ingest", str(path), "--timeframe", "1d", "--calendar", "us_rth", "--on-bad-rows", "quarantine",
            "--prices", "raw"]  # fmt: skip
    timed(home, args, "ingest", results)
    timed(home, ["build"], "build (full)", results)
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, nargs="*", default=[118, 300])
    parser.add_argument("--sp500", action="store_true", help="also the S&P 500 daily file")
    parser.add_argument("--full-gate-up-to", type=int, default=118, help="validate every sample up to N symbols")
    parser.add_argument("--keep", type=Path, help="build the homes here and keep them (for bench_training.py)")
    parser.add_argument("--serve-up-to", type=int, default=10**6, help="train, materialize, predict up to N symbols")
    parser.add_argument("--resume", action="store_true", help="a home kept by --keep: go on from validate")
    args = parser.parse_args()
    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp)
        if args.sp500:
            sp500(root)
        for n in args.symbols:
            universe(
                n,
                root / f"u{n}",
                n <= args.full_gate_up_to,
                n <= args.serve_up_to,
                args.resume and args.keep is not None,
            )


if __name__ == "__main__":
    main()
