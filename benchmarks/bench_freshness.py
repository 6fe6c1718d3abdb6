"""Freshness: one new 1-minute bar for each of the 18 Binance perpetuals -> a prediction that reads it.

Setup (not timed): the Binance file without each symbol's last two minutes is ingested, built and registered;
each model with at least MIN_WINDOWS labelled windows in two months of data gets a run at its real size (one
epoch on a few windows): the three minute models, and seq500_hourly only if some symbols have the 50 daily bars
its ma_50 context needs plus 500 hours and a 5-day label (the long-term model needs a year); everything is
materialized; a long-lived Predictor (what `barstore serve` holds) loads the runs and answers once.

Timed, in process, through the functions the commands call, for the second-to-last minute of every symbol:
  ingest (`ingest_files`) -> build (`build_models`, incremental) -> materialize --incremental (`materialize_all`)
  -> predict (four-model mode without the trend filter when the hourly model trained, else three-model; one
  call per group of symbols whose bars end together, as of their new bar's close + 1 s, default staleness);
then the same three commands as `barstore` subprocesses for the next minute (what a cron pipeline pays: each
process imports DuckDB, Feast and torch anew), and the prediction again; then the last minute through
`barstore live --watch` (one warm process, as a user runs it): from the file's rename into the folder to the
last prediction line printed. Each prediction is checked to read the new bar: its minute windows end at that
bar's close.

Run: .venv/bin/python benchmarks/bench_freshness.py   (figures go to BENCHMARKS.md by hand)
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

import duckdb

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from barstore.home import resolve_home  # noqa: E402
from barstore.ingest import IngestOptions, ingest_files  # noqa: E402
from barstore.transform.runner import build_models  # noqa: E402
from barstore.warehouse import connect  # noqa: E402
from benchmarks.common import BINANCE, PROJECT_DIR, machine, require_data  # noqa: E402

MODELS_WITH_DATA = ("seq300_minute", "seq500_minute", "seq800_minute", "seq500_hourly")
MIN_WINDOWS = 10  # to split into train, validation and test
OPTS = IngestOptions(timeframe="1m", calendar="crypto_24x7")
CLI = [sys.executable, "-m", "barstore.cli"]


@contextlib.contextmanager
def quiet():
    """Feast's and materialize's progress lines off the report."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        yield


def split_file(tmp: Path) -> tuple[Path, Path, Path, Path]:
    """(history, third-to-last, second-to-last and last minute) of every symbol, as Parquet files."""
    out = []
    for name, keep in (("history", "> 3"), ("bar_1", "= 3"), ("bar_2", "= 2"), ("bar_3", "= 1")):
        path = tmp / f"{name}.parquet"
        duckdb.sql(
            f"COPY (SELECT * FROM read_parquet('{BINANCE}') QUALIFY row_number() OVER "
            f"(PARTITION BY symbol ORDER BY ts_utc DESC) {keep}) TO '{path}' (FORMAT parquet)"
        )
        out.append(path)
    return tuple(out)


def new_closes(path: Path) -> dict[str, object]:
    """symbol -> the close of its bar in `path` (bars are labelled by their start)."""
    rows = duckdb.sql(f"SELECT symbol, ts_utc::TIMESTAMPTZ + INTERVAL 1 minute FROM read_parquet('{path}')").fetchall()
    return {symbol: close for symbol, close in rows}


def setup(home: Path, history: Path):
    """The workspace, the models trained (those with at least MIN_WINDOWS labelled windows in this data) and the
    symbols some trained model has no window for."""
    from barstore.feature_store import apply, open_store
    from barstore.specs import MODELS
    from barstore.windows import window_dataset
    from inference.materialize import materialize_all
    from tests.serving_fixtures import train_tiny

    ws = resolve_home(home)
    con = connect(ws.warehouse)
    ingest_files(con, [history], OPTS, progress=False)
    build_models(con, ws.sql_dir, show=False)
    apply(ws)
    store = open_store(ws)
    trained = []
    for model in MODELS_WITH_DATA:
        dataset = window_dataset(MODELS[model], home=str(ws.home), store=store, con=con)
        print(f"  {model}: {len(dataset):,} labelled windows")
        if len(dataset) >= MIN_WINDOWS:
            train_tiny(ws, model, dataset, seed=0, tiny=False)
            trained.append(model)
    con.close()
    with quiet():
        report = materialize_all(ws)
    without = set().union(*(report[m]["without"] for m in trained))
    return ws, trained, without


def timed_compaction() -> dict:
    """Record the seconds of each build's compaction (part of build_models) in the returned dict."""
    from barstore.transform import runner

    seen = {}
    compact = runner.compact_warehouse

    def timed(con, *args, **kwargs):
        result = compact(con, *args, **kwargs)
        seen["seconds"] = result.seconds if result else 0.0
        return result

    runner.compact_warehouse = timed
    return seen


def predict_new(predictor, closes: dict, symbols: list[str]) -> int:
    """Predict every symbol as of its new bar's close + 1 s; returns the predictions made (checked fresh)."""
    groups = defaultdict(list)
    for symbol in symbols:
        groups[closes[symbol]].append(symbol)
    made = 0
    for close, group in groups.items():
        report = predictor.predict(group, as_of=close + timedelta(seconds=1))
        for item in report.predictions:
            assert item.models["seq300_minute"].window_end == close, (item.symbol, close)
            made += 1
    return made


def main() -> None:
    require_data()
    print(machine())
    from inference.ensemble import EnsembleSettings
    from inference.materialize import materialize_all
    from inference.predict import open_predictor

    with tempfile.TemporaryDirectory() as tmp:
        history, bar_1, bar_2, bar_3 = split_file(Path(tmp))
        started = time.perf_counter()
        ws, trained, without = setup(Path(tmp) / "home", history)
        mode = "four_model" if "seq500_hourly" in trained else "three_model"
        ensemble = EnsembleSettings(mode=mode, trend_filter="none")
        predictor = open_predictor(ws, models=trained, ensemble=ensemble)
        predictor.warm_up()
        closes_1, closes_2 = new_closes(bar_1), new_closes(bar_2)
        symbols = sorted(set(closes_1) - without)
        before = {s: c - timedelta(minutes=1) for s, c in closes_1.items()}
        predict_new(predictor, before, symbols)  # the server's state before the new bars: cache filled
        missing = ", ".join(sorted(without)) or "-"
        print(f"setup {time.perf_counter() - started:.0f} s; {mode}, no trend filter; {len(symbols)} of "
              f"{len(closes_1)} symbols have every window it reads (without: {missing})")  # fmt: skip

        compaction = timed_compaction()
        con = connect(ws.warehouse)
        t0 = time.perf_counter()
        ingest_files(con, [bar_1], OPTS, progress=False)
        t1 = time.perf_counter()
        build_models(con, ws.sql_dir, show=False)
        con.close()
        t2 = time.perf_counter()
        with quiet():
            materialize_all(ws, incremental=True)
        t3 = time.perf_counter()
        made = predict_new(predictor, closes_1, symbols)
        t4 = time.perf_counter()
        parts = {"ingest": t1 - t0, "build": t2 - t1, "materialize --incremental": t3 - t2, "predict": t4 - t3}
        print(f"in process: {len(closes_1)} new bars -> {made} fresh predictions")
        for name, seconds in parts.items():
            print(f"  {name:28s} {seconds:6.2f} s")
        print(f"  {'total':28s} {sum(parts.values()):6.2f} s   (target <= 5 s)")
        print(f"  (of the build: compaction {compaction['seconds']:.2f} s)")

        commands = {
            "barstore ingest": ["ingest", str(bar_2), "--timeframe", "1m", "--calendar", "crypto_24x7"],
            "barstore build": ["build"],
            "barstore materialize --incremental": ["materialize", "--incremental"],
        }
        print(f"as subprocesses: {len(closes_2)} new bars")
        total = 0.0
        for name, args in commands.items():
            start = time.perf_counter()
            done = subprocess.run(
                [*CLI, *args, "--home", str(ws.home)], cwd=PROJECT_DIR, capture_output=True, text=True
            )
            if done.returncode:
                raise SystemExit(f"{name} failed ({done.returncode}): {done.stderr[-2000:]}")
            total += time.perf_counter() - start
            print(f"  {name:36s} {time.perf_counter() - start:6.2f} s")
        start = time.perf_counter()
        made = predict_new(predictor, closes_2, symbols)
        total += time.perf_counter() - start
        print(f"  {'predict (the running Predictor)':36s} {time.perf_counter() - start:6.2f} s   ({made} fresh)")
        print(f"  {'total':36s} {total:6.2f} s")
        through_live(ws.home, bar_3, Path(tmp) / "incoming", len(new_closes(bar_3)), mode)


def through_live(home: Path, bar: Path, folder: Path, symbols: int, mode: str) -> None:
    """The last minute dropped into `barstore live --watch`: seconds from the rename to the last prediction line."""
    folder.mkdir()
    args = [*CLI, "live", "--watch", str(folder), "--timeframe", "1m", "--calendar", "crypto_24x7", "--replay",
            "--mode", mode, "--trend-filter", "none", "--poll", "0.05", "--home", str(home)]  # fmt: skip
    # each line as printed (a pipe is block-buffered), and unwrapped (rich wraps at 80 columns off a terminal)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "COLUMNS": "400"}
    proc = subprocess.Popen(args, cwd=PROJECT_DIR, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    seen = []
    try:
        for line in proc.stdout:
            seen.append(line)
            if line.startswith("watching"):
                break
        staged = folder / f".{bar.name}"
        staged.write_bytes(bar.read_bytes())
        start = time.perf_counter()
        staged.rename(folder / bar.name)
        timing, answered, fresh, unanswered = None, 0, 0, []
        for line in proc.stdout:  # the file's timing line, then one line per symbol: a prediction or why not
            seen.append(line)
            if line.startswith((f"{bar.name}: ", f"refused {bar.name}")):
                timing = line.strip()
            elif timing and line.startswith("  "):
                answered += 1
                fresh += "windows end" in line
                if "windows end" not in line:
                    unanswered.append(line.strip())
                if answered == symbols:
                    break
        seconds = time.perf_counter() - start
    finally:
        proc.terminate()
        proc.wait(timeout=30)
    if not answered:
        raise SystemExit("barstore live answered nothing:\n" + "".join(seen[-40:]))
    print(f"through `barstore live --watch` (warm process): {fresh} of {answered} symbols predicted")
    print(f"  {timing}")
    print(f"  {'rename -> last prediction printed':36s} {seconds:6.2f} s   (target <= 5 s)")
    for line in unanswered[:3]:
        print(f"  not predicted: {line}")


if __name__ == "__main__":
    main()
