"""Training: is the data path ever the bottleneck, and how much memory does a run take?

Per model, on a workspace of real bars (default: the one `reports/train_real_data.sh` builds, `.barstore-real`):
- loader-only throughput: windows/s of the input pipeline alone (gather rows by index from the shared float64
  matrix, stationary transform, normalization, float32), batch 64 - target >= 50x the training throughput;
- training throughput: windows/s of forward + backward + AdamW steps over the same batches (the loop's code);
- peak RSS of a whole `barstore train` run (a subprocess, 1 epoch, --max-samples as below) beside the aligned
  matrix and the model's parameters - target: peak RSS <= 2x (matrix + model), with the interpreter's own
  footprint (torch, Feast, GX imported) shown apart, since at these sizes it dominates;
- the wall time of `barstore validate` for the same selection (a subprocess: imports included).

    python benchmarks/bench_training.py [HOME] [--symbols-minute ES,BTCUSDT --symbols-hourly SPY,BTCUSDT_SPOT]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.common import PROJECT_DIR, machine  # noqa: E402

BATCH = 64
BATCHES = 6
SAMPLES = {
    "seq300_minute": 1200,
    "seq500_minute": 1200,
    "seq800_minute": 1200,
    "seq500_hourly": 1200,
    "longterm_multitf": 400,
}
PROBE = """
import json, resource, sys, time
t0 = time.perf_counter()
import torch, feast, great_expectations  # what a training run imports anyway
from barstore.cli import app
base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
sys.argv = ["barstore", *json.loads(sys.argv[1])]
try:
    app()
except SystemExit:
    pass
print(json.dumps({"base_kib": base, "peak_kib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}))
"""


def throughput(spec, home: Path, symbols: str, n: int) -> dict:
    import torch

    from barstore.feature_store import open_store
    from barstore.home import resolve_home
    from barstore.inputs import InputPipeline, Normalizer
    from barstore.networks import network_for
    from barstore.splits import walk_forward
    from barstore.windows.selection import Selection, select_dataset
    from training.config import TrainingConfig
    from training.loop import LabelScale, loss_of

    ws = resolve_home(home)
    ds = select_dataset(ws, spec, Selection(symbols=tuple(symbols.split(",")), max_samples=n), open_store(ws))
    splits = walk_forward(ds.timestamps, ds.label_times)
    ends, labels = ds.ends[torch.from_numpy(splits.train)], ds.labels[torch.from_numpy(splits.train)]
    normalizer = Normalizer.fit(ds.matrix, ends, spec.steps, ds.columns)
    inputs = InputPipeline(tuple(ds.columns), spec.steps, normalizer)
    batches = [torch.arange(i * BATCH, (i + 1) * BATCH) % len(ends) for i in range(BATCHES)]
    start = time.perf_counter()
    for _ in range(5):
        for b in batches:
            inputs(ds.matrix, ends[b])
    loader = 5 * BATCHES * BATCH / (time.perf_counter() - start)
    torch.manual_seed(0)
    network, config = network_for(spec), TrainingConfig()
    optimizer = torch.optim.AdamW(network.parameters(), lr=config.learning_rate)
    scale = LabelScale.fit(labels)
    network.train()
    start = time.perf_counter()
    for b in batches:
        loss = loss_of(network(inputs(ds.matrix, ends[b])), labels[b], scale, config)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    train = BATCHES * BATCH / (time.perf_counter() - start)
    params = sum(p.numel() * p.element_size() for p in network.parameters())
    return {
        "loader": loader,
        "train": train,
        "matrix_mib": ds.matrix.numel() * 8 / 2**20,
        "model_mib": params / 2**20,
        "rows": ds.matrix.shape[0],
        "samples": len(ds),
    }


def command(args: list[str], home: Path) -> tuple[float, dict | None]:
    start = time.perf_counter()
    out = subprocess.run(
        [sys.executable, "-c", PROBE, json.dumps([*args, "--home", str(home)])],
        cwd=PROJECT_DIR,
        capture_output=True,
        text=True,
    )
    seconds = time.perf_counter() - start
    last = out.stdout.strip().splitlines()[-1] if out.stdout.strip() else ""
    return seconds, json.loads(last) if last.startswith("{") else None


def main() -> None:
    from barstore.specs import MODELS

    parser = argparse.ArgumentParser()
    parser.add_argument("home", nargs="?", default=str(PROJECT_DIR / ".barstore-real"))
    parser.add_argument("--symbols-minute", default="ES,BTCUSDT,ETHUSDT,SOLUSDT")
    parser.add_argument("--symbols-hourly", default="SPY,AAPL,IBM,BAC,AIG,BTCUSDT_SPOT")
    parser.add_argument("--models", help="comma-separated (default: all five)")
    parser.add_argument("--samples", type=int, help="samples per model (default: 1,200, long-term 400)")
    opts = parser.parse_args()
    home = Path(opts.home).resolve()
    print(machine())
    print(f"workspace {home}; batch {BATCH}, {BATCHES} batches; float32; 1 epoch in the RSS runs")
    print(
        f"{'model':18} {'loader/s':>9} {'train/s':>8} {'ratio':>6} {'matrix MiB':>10} {'model MiB':>9} "
        f"{'RSS base MiB':>12} {'RSS peak MiB':>12} {'peak-base / (matrix+model)':>27} {'validate s':>10}"
    )
    chosen = opts.models.split(",") if opts.models else list(MODELS)
    for spec in (MODELS[name] for name in chosen):
        symbols = opts.symbols_minute if spec.timeframe == "1m" else opts.symbols_hourly
        n = opts.samples or SAMPLES[spec.name]
        t = throughput(spec, home, symbols, n)
        selection = ["--symbols", symbols, "--max-samples", str(n)]
        validate_s, _ = command(["validate", spec.name, *selection], home)
        _, rss = command(["train", spec.name, *selection, "--epochs", "1", "--seed", "0"], home)
        base = rss["base_kib"] / 1024 if rss else float("nan")
        peak = rss["peak_kib"] / 1024 if rss else float("nan")
        ratio = (peak - base) / (t["matrix_mib"] + t["model_mib"])
        print(
            f"{spec.name:18} {t['loader']:9.0f} {t['train']:8.1f} {t['loader'] / t['train']:5.0f}x "
            f"{t['matrix_mib']:10.1f} {t['model_mib']:9.2f} {base:12.0f} {peak:12.0f} {ratio:26.2f}x "
            f"{validate_s:10.1f}"
        )


if __name__ == "__main__":
    main()
