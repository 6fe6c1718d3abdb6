"""The distributed build against the local one: N synthetic symbols x 1 year of US regular-hours minutes, ingested
once, then built from scratch three ways on copies of the same warehouse, each in its own process:

  local       barstore's runner in one DuckDB process ([warehouse] build_batch_symbols at a time)
  spark[1]    Spark local[1], P shards (one task at a time)
  spark[2]    Spark local[2], P shards (two at a time)

Per run: wall time, the peak RSS of the whole process tree (driver Python + JVM + Python workers, sampled from
/proc every 0.2 s), the driver's own peak, and per shard (task) its seconds and its worker's peak RSS, so that the
time on N executors can be read off (total task seconds / N + the driver's fixed part). A small run (18 symbols x
5 days) states Spark's overhead on small data.

Run: .venv/bin/python benchmarks/bench_distributed_build.py [--symbols 118] [--partitions 8]
Not in CI (~25 minutes on 2 cores at 118 symbols). Figures go to BENCHMARKS.md by hand.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import PROJECT_DIR, machine  # noqa: E402
from benchmarks.scale_end_to_end import write_universe  # noqa: E402

RUN_ONE = """
import json, resource, sys, time
from pathlib import Path
from barstore.warehouse import connect
from barstore.warehouse_settings import warehouse_settings
home, engine, master, partitions = Path(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
con = connect(home / "warehouse.ducklake", settings=warehouse_settings(home=home, project_dir=Path.cwd()))
start = time.perf_counter()
if engine == "local":
    from barstore.transform.runner import build_models
    build_models(con, Path("sql"), show=False)
    shards = []
else:
    from barstore.spark.build import build_with_spark
    from barstore.spark.settings import spark_settings
    settings = spark_settings(Path.cwd()).with_options(master, partitions)
    run = build_with_spark(con, Path("sql"), settings, show=False)
    shards = [vars(o) for o in run.shards]
seconds = time.perf_counter() - start
rows = con.execute("SELECT count(*) FROM indicators").fetchone()[0]
driver_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"seconds": seconds, "rows": rows, "driver_mb": driver_mb, "shards": shards}))
"""


def tree_rss_mb(pid: int) -> float:
    """RSS of a process and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            children.setdefault(int(parts[1]), []).append(int(entry))
            rss[int(entry)] = int(parts[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total / 2**20


def run(home: Path, engine: str, master: str = "", partitions: int = 0) -> dict:
    proc = subprocess.Popen(
        [sys.executable, "-c", RUN_ONE, str(home), engine, master or "-", str(partitions)],
        cwd=PROJECT_DIR,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    peak = [0.0]

    def sample():
        while proc.poll() is None:
            peak[0] = max(peak[0], tree_rss_mb(proc.pid))
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    out, err = proc.communicate()
    sampler.join()
    if proc.returncode:
        raise SystemExit(f"{engine} {master} failed ({proc.returncode}):\n{err[-3000:]}")
    result = json.loads(out.strip().splitlines()[-1])
    result["tree_mb"] = peak[0]
    return result


def ingest(home: Path, files: list[Path]) -> None:
    cli = [sys.executable, "-m", "barstore.cli", "ingest", *map(str, files)]
    cli += ["--timeframe", "1m", "--calendar", "us_rth", "--home", str(home)]
    subprocess.run(cli, cwd=PROJECT_DIR, check=True, capture_output=True)


def report(label: str, r: dict, workers: int | None) -> str:
    shards = r["shards"]
    line = f"| {label} | {r['seconds']:.1f} | {r['tree_mb']:,.0f} | {r['driver_mb']:,.0f} |"
    if not shards:
        return line + " - | - | - |"
    by_shard: dict[int, float] = {}
    for s in shards:  # one row per (shard, batch, model): a batch's seconds repeat across its models
        by_shard.setdefault((s["shard"], s["batch"]), s["seconds"])
    task_s = sum(by_shard.values())
    per = sorted(by_shard.values())
    worker_mb = max(s["peak_rss_mb"] for s in shards)
    return line + f" {len(per)} tasks: {per[0]:.1f}–{per[-1]:.1f} s (sum {task_s:.1f}) | {worker_mb:,.0f} | {workers} |"


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--symbols", type=int, default=118)
    parser.add_argument("--partitions", type=int, default=8)
    args = parser.parse_args()
    from barstore.lake import copy_lake

    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        files = write_universe(tmp / "bars", args.symbols)
        base = tmp / "base"
        t = time.perf_counter()
        ingest(base, files)
        print(f"ingested {args.symbols} symbols in {time.perf_counter() - t:.1f} s")
        rows = ["| engine | wall s | peak RSS, process tree MiB | driver MiB | per task | worker peak MiB | slots |"]
        rows.append("|---|---|---|---|---|---|---|")
        results = {}
        for label, engine, master, workers in (
            ("local DuckDB", "local", "", None),
            ("Spark local[1]", "spark", "local[1]", 1),
            ("Spark local[2]", "spark", "local[2]", 2),
        ):
            home = tmp / label.replace(" ", "_").replace("[", "").replace("]", "")
            home.mkdir()
            copy_lake(base / "warehouse.ducklake", home / "warehouse.ducklake")
            results[label] = run(home, engine, master, args.partitions)
            rows.append(report(label, results[label], workers))
            print(rows[-1], flush=True)
        print("\n".join(rows))
        from barstore.spark.compare import differing_tables
        from barstore.warehouse import connect

        local = tmp / "local_DuckDB" / "warehouse.ducklake"
        for label in ("Spark_local1", "Spark_local2"):
            con = connect(tmp / label / "warehouse.ducklake")
            unequal = {t: d for t, (d, _) in differing_tables(con, local).items() if d}
            con.close()
            print(f"{label}: {'equal to the local build in every table' if not unequal else unequal}")


if __name__ == "__main__":
    main()
