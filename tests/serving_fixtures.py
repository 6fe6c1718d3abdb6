"""A synthetic serving workspace for the predict and serve tests, built once per test session.

- bars: SYN_BTC (the demo's first symbol, 24/7) for DAYS days from 2024-01-01, enough for every model's window
  (the long-term model needs 365 daily steps after ~50 days of indicator and 30-day profile history), and
  SYN_ETH for only SHORT_DAYS days before AS_OF: minute windows, no hourly or long-term one;
- the demo's own stages prepare, ingest, build and register them (`barstore demo` on those files);
- tiny runs of all five models (epoch 1, a few dozen windows, 8-unit one-layer LSTMs; the long-term network is
  fixed), fit with `training.run.fit_dataset` on SYN_BTC's offline windows with plain 60/20/20 splits (the
  validation gate's minimums are for real training, not for these), and a second seq300_minute run (another
  seed) so `--run` has a choice;
- `barstore materialize --as-of AS_OF`'s code path: every window online as of AS_OF, when SYN_BTC's five windows
  all end at WINDOW_END (a daily, hourly and minute close at once) and all have labels, so the offline dataset
  holds them (`window_at`) for the recomputation the tests compare with.

Tests that change a workspace (new bars, a removed run) work on `copy_home`.
"""

from __future__ import annotations

import io
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq

from barstore.home import Workspace, resolve_home
from barstore.lake import copy_lake
from barstore.specs import MODELS
from barstore.synthetic import DEMO_SEED, DEMO_START, demo_specs, generate_minute_bars, write_demo_file

DAYS = 435  # SYN_BTC's bars end at 2025-03-11 00:00 UTC; long-term windows from ~2025-02-18
SHORT_DAYS = 3
WINDOW_END = datetime(2025, 3, 5, tzinfo=UTC)  # labelled for every model: the longest horizon is 5 days
AS_OF = WINDOW_END + timedelta(seconds=30)  # between two minute closes, so WINDOW_END is every model's latest step
PROJECT_DIR = Path(__file__).resolve().parents[1]
SYMBOL, SHORT_SYMBOL = "SYN_BTC", "SYN_ETH"
TINY_NETWORK = {"hidden_size": 8, "num_layers": 1}
SAMPLES = 30  # training windows per model (all of the long-term model's when it has fewer)
DEMO_STAGES = ("prepare bar files", "ingest into raw.bars", "build SQL models", "register Feast feature repo")


@dataclass
class ServingWorkspace:
    ws: Workspace
    datasets: dict  # model -> SYN_BTC's offline WindowDataset (all labelled windows)
    runs: dict  # model -> [RunInfo], oldest first

    @property
    def home(self) -> Path:
        return self.ws.home


_BUILT: dict[str, ServingWorkspace] = {}


def serving_workspace(tmp_path_factory) -> ServingWorkspace:
    """The session's workspace (built on first use; pytest would build a session fixture imported into two
    modules twice)."""
    if "ws" not in _BUILT:
        _BUILT["ws"] = build_serving_workspace(tmp_path_factory.mktemp("serving"))
    return _BUILT["ws"]


def build_serving_workspace(root: Path) -> ServingWorkspace:
    from barstore.cli.demo import STAGES, run_demo
    from barstore.feature_store import open_store
    from barstore.warehouse import connect
    from barstore.windows import window_dataset
    from inference.materialize import materialize_all

    ws = resolve_home(root / "home")
    files = [write_demo_file(demo_specs(1)[0], root / "bars", DAYS).path, write_short_symbol(root / "bars")]
    stages = [s for s in STAGES if s.title in DEMO_STAGES]
    assert len(stages) == len(DEMO_STAGES), f"the demo's stages changed: {[s.title for s in STAGES]}"
    run_demo(ws, files=files, days=0, n_symbols=0, stages=stages)

    con = connect(ws.warehouse)
    store = open_store(ws)
    datasets = {m: window_dataset(MODELS[m], home=str(ws.home), symbols=[SYMBOL], store=store, con=con) for m in MODELS}
    runs = {m: [train_tiny(ws, m, datasets[m], seed=0)] for m in MODELS}
    runs["seq300_minute"].append(train_tiny(ws, "seq300_minute", datasets["seq300_minute"], seed=1))
    con.close()
    materialize_all(ws, as_of=AS_OF.isoformat())
    return ServingWorkspace(ws, datasets, runs)


def write_short_symbol(out_dir: Path) -> Path:
    """SYN_ETH's bars for the SHORT_DAYS days before WINDOW_END, as the demo writes a file (a symbol column)."""
    spec = next(s for s in demo_specs(4) if s.symbol == SHORT_SYMBOL)
    start = WINDOW_END.date() - timedelta(days=SHORT_DAYS)
    table = generate_minute_bars(spec.symbol, spec.calendar, start, SHORT_DAYS, DEMO_SEED, spec.start_price)
    path = Path(out_dir) / f"{spec.symbol}_1m.parquet"
    pq.write_table(table, path)
    return path


def train_tiny(ws: Workspace, model: str, dataset, seed: int, tiny: bool = True):
    """A saved run of `model` from a few of the dataset's windows, spread over its history, one epoch; `tiny`
    shrinks the sequence networks (the benchmarks keep the real sizes, whose forward pass they time)."""
    from rich.console import Console

    from barstore.splits import Splits
    from barstore.windows.index import evenly_spaced
    from training.run import fit_dataset

    ds = dataset.in_time_order()
    ds = ds.subset(evenly_spaced(len(ds), min(SAMPLES, len(ds))))
    n = len(ds)
    cut_val, cut_test = int(n * 0.6), int(n * 0.8)
    positions = np.arange(n, dtype=np.int64)
    splits = Splits(positions[:cut_val], positions[cut_val:cut_test], positions[cut_test:])
    sizes = TINY_NETWORK if tiny and model != "longterm_multitf" else None
    quiet = Console(file=io.StringIO())
    return fit_dataset(ws, MODELS[model], ds, splits, epochs=1, seed=seed, device="cpu", console=quiet,
                       network_sizes=sizes).run  # fmt: skip


def copy_home(sw: ServingWorkspace, dest: Path, warehouse: bool = True, without_runs: tuple[str, ...] = ()):
    """A copy of the workspace home (Feast registry, online store, runs; the warehouse unless `warehouse` is
    False), without the runs of `without_runs`."""
    dest.mkdir(parents=True, exist_ok=True)
    shutil.copytree(sw.home / "feast", dest / "feast")
    shutil.copytree(sw.home / "models", dest / "models")
    for model in without_runs:
        shutil.rmtree(dest / "models" / model)
    if warehouse:
        copy_lake(sw.ws.warehouse, dest / sw.ws.warehouse.name)
    return resolve_home(dest)


def appended_hour(out_dir: Path) -> Path:
    """SYN_BTC's first hour after its stored bars (the same generator and seed: a longer run reproduces the
    shorter one's bars exactly), as a bar file for `barstore ingest`."""
    spec = demo_specs(1)[0]
    table = generate_minute_bars(spec.symbol, spec.calendar, DEMO_START, DAYS + 1, DEMO_SEED, spec.start_price)
    first_new = datetime.combine(DEMO_START + timedelta(days=DAYS), datetime.min.time(), tzinfo=UTC)
    ts = table["ts"].to_numpy()
    keep = (ts >= np.datetime64(first_new.replace(tzinfo=None), "us")) & (
        ts < np.datetime64((first_new + timedelta(hours=1)).replace(tzinfo=None), "us")
    )
    path = Path(out_dir) / "SYN_BTC_next_hour.parquet"
    pq.write_table(table.filter(keep), path)
    return path


# The CLI as a module, not `python -c`: with pyspark installed (the [spark] extra), importing great_expectations
# imports pyspark.sql.connect, whose check_dependencies() calls sys.exit(0) when __main__ has neither a spec nor a
# file (as under -c) and grpc is missing: a command that reaches the gate would end at once with exit status 0.
CLI = [sys.executable, "-m", "barstore.cli"]


def cli_app():
    """barstore's typer app with the serving commands, for typer's CliRunner (in process)."""
    from barstore.cli import app
    from barstore.cli.serving import register

    if not any(getattr(c.callback, "__name__", "") == "predict" for c in app.registered_commands):
        register(app)
    return app


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_cli(home: Path, *args: str, timeout: float = 300) -> subprocess.CompletedProcess:
    """`barstore ARGS --home HOME` in a subprocess, from the project folder."""
    return subprocess.run([*CLI, *args, "--home", str(home)], cwd=PROJECT_DIR, capture_output=True, text=True,
                          timeout=timeout)  # fmt: skip


@contextmanager
def served(home: Path, *args: str, startup: float = 120):
    """`barstore serve` on 127.0.0.1 (a free port) in a subprocess; yields its base URL once /healthz answers."""
    import httpx

    port = free_port()
    log = tempfile.TemporaryFile(mode="w+")
    proc = subprocess.Popen([*CLI, "serve", "--home", str(home), "--port", str(port), *args], cwd=PROJECT_DIR,
                            stdout=log, stderr=subprocess.STDOUT, text=True)  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + startup
        while True:
            if proc.poll() is not None:
                log.seek(0)
                raise RuntimeError(f"barstore serve exited with {proc.returncode}:\n{log.read()[-3000:]}")
            try:
                if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"barstore serve did not answer within {startup} s")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()
