"""The walk-forward backtest on a small synthetic workspace (tests/backtest_fixtures.py): real DuckDB, Feast, gate
and training (tiny networks, 1 epoch).

What must hold: a fold's decisions do not change when every bar after the fold is scrambled; the same seed gives
the same training, predictions and decisions (a fold run again, alone, reproduces them); report.md's table is the
saved decisions run through backtest.positions and backtest.metrics again, and the models' accuracies are their
predictions scored on the labels; training data ends before each fold by at least the horizon; the decision
windows are the tensors the training path cuts.

The backtest runs three times: the fixture's two folds, fold 1 again on bars scrambled after it, fold 2 again alone
on bars scrambled from its first decision.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from backtest.decisions import decision_grid, decision_times
from backtest.folds import MICROSECOND, horizon_length, plan_folds, to_datetime, training_cutoffs
from backtest.metrics import periods_per_year, strategy_metrics, summarize
from backtest.positions import PositionRules, simulate
from backtest.report import METRIC_COLUMNS, POOLED, format_metric
from backtest.run import load_results, run_backtest
from backtest.strategies import STRATEGIES
from barstore.specs import MODELS

from .backtest_fixtures import FOLDS, SYMBOL, TEST_SINCE, build_workspace, scrambled_copy, settings

CALENDAR = "crypto_24x7"


@pytest.fixture(scope="module")
def workspace(tmp_path_factory):
    return build_workspace(tmp_path_factory.mktemp("backtest_home"))


@pytest.fixture(scope="module")
def first(workspace, tmp_path_factory):
    """The backtest of the fixture workspace: two folds."""
    return run_backtest(workspace, settings(), out=tmp_path_factory.mktemp("backtest_out"))


def _fold(frame: pd.DataFrame, number: int) -> pd.DataFrame:
    return frame[frame["fold"] == number].reset_index(drop=True)


def test_folds_walk_forward_over_the_test_span():
    hours = np.arange(np.datetime64("2024-04-20T00:00"), np.datetime64("2024-04-30T00:00"), np.timedelta64(1, "h"))
    folds = plan_folds(hours, 3, since=TEST_SINCE)
    assert [f.decisions for f in folds] == [32, 32, 32]  # 96 hourly closes from 04-26, cut evenly
    assert folds[0].start == TEST_SINCE and folds[-1].last_decision == to_datetime(hours[-1])
    assert all(a.end == b.start for a, b in zip(folds, folds[1:]))
    default = plan_folds(hours, 2)  # no --since: the later half of the decision times
    assert default[0].start == to_datetime(hours[len(hours) // 2]) and sum(f.decisions for f in default) == 120


def test_training_ends_an_embargo_before_each_fold(workspace, first):
    """Every sample a fold's model may train on has its label known before the fold starts; on a 24/7 calendar the
    embargo is exactly the horizon (the decision whose label closes at the fold start is the first left out)."""
    from barstore.warehouse import connect
    from barstore.windows.labels import forward_returns

    con = connect(workspace.warehouse, read_only=True)
    starts = [f.start for f in first.folds]
    for name in ("seq300_minute", "seq800_minute", "seq500_hourly"):
        spec = MODELS[name]
        labels = forward_returns(con, spec).to_pandas()
        for start, cutoff in zip(starts, training_cutoffs(con, spec, starts)):
            assert cutoff == start - horizon_length(spec) - MICROSECOND
            usable = labels[(labels["event_timestamp"] <= cutoff) & labels["label_time"].notna()]
            assert usable["label_time"].max() < start
            nxt = labels[labels["event_timestamp"] > cutoff].sort_values("event_timestamp").iloc[0]
            assert nxt["label_time"] >= start
    # and the runs trained on nothing later: their last test sample is at or before the cutoff
    for record in first.results["folds"]:
        for m in record["models"]:
            if m["run"]:
                assert pd.Timestamp(m["periods"]["test"]["last"]) <= pd.Timestamp(m["until"])


def test_decisions_use_each_models_latest_window(first):
    p = first.predictions
    assert len(p) == sum(f.decisions for f in first.folds)  # one symbol: one row per decision time
    for name in ("seq300_minute", "seq500_minute", "seq800_minute", "seq500_hourly"):
        step = p[f"{name}__step_time"]
        assert step.notna().all(), name  # 24/7 bars without gaps: every model has a window at every decision
        age = p["time"] - step
        assert (age == timedelta(0)).all()  # the minute closing at the hourly close, the hourly step itself
    assert p["longterm_multitf__p_up"].isna().all()  # a year of daily history is not there
    ensembles = {s.name: s for s in STRATEGIES}
    not_available = first.results["strategies"]["four_model_direction_prob"]["not_available"]
    assert ensembles["four_model_direction_prob"].requires[-1] == "longterm_multitf" and SYMBOL in not_available


def test_decision_windows_are_the_training_paths_windows(workspace, first):
    """The prediction at a decision time is the fold checkpoint's prediction on window_dataset's window there."""
    from barstore.checkpoints import load_model
    from barstore.specs import MODELS
    from barstore.windows import window_dataset

    fold = first.folds[0]
    run = next(m["run"] for m in first.results["folds"][0]["models"] if m["model"] == "seq300_minute")
    ds = window_dataset(MODELS["seq300_minute"], home=str(workspace.home), start=fold.start, end=fold.last)
    p = _fold(first.predictions, 1)
    row = p.iloc[len(p) // 2]
    k = int(np.flatnonzero(ds.timestamps == np.datetime64(row["time"].tz_convert(None), "us"))[0])
    pred = load_model(run).predict(ds.matrix, ds.ends[k : k + 1])  # one window, not the fold's batch: float32 sums
    assert pred.p_up[0] == pytest.approx(row["seq300_minute__p_up"], rel=1e-5)
    assert pred.ret[0] == pytest.approx(row["seq300_minute__return"], rel=1e-5)


def test_no_lookahead_scrambled_future_bars_leave_a_fold_unchanged(workspace, first, tmp_path):
    """Every bar starting at or after fold 1's last decision gets other prices and volumes; the workspace is
    rebuilt and the backtest rerun on fold 1 with the same seed: its predictions and decisions are identical,
    although the bars it is scored on (horizon prices) and fold 2's prices did change."""
    fold = first.folds[0]
    scrambled = scrambled_copy(workspace.home, tmp_path / "scrambled", fold.last_decision)
    from barstore.feature_store import open_store
    from barstore.warehouse import connect

    con = connect(scrambled.warehouse, read_only=True)
    assert plan_folds(decision_times(con, None), FOLDS, since=TEST_SINCE) == first.folds  # bar times unchanged
    again = run_backtest(scrambled, settings(), out=tmp_path / "out", folds=[fold])

    before, after = _fold(first.predictions, 1), _fold(again.predictions, 1)
    pd.testing.assert_frame_equal(before, after)
    decided = ["strategy", "symbol", "time", "action", "reason", "price"]
    pd.testing.assert_frame_equal(_fold(first.decisions, 1)[decided], _fold(again.decisions, 1)[decided])
    # the scramble reached what fold 1 is scored on, and fold 2's decision prices
    three = first.decisions["strategy"] == "three_model"
    horizon_before = _fold(first.decisions[three], 1)["horizon_price"]
    horizon_after = _fold(again.decisions[again.decisions["strategy"] == "three_model"], 1)["horizon_price"]
    assert (horizon_before.to_numpy() != horizon_after.to_numpy()).sum() > 10
    grid = decision_grid(open_store(scrambled), con, None, first.folds[1])
    assert not np.allclose(grid.frame["price"].to_numpy(), _fold(first.predictions, 2)["price"].to_numpy())


def test_a_fold_run_alone_on_bars_scrambled_from_its_first_decision_trains_bit_identically(workspace, first, tmp_path):
    """Every bar starting at or after fold 2's first decision gets other prices and volumes, and fold 2 is run again
    alone (the fixture ran it after fold 1): its checkpoints (weights and the fingerprint of their data) are
    bit-identical, so no training label reaches into the fold (without the embargo the last training samples' labels
    end inside it) and a fold's training does not depend on the folds run before it with the same seed; its first
    decision (every model's and baseline's prediction, and every strategy's action) is unchanged, as it reads bars
    closed by then only. (Fold 1 run again, in the no-lookahead test, reproduces its predictions and decisions.)"""
    import torch

    fold = first.folds[1]
    scrambled = scrambled_copy(workspace.home, tmp_path / "scrambled", fold.start)
    again = run_backtest(scrambled, settings(), out=tmp_path / "out", folds=[fold])
    assert [f["fold"] for f in again.results["folds"]] == [2]
    trained = 0
    for before, after in zip(first.results["folds"][1]["models"], again.results["folds"][0]["models"], strict=True):
        assert before["model"] == after["model"] and (before["run"] is None) == (after["run"] is None)
        assert before["samples"] == after["samples"] and before["periods"] == after["periods"], before["model"]
        if before["run"] is None:
            continue
        a, b = (torch.load(Path(r) / "model.pt", weights_only=False) for r in (before["run"], after["run"]))
        assert a["data_fingerprint"] == b["data_fingerprint"], before["model"]
        assert a["model_state_dict"].keys() == b["model_state_dict"].keys()
        assert all(torch.equal(t, b["model_state_dict"][k]) for k, t in a["model_state_dict"].items()), before["model"]
        trained += 1
    assert trained == 4  # every model but the long-term one, which has no window here
    baselines = ("logistic_baseline", "gbm_baseline")  # fit on the hourly steps before the fold's own cutoff
    for name in baselines:
        assert first.results["folds"][1]["baselines"][name] == again.results["folds"][0]["baselines"][name], name
    at_start = _fold(first.predictions, 2)["time"] == pd.Timestamp(fold.start)
    assert at_start.sum() == 1
    pd.testing.assert_frame_equal(
        _fold(first.predictions, 2)[at_start].reset_index(drop=True),
        again.predictions[again.predictions["time"] == pd.Timestamp(fold.start)].reset_index(drop=True),
    )
    decided = ["strategy", "symbol", "time", "action", "reason", "price"]
    first_decisions = _fold(first.decisions, 2)
    pd.testing.assert_frame_equal(
        first_decisions[first_decisions["time"] == pd.Timestamp(fold.start)][decided].reset_index(drop=True),
        again.decisions[again.decisions["time"] == pd.Timestamp(fold.start)][decided].reset_index(drop=True),
    )
    later = (_fold(first.predictions, 2)["time"] > pd.Timestamp(fold.start)).to_numpy()
    assert not np.allclose(_fold(first.predictions, 2)["price"][later], again.predictions["price"][later])
    assert again.results["models"]["seq300_minute"]["folds"]  # (seq800's labels reach past the data's end)


def test_model_accuracies_are_the_predictions_scored_on_the_labels(workspace, first):
    """results.json's per-fold direction accuracy of a model is its distinct steps' P(up) > 0.5 scored against the
    forward returns of the warehouse; and the ensembles and the baselines do trade."""
    from barstore.warehouse import connect
    from barstore.windows.labels import forward_returns

    con = connect(workspace.warehouse, read_only=True)
    p = first.predictions
    checked = 0
    for name in ("seq300_minute", "seq500_minute", "seq800_minute", "seq500_hourly"):
        labels = forward_returns(con, MODELS[name]).to_pandas()[["symbol", "event_timestamp", "label"]]
        labels["event_timestamp"] = pd.to_datetime(labels["event_timestamp"], utc=True)
        steps = p[["fold", "symbol", f"{name}__step_time", f"{name}__p_up"]].dropna()
        steps = steps.drop_duplicates(["symbol", f"{name}__step_time"])
        steps = steps.rename(columns={f"{name}__step_time": "event_timestamp", f"{name}__p_up": "p_up"})
        steps["event_timestamp"] = pd.to_datetime(steps["event_timestamp"], utc=True)
        scored = steps.merge(labels, on=["symbol", "event_timestamp"], how="left").dropna(subset=["label"])
        per_fold = {f["fold"]: f["accuracy"] for f in first.results["models"][name]["folds"]}
        for number in range(1, FOLDS + 1):
            mine = scored[scored["fold"] == number]
            if mine.empty:
                assert number not in per_fold, (name, number)
                continue
            hits = (mine["p_up"] > 0.5) == (mine["label"] > 0)
            assert per_fold[number]["n"] == len(mine), (name, number)
            assert per_fold[number]["value"] == pytest.approx(hits.mean(), abs=1e-12), (name, number)
            checked += 1
    # 60-minute and 1-day labels are known in both folds, 3-day ones in fold 1 only, 5-day ones in neither
    assert checked == 5
    trading = first.decisions[
        first.decisions["strategy"].isin(["three_model", "four_model", "logistic_baseline", "gbm_baseline", "momentum"])
    ]
    assert (trading["action"] != "wait").sum() > 100  # the ensembles and the baselines do trade


def _table(report: str) -> dict[tuple[str, str], dict[str, str]]:
    """(strategy label, instrument) -> {metric: cell} of report.md's strategy table."""
    section = report.split("## Strategies", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in section.splitlines() if line.startswith("| ") and not line.startswith("| strategy")]
    out = {}
    for line in lines:
        cells = [c.strip() for c in line.strip("|").split("|")]
        out[(cells[0], cells[1])] = dict(zip(METRIC_COLUMNS, cells[2:]))
    return out


def test_report_table_is_the_saved_decisions_recomputed(first):
    out = first.out
    results, report = load_results(out), (out / "report.md").read_text(encoding="utf-8")
    table = _table(report)
    decisions = pd.read_parquet(out / "decisions.parquet")
    rules = PositionRules()
    checked = 0
    for strategy in STRATEGIES:
        entry = results["strategies"][strategy.name]
        if SYMBOL in entry["not_available"]:
            assert table[(strategy.label, SYMBOL)]["trades"] == "not available"
            assert entry["pooled"] is None and strategy.requires[-1] == "longterm_multitf"
            continue
        sim = simulate(decisions[(decisions["strategy"] == strategy.name) & (decisions["symbol"] == SYMBOL)], rules)
        ppy = periods_per_year(sim.periods["time"], CALENDAR)
        own = strategy_metrics(sim.periods["net"], sim.periods["position"], sim.trades["net"], ppy).to_dict()
        pooled = summarize(sim, periods_per_year(np.unique(sim.periods["time"]), CALENDAR)).to_dict()
        for metric in METRIC_COLUMNS:
            assert table[(strategy.label, SYMBOL)][metric] == format_metric(metric, own[metric]), (strategy, metric)
            assert table[(strategy.label, POOLED)][metric] == format_metric(metric, pooled[metric]), (strategy, metric)
            saved = entry["instruments"][SYMBOL][metric]
            assert (saved is None and own[metric] is None) or saved == pytest.approx(own[metric], rel=1e-12)
        checked += 1
    # 3-model, 4-model, logistic, LightGBM, momentum, buy-and-hold, flat (those needing the long-term model are not)
    assert checked == 7
    flat = results["strategies"]["flat"]["instruments"][SYMBOL]
    assert flat["trades"] == 0 and flat["total_return_pct"] == 0 and flat["exposure"] == 0
    hold = results["strategies"]["buy_and_hold"]["instruments"][SYMBOL]
    prices = first.predictions["price"].to_numpy()
    assert hold["trades"] == 1 and hold["exposure"] == 1
    assert abs(hold["total_return_pct"] - 100 * (prices[-1] / prices[0] - 1)) < 0.15  # minus two 5-bps sides
    assert results["strategies"]["three_model"]["instruments"][SYMBOL]["trades"] > 0
    for png in results["plots"].values():
        data = (out / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 20_000
        assert png in report
    for text in ("+1.75% to +2.00%", "68% to 73%", "> 55%", "## Folds", "## Settings", "cannot show"):
        assert text in report
    assert len(results["folds"]) == FOLDS and all(f["decision_times"] > 40 for f in results["folds"])
    assert results["intervals"]["four_model_minus_three_model"]["periods"] == len(first.predictions)
    assert math.isfinite(results["intervals"]["four_model_minus_three_model"]["sharpe"]["low"])


def test_cli_refuses_bad_options_before_any_work(tmp_path):
    from typer.testing import CliRunner

    from barstore.cli import app
    from barstore.cli.backtest import register

    if not any(getattr(c.callback, "__name__", "") == "backtest" for c in app.registered_commands):
        register(app)
    result = CliRunner().invoke(app, ["backtest", "--home", str(tmp_path), "--hold-days", "-1"])
    assert result.exit_code == 1 and "--hold-days must be >= 0" in result.output
    result = CliRunner().invoke(app, ["backtest", "--help"])
    assert result.exit_code == 0 and "--folds" in result.output and "--max-samples" in result.output


def test_momentum_reads_the_last_five_days_known_at_the_decision(workspace, first):
    """The momentum baseline's call at t is the sign of close(t) / close(t - 5 days) - 1 on the hourly bars (24/7:
    5 trading days are 120 hours), recomputed here from bars_1h; the baselines are fit per fold."""
    from barstore.warehouse import connect, query_arrow

    con = connect(workspace.warehouse, read_only=True)
    bars = query_arrow(con, "SELECT ts_close, close FROM bars_1h WHERE symbol = $s AND is_complete", {"s": SYMBOL})
    close = pd.Series(bars["close"].to_numpy(), index=pd.DatetimeIndex(bars["ts_close"].to_pandas()).tz_convert("UTC"))
    p = first.predictions
    now = close.reindex(p["time"]).to_numpy()
    before = close.reindex(p["time"] - timedelta(days=5)).to_numpy()
    known = np.isfinite(before)
    assert known.sum() > 50
    expected = (now[known] / before[known] - 1 > 0).astype(float)
    np.testing.assert_array_equal(p["momentum__p_up"].to_numpy()[known], expected)
    for record in first.results["folds"]:
        assert record["baselines"]["gbm_baseline"]["samples"] > 50, record["baselines"]
        assert "reason" in record["baselines"]["gbm_embedding_baseline"]  # no long-term model in this workspace
