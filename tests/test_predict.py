"""`barstore predict`: online windows (with the hourly context rows) -> the runs in use -> the ensemble decision,
checked against a recomputation from the offline windows through the same checkpoints."""

from __future__ import annotations

import json
import threading
from datetime import timedelta

import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from barstore.checkpoints import load_model
from barstore.errors import BarstoreError
from barstore.feature_store import open_store
from barstore.specs import MODELS
from barstore.times import format_duration, parse_duration
from inference.ensemble import HOURLY_MODEL, MINUTE_MODELS, EnsembleSettings, ModelOutput, decide
from inference.lanes import balance
from inference.runs import parse_run_refs
from inference.serving_settings import ServingSettings, staleness_limits
from inference.windows import CONTEXT_ROWS, get_context, get_windows, lookup_windows

from .serving_fixtures import AS_OF, SHORT_SYMBOL, SYMBOL, WINDOW_END, cli_app, copy_home, serving_workspace


@pytest.fixture(scope="module")
def sw(tmp_path_factory):
    return serving_workspace(tmp_path_factory)


def predict_cli(home, *args):
    return CliRunner().invoke(cli_app(), ["predict", "--home", str(home), *args])


def predict_json(home, *args) -> dict:
    result = predict_cli(home, "--json", *args)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def end_row(ds, t) -> int:
    """The offline matrix row of SYN_BTC's step at time t (a kept window's end)."""
    code = ds.symbol_names.index(SYMBOL)
    stamp = np.datetime64(t.replace(tzinfo=None), "us")
    hits = np.flatnonzero((ds.symbol_codes == code) & (ds.timestamps == stamp))
    assert len(hits) == 1, f"no offline window of {SYMBOL} ends at {t}"
    return int(ds.ends[int(hits[0])])


def expected(sw, model: str, run=None):
    """The model's outputs recomputed from the offline window at WINDOW_END through the checkpoint."""
    ds = sw.datasets[model]
    trained = load_model(run or sw.runs[model][-1])
    window = ds.window_at(SYMBOL, WINDOW_END)
    out = trained.predict(window, np.array([len(window) - 1]))
    recent = None
    if model == HOURLY_MODEL:  # the previous N windows: N offline steps before, in one batch as online
        row = end_row(ds, WINDOW_END)
        earlier = trained.predict(ds.matrix, np.arange(row - CONTEXT_ROWS[model], row))
        recent = earlier.ret.tolist()
    return out, recent


def test_hourly_window_holds_its_context_rows(sw):
    store = open_store(sw.ws)
    found = lookup_windows(store, SYMBOL)
    ds = sw.datasets[HOURLY_MODEL]
    n = CONTEXT_ROWS[HOURLY_MODEL]
    hourly = found[HOURLY_MODEL]
    assert hourly.rows.shape == (MODELS[HOURLY_MODEL].steps + n, MODELS[HOURLY_MODEL].n_features)
    assert torch.equal(hourly.window, ds.window_at(SYMBOL, WINDOW_END))
    assert torch.equal(get_windows(store, SYMBOL)[HOURLY_MODEL], hourly.window)
    for k in range(1, n + 1):  # the window ending k hours earlier is a sub-array, bit for bit
        earlier = ds.window_at(SYMBOL, WINDOW_END - timedelta(hours=k))
        assert torch.equal(hourly.rows[n - k : n - k + 500], earlier), k
    assert torch.equal(get_context(store, SYMBOL, HOURLY_MODEL), hourly.rows[:n])
    for model in MINUTE_MODELS:
        assert found[model].context.shape[0] == 0 and found[model].end == WINDOW_END
        assert torch.equal(found[model].window, sw.datasets[model].window_at(SYMBOL, WINDOW_END))


def test_predictions_equal_the_offline_recomputation(sw):
    out = predict_json(sw.home, SYMBOL, "--as-of", AS_OF.isoformat())
    assert out["as_of"] == "2025-03-05T00:00:30Z" and out["mode"] == "four_model"
    [item] = out["predictions"]
    assert item["symbol"] == SYMBOL and list(item["models"]) == list(MODELS)
    outputs = {}
    for model, got in item["models"].items():
        want, recent = expected(sw, model)
        assert got["run_id"] == sw.runs[model][-1].run_id
        assert got["window_end"] == "2025-03-05T00:00:00Z" and got["age_seconds"] == 30.0
        assert got["p_up"] == float(want.p_up[0])
        if want.ret is None:
            assert got["predicted_return"] is None
            assert got["embedding"] == want.embedding[0].tolist()
            total = float(np.sum(want.embedding[0].astype(np.float64)))
            assert got["embedding_sum"] == pytest.approx(total, rel=1e-12)
            assert got["embedding_trend"] == int(np.sign(total))
        else:
            assert got["predicted_return"] == float(want.ret[0])
        if recent is not None:
            assert got["recent_predictions"] == recent and got["context_rows"] == CONTEXT_ROWS[model]
            assert got["recent_level"] == pytest.approx(np.mean(recent), rel=1e-12)
        outputs[model] = ModelOutput(
            None if want.ret is None else float(want.ret[0]),
            float(want.p_up[0]),
            None if want.embedding is None else want.embedding[0].tolist(),
        )
    settings = EnsembleSettings.from_project(sw.ws.project_dir)
    recent_level = item["models"][HOURLY_MODEL]["recent_level"]
    assert item["decision"] == decide(outputs, settings, recent_level).to_dict()
    assert item["decision"]["hourly_recent"] == pytest.approx(recent_level)


def test_three_model_mode_uses_the_minute_models_only(sw):
    out = predict_json(
        sw.home, SYMBOL, SHORT_SYMBOL, "--mode", "three_model", "--trend-filter", "none", "--as-of", AS_OF.isoformat()
    )
    assert (out["mode"], out["trend_filter"]) == ("three_model", "none")
    btc, eth = out["predictions"]
    assert list(btc["models"]) == list(MINUTE_MODELS) and list(eth["models"]) == list(MINUTE_MODELS)
    settings = EnsembleSettings(mode="three_model", trend_filter="none")
    outputs = {m: ModelOutput(float(expected(sw, m)[0].ret[0])) for m in MINUTE_MODELS}
    assert btc["decision"] == decide(outputs, settings).to_dict()
    assert btc["decision"]["mode"] == "three_model" and btc["decision"]["hourly_trend"] is None
    # the short-history symbol has minute windows only: the four-model mode needs its hourly one
    result = predict_cli(sw.home, SHORT_SYMBOL, "--as-of", AS_OF.isoformat())
    assert result.exit_code == 6, result.output
    assert f"{SHORT_SYMBOL} has no online window of seq500_hourly, longterm_multitf" in result.output


def test_stale_windows_are_refused(sw):
    hour_later = (AS_OF + timedelta(hours=1)).isoformat()
    result = predict_cli(sw.home, SYMBOL, "--as-of", hour_later)
    assert result.exit_code == 6
    text = " ".join(result.output.split())
    for model in MINUTE_MODELS:
        assert f"{model} ends at 2025-03-05T00:00:00Z, 1h old (max 10m)" in text
    assert "seq500_hourly ends" not in text  # 1 hour is within the hourly model's 2 hours
    # a wider limit for the minute models, from the command line
    out = predict_json(sw.home, SYMBOL, "--as-of", hour_later, "--max-staleness", "2h")
    assert out["predictions"][0]["models"]["seq300_minute"]["max_staleness_seconds"] == 7200.0
    # a window later than the as-of time is not the window of that time
    result = predict_cli(sw.home, SYMBOL, "--as-of", (WINDOW_END - timedelta(minutes=1)).isoformat())
    assert result.exit_code == 6 and "after the as-of time" in result.output
    result = predict_cli(sw.home, SYMBOL)  # now: the synthetic bars are from 2025
    assert result.exit_code == 6 and "longterm_multitf ends" in " ".join(result.output.split())


def test_run_option_selects_a_run(sw):
    first, newest = sw.runs["seq300_minute"]
    as_of = ["--as-of", AS_OF.isoformat()]
    default = predict_json(sw.home, SYMBOL, *as_of)["predictions"][0]["models"]["seq300_minute"]
    chosen = predict_json(sw.home, SYMBOL, "--run", f"seq300_minute={first.run_id}", *as_of)
    chosen = chosen["predictions"][0]["models"]["seq300_minute"]
    assert default["run_id"] == newest.run_id and chosen["run_id"] == first.run_id
    want, _ = expected(sw, "seq300_minute", first)
    assert chosen["p_up"] == float(want.p_up[0]) and chosen["p_up"] != default["p_up"]
    result = predict_cli(sw.home, SYMBOL, "--run", "seq300_minute=nope", *as_of)
    assert result.exit_code == 1 and "no run 'nope' of seq300_minute" in result.output


def test_unknown_symbol_and_missing_run(sw, tmp_path):
    result = predict_cli(sw.home, "NOPE", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 5 and "unknown symbol 'NOPE'" in result.output
    # a home without the warehouse and without seq800_minute's run: predict reads neither
    home = copy_home(sw, tmp_path / "home", warehouse=False, without_runs=("seq800_minute",))
    result = predict_cli(home.home, SYMBOL, "--as-of", AS_OF.isoformat())
    assert result.exit_code == 6 and "no run in use for seq800_minute" in result.output
    assert not home.warehouse.exists()


def test_text_output_shows_every_window_end_and_the_decision(sw):
    result = predict_cli(sw.home, SYMBOL, "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    out = predict_json(sw.home, SYMBOL, "--as-of", AS_OF.isoformat())["predictions"][0]
    lines = result.stdout.splitlines()
    for model in MODELS:
        [line] = [row for row in lines if f" {model} " in row]
        assert "2025-03-05 00:00" in line and out["models"][model]["run_id"] in line
    assert out["decision"]["action"].upper() in result.stdout


def serving_settings(tmp_path, table: str) -> ServingSettings:
    (tmp_path / "barstore_project.toml").write_text(f"[serving]\n{table}\n")
    return ServingSettings.from_project(tmp_path)


def test_serving_settings(tmp_path):
    assert parse_duration("10m", "x") == timedelta(minutes=10)
    assert parse_duration("1h30m", "x") == timedelta(minutes=90)
    assert parse_duration("4d", "x") == timedelta(days=4) and parse_duration("0s", "x") == timedelta(0)
    for bad in ("10", "m", "10 minutes", "", 5):  # the settings' message scheme, as the CLI's options say it
        with pytest.raises(BarstoreError) as err:
            parse_duration(bad, "--reload-interval")
        assert str(err.value) == f"--reload-interval: expected a duration such as 10m, 2h or 4d, got {bad!r}"
    assert format_duration(timedelta(days=2, hours=4, minutes=3)) == "2d 04h"
    assert format_duration(timedelta(seconds=-90)) == "-1m 30s"
    defaults = ServingSettings().max_staleness
    assert defaults["seq300_minute"] == timedelta(minutes=10) and defaults["longterm_multitf"] == timedelta(days=4)
    table = serving_settings(tmp_path, 'max_staleness = {seq500_hourly = "3h"}\nreload_interval = "1s"')
    assert table.max_staleness["seq500_hourly"] == timedelta(hours=3)
    assert table.max_staleness["seq300_minute"] == timedelta(minutes=10) and table.reload_interval.total_seconds() == 1
    every = serving_settings(tmp_path, 'max_staleness = "1d"').max_staleness
    assert set(every.values()) == {timedelta(days=1)}
    with pytest.raises(BarstoreError, match=r"\[serving\]: unknown key 'max_stale'; the keys are max_staleness"):
        serving_settings(tmp_path, 'max_stale = "1d"')
    with pytest.raises(BarstoreError, match=r"\[serving\] max_staleness: unknown model 'seq1'"):
        serving_settings(tmp_path, 'max_staleness = {seq1 = "1d"}')
    with pytest.raises(BarstoreError, match="--max-staleness longterm_multitf: expected a duration"):
        staleness_limits(["longterm_multitf=5"], "--max-staleness")
    limits = staleness_limits(["2h", "longterm_multitf=5d"], "--max-staleness")
    assert limits["seq300_minute"] == timedelta(hours=2) and limits["longterm_multitf"] == timedelta(days=5)
    assert parse_run_refs(["seq300_minute=abc"]) == {"seq300_minute": "abc"}
    for bad in ("seq300_minute", "=abc", "seq1=abc"):
        with pytest.raises(BarstoreError, match="--run"):
            parse_run_refs([bad])


def test_lanes_split_the_forward_passes_by_their_cost():
    assert balance({"a": 3.0, "b": 2.0, "c": 2.0}) == (["a"], ["b", "c"])
    assert balance({"slow": 10.0, "m1": 1.7, "m2": 2.9, "m3": 2.8, "h": 6.0}) == (["slow", "m1"], ["h", "m2", "m3"])
    assert balance({"a": 1.0, "b": 0.0, "c": 0.0}) == (["a", "b", "c"], [])  # kept results: no thread hop


def test_a_cold_prediction_runs_on_two_lanes_with_the_same_numbers(sw):
    from inference.predict import open_predictor

    cold = open_predictor(sw.ws, cache=False)
    first = cold.predict([SYMBOL], as_of=AS_OF).to_dict()
    threads = set()
    original = cold._predict_model

    def noting(*args, **kwargs):
        threads.add(threading.current_thread().name.split("_")[0])
        return original(*args, **kwargs)

    cold._predict_model = noting
    again = cold.predict([SYMBOL], as_of=AS_OF).to_dict()
    assert again == first
    assert set(cold._lanes.cost) == set(MODELS) and threads == {"MainThread", "barstore-forward"}
