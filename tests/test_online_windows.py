"""Online windows equal offline windows bit for bit (SQLite and a real Redis server), and the CLI path works."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from barstore.cli import app
from barstore.feature_store import open_store
from barstore.specs import MODELS
from inference import get_window, get_windows, materialize_windows
from training import training_dataset

from .feast_helpers import feast_workspace

MODELS_WITH_DATA = ["seq300_minute", "seq500_minute", "seq500_hourly", "longterm_multitf"]


@pytest.fixture(scope="module")
def fs(tmp_path_factory):
    return feast_workspace(tmp_path_factory.mktemp("online"))


def _offline(fs, model):
    ws, con, store = fs
    return training_dataset(MODELS[model], home=str(ws.home), store=store, con=con)


def _as_of_times(ds, n=3):
    """Decision times inside the dataset, as UTC datetimes plus 30 s (between two steps' closes)."""
    picks = np.linspace(len(ds) // 5, len(ds) - 1, n).astype(int)
    return [(ds.symbol(int(k)), pd.Timestamp(ds.timestamps[int(k)], tz="UTC")) for k in picks]


@pytest.mark.parametrize("model", MODELS_WITH_DATA)
def test_online_window_equals_offline_window(fs, model):
    _, con, store = fs
    ds = _offline(fs, model)
    for symbol, step in _as_of_times(ds):
        as_of = (step + pd.Timedelta(seconds=30)).to_pydatetime()  # between two closes: the step is the latest
        materialize_windows(store, con, as_of=as_of, models=[model])
        online = get_window(store, symbol, model)
        offline = ds.window_at(symbol, step.to_pydatetime())
        assert online.dtype == torch.float64 and online.shape == offline.shape
        assert torch.equal(online, offline), f"{model} {symbol} at {as_of}"


def test_materialized_from_truncated_history_equals_full_history(fs, tmp_path):
    """Materialize in a workspace that only has bars up to T: same window as the full history's at T."""
    ds = _offline(fs, "seq500_hourly")
    symbol, step = _as_of_times(ds, 1)[0]
    cut = step.strftime("%Y-%m-%d %H:%M:%S")
    ws2, con2, store2 = feast_workspace(
        tmp_path,
        btc_where=f"ts_utc >= '2021-01-01' AND ts_utc < '{cut}'",
        minute_where="symbol = 'ETHUSDT' AND ts_utc >= '2025-06-01' AND ts_utc < '2025-06-02'",
    )
    materialize_windows(store2, con2, models=["seq500_hourly"])
    assert torch.equal(get_window(store2, symbol, "seq500_hourly"), ds.window_at(symbol, step.to_pydatetime()))


def test_all_windows_of_a_symbol_in_one_lookup(fs):
    _, con, store = fs
    materialize_windows(store, con)
    windows = get_windows(store, "BTCUSDT", ["seq500_hourly", "longterm_multitf"])
    assert windows["seq500_hourly"].shape == (500, 31) and windows["longterm_multitf"].shape == (365, 26)


def test_apply_and_materialize_commands(fs):
    ws, con, store = fs
    runner = CliRunner()
    result = runner.invoke(app, ["apply", "--home", str(ws.home)])
    assert result.exit_code == 0, result.output
    assert "seq300_minute" in result.output and "longterm_multitf" in result.output
    result = runner.invoke(app, ["materialize", "--home", str(ws.home), "--as-of", "2025-06-03T12:00"])
    assert result.exit_code == 0, result.output
    assert get_window(store, "ETHUSDT", "seq300_minute").shape == (300, 20)
    # the scalar views are online too: ETHUSDT's last minute features closed by the as-of time
    row = store.get_online_features(features=["features_1m:rsi_14"], entity_rows=[{"symbol": "ETHUSDT"}]).to_dict()
    last = con.execute(
        "SELECT rsi_14 FROM features_1m WHERE symbol = 'ETHUSDT' AND ts_close <= "
        "'2025-06-03 12:00:00+00' ORDER BY ts DESC LIMIT 1"
    ).fetchall()
    assert row["rsi_14"][0] == last[0][0]
    result = runner.invoke(app, ["materialize", "--home", str(ws.home), "--incremental"])
    assert result.exit_code == 0, result.output


def test_plain_feast_cli_works_on_the_repo(fs):
    ws, _, _ = fs
    from barstore.feature_store import repo_dir

    feast = shutil.which("feast") or os.path.join(os.path.dirname(os.sys.executable), "feast")
    env = dict(os.environ, BARSTORE_HOME=str(ws.home))
    out = subprocess.run(
        [feast, "-c", str(repo_dir(ws)), "feature-services", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-2000:]
    for model in ["seq300_minute", "seq500_minute", "seq800_minute", "seq500_hourly", "longterm_multitf"]:
        assert model in out.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def redis_url():
    server = shutil.which("redis-server")
    if server is None:
        pytest.skip("redis-server is not installed (make test installs Debian's redis-server)")
    port = _free_port()
    proc = subprocess.Popen(
        [server, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 10
    while time.time() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield f"127.0.0.1:{port}"
    proc.terminate()
    proc.wait(timeout=10)


def test_redis_online_store_serves_the_same_windows(fs, redis_url, monkeypatch):
    ws, con, sqlite_store = fs
    monkeypatch.setenv("BARSTORE_REDIS", redis_url)
    redis_store = open_store(ws, "redis")
    as_of = pd.Timestamp("2025-06-03 09:00", tz="UTC").to_pydatetime()
    for store in (sqlite_store, redis_store):
        materialize_windows(store, con, as_of=as_of, models=["seq300_minute", "longterm_multitf"])
    for symbol, model in [("ETHUSDT", "seq300_minute"), ("SOLUSDT", "seq300_minute"), ("BTCUSDT", "longterm_multitf")]:
        assert torch.equal(get_window(redis_store, symbol, model), get_window(sqlite_store, symbol, model))


def test_why_a_symbol_has_no_window():
    """materialize names each symbol without a window and why: too few steps, a gap, or which values are missing
    at which step (the latest such step)."""
    from barstore.windows.index import AlignedMatrix, why_no_window

    n, steps = 30, 5
    values = np.ones((n, 2))
    values[[12, 13], 1] = np.nan
    values[13, 0] = np.nan
    breaks = np.zeros(n, dtype=bool)
    breaks[25] = True
    times = np.datetime64("2025-01-01T00:00", "us") + np.arange(n) * np.timedelta64(60, "s")
    m = AlignedMatrix(values, np.zeros(n, dtype=np.int32), ["A"], times, breaks, ["x", "y"])
    assert why_no_window(m, 3, steps, 0) == "only 4 of 5 steps"
    gap = "a gap longer than the calendar allows before the step at 2025-01-01T00:25Z"
    assert why_no_window(m, 27, steps, 0) == gap
    assert why_no_window(m, 15, steps, 0) == "missing x, y at the step at 2025-01-01T00:13Z"
    assert why_no_window(m, 16, steps, 0) == "missing x, y at the step at 2025-01-01T00:13Z"
    assert why_no_window(m, 28, steps, 20) == gap
    assert why_no_window(m, 29, steps, 20) == "no rule drops this window"  # 25..29: a valid window
