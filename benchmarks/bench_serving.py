"""Prediction latency: one symbol, all five models, in process and over HTTP on 127.0.0.1.

Workspace: 460 days of one synthetic symbol (the demo's stages: files, ingest, build, Feast apply), a run of each
model at its real network size (one epoch on a few windows: the forward pass costs the same whatever the
weights), every window materialized. Then, as of 30 s after the windows' end:

- in process, `Predictor.predict([symbol])`, REQUESTS calls after WARM_UP ones:
  cold = no result cache: one online lookup + five forward passes + the hourly model's context batch, what the
  first request after a new bar costs; warm = cache on, windows unchanged, what a server answers between bars;
  and the parts of a cold call: the lookup and each model's forward pass (p50);
- over HTTP: `barstore serve` in a subprocess, one keep-alive httpx client, REQUESTS POST /predict, with
  --no-cache (cold) and with the cache (warm).

Run: .venv/bin/python benchmarks/bench_serving.py   (figures go to BENCHMARKS.md by hand)
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from barstore.home import resolve_home  # noqa: E402
from barstore.specs import MODELS  # noqa: E402
from benchmarks.common import machine  # noqa: E402

DAYS = 460
REQUESTS = 200
WARM_UP = 20


def percentiles(times: list[float]) -> str:
    p50, p99 = np.percentile(times, 50) * 1e3, np.percentile(times, 99) * 1e3
    return f"p50 {p50:7.2f} ms   p99 {p99:7.2f} ms"


def timed(call, n: int = REQUESTS, warm_up: int = WARM_UP) -> list[float]:
    for _ in range(warm_up):
        call()
    times = []
    for _ in range(n):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return times


def build_workspace(home: Path):
    """The demo's first symbol, built, with a run of every model at its real size, materialized."""
    from barstore.cli.demo import STAGES, run_demo
    from barstore.feature_store import open_store
    from barstore.warehouse import connect
    from barstore.windows import window_dataset
    from inference.windows import materialize_windows
    from tests.serving_fixtures import DEMO_STAGES, train_tiny

    ws = resolve_home(home)
    with contextlib.redirect_stdout(io.StringIO()):
        run_demo(ws, files=[], days=DAYS, n_symbols=1, stages=[s for s in STAGES if s.title in DEMO_STAGES])
    con = connect(ws.warehouse)
    store = open_store(ws)
    for model in MODELS:
        dataset = window_dataset(MODELS[model], home=str(ws.home), store=store, con=con)
        train_tiny(ws, model, dataset, seed=0, tiny=False)
    materialize_windows(store, con)
    con.close()
    return ws


def in_process(ws, symbol: str, as_of) -> None:
    from inference.ensemble import MINUTE_MODELS
    from inference.predict import open_predictor, torch_threads
    from inference.windows import lookup_windows

    cold = open_predictor(ws, cache=False)
    cold.warm_up()
    print(f"  in process, cold (no cache): {percentiles(timed(lambda: cold.predict([symbol], as_of=as_of)))}")
    predictor = open_predictor(ws)
    predictor.warm_up()

    def new_minute_bar():
        predictor.forget(MINUTE_MODELS)
        predictor.predict([symbol], as_of=as_of)

    print(f"  in process, a new minute bar (minute models run, hourly and long-term kept): "
          f"{percentiles(timed(new_minute_bar))}")  # fmt: skip
    times = timed(lambda: predictor.predict([symbol], as_of=as_of))
    print(f"  in process, warm (cache, windows unchanged): {percentiles(times)}")
    store = predictor.store
    print(f"    online lookup of the five windows: {percentiles(timed(lambda: lookup_windows(store, symbol)))}")
    with torch_threads(predictor.threads):
        for model, window in lookup_windows(store, symbol).items():
            forward_passes(model, predictor.runs.loaded[model].model, window)


def forward_passes(model: str, trained, window) -> None:
    """p50/p99 of the model's forward pass on its window, and on its context windows (the hourly model)."""
    last = len(window.rows) - 1
    times = timed(lambda: trained.predict(window.rows, np.array([last])), n=50, warm_up=5)
    print(f"    {model:17s} forward pass: {percentiles(times)}")
    if len(window.context):
        context = np.arange(last - len(window.context), last)
        times = timed(lambda: trained.predict(window.rows, context), n=50, warm_up=5)
        print(f"    {model:17s} {len(context)} context windows: {percentiles(times)}")


def over_http(ws, symbol: str, as_of) -> None:
    import httpx

    from tests.serving_fixtures import served

    body = {"symbols": [symbol], "as_of": as_of.isoformat()}
    for flags, name in ((["--no-cache"], "cold (--no-cache)"), ([], "warm (cache)")):
        with served(ws.home, *flags) as url, httpx.Client(timeout=30) as client:

            def ask(c=client, u=url):
                answer = c.post(f"{u}/predict", json=body)
                answer.raise_for_status()

            print(f"  HTTP 127.0.0.1, {name}: {percentiles(timed(ask))}")


def main() -> None:
    from inference.windows import lookup_windows

    print(machine())
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        ws = build_workspace(Path(tmp) / "home")
        print(f"workspace: {DAYS} days of SYN_BTC, five runs at real size ({time.perf_counter() - started:.0f} s)")
        from barstore.feature_store import open_store

        symbol = "SYN_BTC"
        ends = {w.end for w in lookup_windows(open_store(ws), symbol).values()}
        as_of = max(ends) + timedelta(seconds=30)
        print(f"predict {symbol} with all five models as of {as_of:%Y-%m-%d %H:%M:%S} UTC, {REQUESTS} requests")
        in_process(ws, symbol, as_of)
        over_http(ws, symbol, as_of)


if __name__ == "__main__":
    main()
