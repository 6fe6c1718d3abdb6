"""Backtest accounting: positions, returns and costs on hand-made decisions with hand-computed numbers; every
metric against a plain loop; bootstrap intervals that cover a known shift, reproducibly, and a zero case."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from backtest.bootstrap import filter_effect, mean_difference, paired_difference, sharpe_difference
from backtest.metrics import (
    max_drawdown,
    periods_per_year,
    profit_factor,
    sharpe,
    strategy_metrics,
    summarize,
    trading_days,
)
from backtest.positions import ACTIONS, FuturesCost, PositionRules, simulate
from barstore.errors import BarstoreError
from inference.ensemble import Action

C = 0.0005  # 5 bps per side
HOUR = pd.Timedelta(hours=1)
T0 = pd.Timestamp("2024-01-02 10:00", tz="UTC")


def decisions(actions, prices, symbol="X", horizons=None) -> pd.DataFrame:
    """Hourly decisions from T0; horizons: {row: (time, price)}, the others 10 hours ahead at price 130."""
    n = len(actions)
    times = [T0 + i * HOUR for i in range(n)]
    frame = pd.DataFrame({"symbol": symbol, "time": times, "action": actions, "price": [float(p) for p in prices]})
    frame["horizon_time"] = [t + 10 * HOUR for t in times]
    frame["horizon_price"] = 130.0
    for row, (time, price) in (horizons or {}).items():
        frame.loc[row, ["horizon_time", "horizon_price"]] = time, price
    return frame


def test_actions_match_the_ensemble():
    assert set(ACTIONS) == {a.value for a in Action}


def test_positions_returns_costs_and_trades_by_hand():
    sim = simulate(
        decisions(
            ["buy", "strong_buy", "wait", "reduce", "strong_sell", "wait", "wait", "cautious_long"],
            [100, 102, 101, 103, 104, 100, 98, 97],
            horizons={4: (T0 + 5.5 * HOUR, 99.0), 7: (pd.NaT, np.nan)},
        )
    )
    p = sim.periods
    assert p["carried"].tolist() == [0, 0.5, 1, 1, 0.5, -1, 0, 0]
    assert p["position"].tolist() == [0.5, 1, 1, 0.5, -1, -1, 0, 0.25]
    expected_gross = [
        0.5 * (102 / 100 - 1),  # buy: half a position
        1.0 * (101 / 102 - 1),  # strong buy: all of it
        1.0 * (103 / 101 - 1),  # wait keeps it
        0.5 * (104 / 103 - 1),  # reduce halves it
        -1.0 * (100 / 104 - 1),  # strong sell flips it
        -1.0 * (99 / 100 - 1),  # wait keeps the short until its horizon at 15:30, 99, before the 16:00 decision
        0.0,  # wait: the short has ended, nothing to keep
        0.0,  # the last decision has no horizon: closed at its own price
    ]
    expected_cost = [0.5 * C, 0.5 * C, 0, 0.5 * C, 1.5 * C, 1.0 * C, 0, 0.25 * C + 0.25 * C]
    np.testing.assert_allclose(p["gross"], expected_gross, rtol=0, atol=1e-15)
    np.testing.assert_allclose(p["cost"], expected_cost, rtol=0, atol=1e-15)
    np.testing.assert_allclose(p["net"], np.subtract(expected_gross, expected_cost), atol=1e-15)
    assert p["end_time"][5] == T0 + 5.5 * HOUR and p["end_price"][5] == 99.0 and p["closed_at_end"][5]
    assert p["trade"].tolist() == [0, 0, 0, 0, 1, 1, -1, 2]

    t = sim.trades
    assert t["side"].tolist() == [1, -1, 1] and t["periods"].tolist() == [4, 2, 1]
    assert t["entry_time"].tolist() == [T0, T0 + 4 * HOUR, T0 + 7 * HOUR]
    assert t["exit_time"].tolist() == [T0 + 4 * HOUR, T0 + 5.5 * HOUR, T0 + 7 * HOUR]
    # the flip's 1.5 C: 0.5 C closes trade 0, 1.0 C opens trade 1
    np.testing.assert_allclose(t["cost"], [4 * 0.5 * C, 2 * C, 0.5 * C], atol=1e-15)
    np.testing.assert_allclose(
        t["net"], [sum(expected_gross[:4]) - 2 * C, sum(expected_gross[4:6]) - 2 * C, -0.5 * C], atol=1e-15
    )
    assert t["net"].sum() == pytest.approx(p["net"].sum(), abs=1e-15)


def test_horizon_at_the_next_decision_holds_until_it():
    # the buy's horizon is exactly the next decision: held to it (no early exit), and the WAIT there keeps nothing
    sim = simulate(decisions(["buy", "wait", "sell"], [100, 110, 100], horizons={0: (T0 + HOUR, 110.0)}))
    p = sim.periods
    assert p["position"].tolist() == [0.5, 0, -0.5] and not p["closed_at_end"][0]
    np.testing.assert_allclose(p["net"][:2], [0.5 * 0.1 - 0.5 * C, -0.5 * C], atol=1e-15)
    # the sell runs to its horizon, 10 hours on at 130
    assert p["end_price"][2] == 130.0 and p["gross"][2] == pytest.approx(-0.5 * 0.3)


def test_wait_flat_and_a_buy_renewing_the_clock():
    flat = simulate(decisions(["strong_buy", "wait"], [100, 105]), PositionRules(wait="flat")).periods
    assert flat["position"].tolist() == [1, 0]
    np.testing.assert_allclose(flat["cost"], [C, C])
    # buy, buy: the second restarts the horizon (the first's, at 10:30, would have closed it)
    renewed = simulate(decisions(["buy", "buy", "wait"], [100, 102, 104], horizons={0: (T0 + 0.5 * HOUR, 101.0)}))
    assert renewed.periods["position"].tolist() == [0.5, 0.5, 0.5]
    assert renewed.periods["end_price"].tolist()[0] == 101.0  # the first period ends at its horizon
    assert len(renewed.trades) == 2  # and so the second buy opens a new trade


def test_missing_opens_nothing_and_closes_or_keeps_as_the_rule_says():
    actions, prices = ["missing", "strong_buy", "missing", "buy", "missing"], [100, 101, 102, 103, 104]
    flat = simulate(decisions(actions, prices)).periods  # default missing = "flat"
    assert PositionRules().missing == "flat"
    assert flat["position"].tolist() == [0, 1, 0, 0.5, 0]
    kept = simulate(decisions(actions, prices), PositionRules(missing="keep")).periods
    assert kept["position"].tolist() == [0, 1, 1, 0.5, 0.5]  # kept, never resized; never opened from flat


def test_futures_cost_ticks_and_commission():
    es = FuturesCost(tick_size=0.25, multiplier=50, commission=2.5)
    assert es.per_side(4000.0) == pytest.approx((0.25 * 50 + 2.5) / (4000 * 50))  # 0.75 bps
    rules = PositionRules()
    assert rules.cost_per_side("ES", 4000.0) == pytest.approx(7.5e-5)
    assert rules.cost_per_side("NQ", 16000.0) == pytest.approx((0.25 * 20 + 2.5) / (16000 * 20))
    assert rules.cost_per_side("BTCUSDT", 60000.0) == C
    sim = simulate(decisions(["strong_buy", "wait"], [4000, 4010], symbol="ES", horizons={0: (pd.NaT, np.nan)}))
    # entry at 4000 without a known horizon: held to the last decision at 4010, closed there at its price
    entry, exit_ = (12.5 + 2.5) / (4000 * 50), (12.5 + 2.5) / (4010 * 50)
    np.testing.assert_allclose(sim.periods["net"], [4010 / 4000 - 1 - entry, -exit_], atol=1e-15)


def test_instruments_are_separate_and_the_portfolio_splits_capital():
    end = {0: (pd.NaT, np.nan)}  # entries without a known horizon: closed at the last decision's price
    both = pd.concat(
        [decisions(["buy", "wait"], [100, 110], "A", end), decisions(["sell", "wait"], [50, 40], "B", end)]
    )
    sim = simulate(both)
    assert sim.trades["symbol"].tolist() == ["A", "B"] and sim.trades["trade"].tolist() == [0, 1]
    a = [0.5 * (110 / 100 - 1) - 0.5 * C, -0.5 * C]
    b = [-0.5 * (40 / 50 - 1) - 0.5 * C, -0.5 * C]
    np.testing.assert_allclose(sim.trades["net"], [sum(a), sum(b)], atol=1e-15)
    np.testing.assert_allclose(sim.portfolio_returns(), [(a[0] + b[0]) / 2, (a[1] + b[1]) / 2], atol=1e-15)


def test_bad_decisions_are_refused():
    with pytest.raises(BarstoreError, match="unknown actions 'hold'"):
        simulate(decisions(["buy", "hold"], [1, 2]))
    backwards = decisions(["buy", "wait"], [1, 2]).iloc[::-1]
    with pytest.raises(BarstoreError, match="not in strictly increasing time order"):
        simulate(backwards)
    with pytest.raises(BarstoreError, match="price that is not a positive number"):
        simulate(decisions(["buy", "wait"], [1, np.nan]))


def test_rules_from_the_project_file(tmp_path):
    (tmp_path / "barstore_project.toml").write_text(
        '[backtest]\nwait = "flat"\ncost_bps = 2.0\n'
        "[backtest.sizes]\nbuy = 0.75\n"
        "[backtest.futures.ES]\ncommission = 1.0\n"
        "[backtest.futures.CL]\ntick_size = 0.01\nmultiplier = 1000\n"
    )
    rules = PositionRules.from_project(tmp_path)
    assert rules.wait == "flat" and rules.cost_bps == 2.0 and rules.reduce_factor == 0.5
    assert rules.sizes["buy"] == 0.75 and rules.sizes["strong_buy"] == 1.0
    assert rules.futures["ES"] == FuturesCost(0.25, 50, commission=1.0)
    assert rules.cost_per_side("CL", 80.0) == pytest.approx((0.01 * 1000 + 2.5) / (80 * 1000))


@pytest.mark.parametrize(
    "toml, message",
    [
        ("[backtest]\nwiat = 'keep'\n", r"\[backtest\]: unknown key 'wiat'"),
        ("[backtest]\nwait = 'sell'\n", "wait: expected one of keep, flat, got 'sell'"),
        ("[backtest]\nmissing = 'wait'\n", "missing: expected one of keep, flat, got 'wait'"),
        ("[backtest.sizes]\nbuy = -0.5\n", "sizes buy: expected a number >= 0, got -0.5"),
        ("[backtest.sizes]\nsell = 0.5\n", "sizes sell: expected a number <= 0, got 0.5"),
        ("[backtest.sizes]\nhold = 1\n", "sizes: unknown action 'hold'"),
        ("[backtest.futures.ES]\ntick = 0.25\n", r"\[backtest\] futures ES: unknown key 'tick'"),
        ("[backtest.futures.CL]\ntick_size = 0.01\n", r"\[backtest\] futures CL: needs multiplier"),
        ("[backtest.futures.CL]\ntick_size = 0\nmultiplier = 1\n", "futures CL tick_size: expected a number > 0"),
    ],
)
def test_bad_rules_name_the_key(tmp_path, toml, message):
    (tmp_path / "barstore_project.toml").write_text(toml)
    with pytest.raises(BarstoreError, match=message):
        PositionRules.from_project(tmp_path)


# --- metrics -------------------------------------------------------------------------------------------------

R = [0.01, -0.02, 0.015, 0.0, 0.03, -0.01]
TRADES = [0.02, -0.01, 0.005, -0.005, 0.0]  # a break-even trade is not a win


def test_metrics_against_hand_and_loop_computations():
    m = strategy_metrics(R, [1, 1, 0.5, 0, -1, -1], TRADES, periods_per_year=252)
    assert (m.periods, m.trades) == (6, 5)
    assert m.win_rate == 0.4 and m.avg_trade_pct == pytest.approx(0.2)
    assert m.profit_factor == pytest.approx(0.025 / 0.015)
    assert m.exposure == pytest.approx(5 / 6)
    equity, peak, worst = 1.0, 1.0, 0.0
    for r in R:
        equity *= 1 + r
        peak = max(peak, equity)
        worst = max(worst, 1 - equity / peak)
    assert m.total_return_pct == pytest.approx((equity - 1) * 100)
    assert worst == pytest.approx(0.02) and m.max_drawdown_pct == pytest.approx(2.0)  # 1.01 -> 0.9898
    mean = sum(R) / len(R)
    sd = math.sqrt(sum((r - mean) ** 2 for r in R) / (len(R) - 1))
    assert m.sharpe == pytest.approx(mean / sd * math.sqrt(252))


def test_metric_edge_cases():
    assert sharpe([0.0, 0.0, 0.0], 252) == 0.0 and math.isnan(sharpe([0.01], 252))
    assert max_drawdown([-0.5]) == 0.5 and max_drawdown([0.1, 0.1]) == 0.0
    assert profit_factor([0.01, 0.02]) == math.inf and math.isnan(profit_factor([]))
    flat = strategy_metrics([0.0, 0.0], [0, 0], [], 252)
    assert flat.to_dict()["win_rate"] is None and flat.exposure == 0 and flat.sharpe == 0.0


def test_summarize_a_simulation():
    sim = simulate(decisions(["buy", "wait", "sell"], [100, 110, 100]))
    m = summarize(sim, periods_per_year=252)
    assert m.periods == 3 and m.trades == 2 and m.exposure == 1.0
    assert m.total_return_pct == pytest.approx((np.prod(1 + sim.periods["net"]) - 1) * 100)


NYSE_2021_HOLIDAYS = ["2021-01-01", "2021-01-18", "2021-02-15", "2021-04-02", "2021-05-31", "2021-07-05",
                      "2021-09-06", "2021-11-25", "2021-12-24"]  # fmt: skip


def test_periods_per_year_from_the_calendar():
    days = pd.bdate_range("2021-01-01", "2021-12-31").difference(pd.DatetimeIndex(NYSE_2021_HOLIDAYS))
    assert len(days) == 252
    closes = (days + pd.Timedelta(hours=16)).tz_localize("America/New_York")
    # 252 decisions over the 260 weekdays from Monday 4 January (1 January is a holiday) to 31 December
    assert periods_per_year(closes, "us_rth") == pytest.approx(252 / 260 * 365.25 * 5 / 7)  # ~252.9
    daily = pd.date_range("2021-01-01", "2021-12-31", freq="D", tz="UTC")
    assert periods_per_year(daily, "crypto_24x7") == pytest.approx(365.25)
    hourly = pd.date_range("2021-03-01", periods=240, freq="h", tz="UTC")
    assert periods_per_year(hourly, "crypto_24x7") == pytest.approx(24 * 365.25)
    # Globex: Sunday 18:30 New York trades on Monday's day; Friday 16:00 on Friday's
    sunday, friday = pd.Timestamp("2021-01-03 23:30", tz="UTC"), pd.Timestamp("2021-01-08 21:00", tz="UTC")
    assert trading_days([sunday, friday], "cme_globex").tolist() == [
        np.datetime64("2021-01-04", "D"),
        np.datetime64("2021-01-08", "D"),
    ]
    assert periods_per_year([sunday, friday], "cme_globex") == pytest.approx(2 / 5 * 365.25 * 5 / 7)
    with pytest.raises(BarstoreError, match="unknown calendar 'nyse'"):
        periods_per_year(daily, "nyse")


# --- bootstrap -----------------------------------------------------------------------------------------------


def ar1(rng, n, phi, scale) -> np.ndarray:
    x = np.empty(n)
    x[0] = rng.normal(0, scale / math.sqrt(1 - phi**2))
    for i in range(1, n):
        x[i] = phi * x[i - 1] + rng.normal(0, scale)
    return x


SHIFT = 0.0005


def shifted_pair(seed: int, n: int = 1500):
    """b: market + its own AR(1) noise; a: the same market + other AR(1) noise + SHIFT per period."""
    rng = np.random.default_rng(seed)
    market = rng.normal(0, 0.01, n)
    return market + ar1(rng, n, 0.6, 0.002) + SHIFT, market + ar1(rng, n, 0.6, 0.002)


def test_mean_difference_covers_a_known_shift_and_is_reproducible():
    a, b = shifted_pair(1)
    first = mean_difference(a, b, seed=11)
    assert first.estimate == pytest.approx(a.mean() - b.mean())
    assert first.contains(SHIFT) and first.excludes_zero and first.low < first.estimate < first.high
    assert first.block_length > 1.5  # the AR(1) dependence is seen
    assert mean_difference(a, b, seed=11) == first
    assert mean_difference(a, b, seed=12) != first
    flipped = mean_difference(b, a, seed=11)
    assert flipped.contains(-SHIFT) and not flipped.contains(SHIFT)


def test_mean_difference_coverage_over_many_samples():
    """The 95% interval covers the true shift in about 95% of 100 independent samples (93 here; a block length
    of 1, ignoring the AR(1) dependence of the differences, covers it in 78)."""
    hits = sum(mean_difference(*shifted_pair(seed), reps=400, seed=seed).contains(SHIFT) for seed in range(100))
    assert hits >= 88


def test_sharpe_difference_covers_the_known_difference():
    rng = np.random.default_rng(3)
    b = rng.normal(0.0002, 0.01, 3000)
    a = b + SHIFT  # same risk, SHIFT more per period: Sharpe higher by SHIFT / 0.01 x sqrt(252)
    interval = sharpe_difference(a, b, periods_per_year=252, seed=5)
    assert interval.estimate == pytest.approx(sharpe(a, 252) - sharpe(b, 252))
    assert interval.contains(SHIFT / 0.01 * math.sqrt(252)) and interval.excludes_zero


def test_zero_difference():
    a, _ = shifted_pair(2)
    same = mean_difference(a, a.copy(), seed=1)
    assert (same.estimate, same.low, same.high) == (0.0, 0.0, 0.0)
    rng = np.random.default_rng(4)
    market = rng.normal(0, 0.01, 1500)
    x, y = market + rng.normal(0, 0.002, 1500), market + rng.normal(0, 0.002, 1500)  # no shift
    assert mean_difference(x, y, seed=1).contains(0.0)
    assert sharpe_difference(x, y, 252, seed=1).contains(0.0)


def test_filter_effect_is_with_minus_without():
    without, with_ = shifted_pair(5)[1], shifted_pair(5)[0]
    effect = filter_effect(with_, without, periods_per_year=252, seed=9, reps=500)
    assert effect["mean"] == mean_difference(with_, without, seed=9, reps=500)
    assert effect["sharpe"] == sharpe_difference(with_, without, 252, seed=9, reps=500)
    assert effect["mean"].contains(SHIFT) and effect["mean"].excludes_zero


def test_paired_series_are_checked():
    with pytest.raises(BarstoreError, match="of one length"):
        paired_difference([0.1, 0.2, 0.3], [0.1, 0.2], np.mean)
    with pytest.raises(BarstoreError, match="must be finite"):
        mean_difference([0.1, np.nan, 0.3], [0.1, 0.2, 0.3])


def test_every_builtin_calendar_annualizes():
    """The backtest annualizes on every calendar a symbol can be ingested with (ES's file is cme_rth)."""
    from barstore.calendars import BUILTIN

    for name in BUILTIN:
        hours = pd.date_range("2024-03-04 15:00", periods=5 * 24, freq="h", tz="UTC")  # Mon..Fri
        assert periods_per_year(hours, name) > 0, name
    # cme_rth: one decision per weekday -> ~261 a year (weekday calendar, holidays counted on both sides)
    days = pd.date_range("2024-03-04 20:00", periods=5, freq="D", tz="UTC")
    assert periods_per_year(days, "cme_rth") == pytest.approx(365.25 * 5 / 7)
