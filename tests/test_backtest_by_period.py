"""barstore backtest-model's numbers (backtest.by_period): the momentum rule sees only returns known at the decision,
accuracies and paired differences are the calls recounted, and the readings come from the interval alone."""

from __future__ import annotations

import numpy as np
import pandas as pd

from backtest.by_period import evaluate, rule_calls, verdict
from backtest.momentum import momentum_at


def _known(symbol: str, label_times: list[str], labels: list[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"symbol": symbol, "label_time": pd.to_datetime(label_times).astype("datetime64[us]"), "label": labels}
    )


def test_momentum_uses_the_last_return_whose_label_time_has_passed():
    known = pd.concat(
        [
            _known("A", ["2020-01-06", "2020-01-07", "2020-01-08"], [0.01, -0.02, 0.03]),
            _known("B", ["2020-01-07"], [-1]),
        ]
    )
    calls = pd.DataFrame(
        {
            "symbol": ["A", "A", "A", "A", "B", "C"],
            "time": pd.to_datetime(
                [
                    "2020-01-05 00:00",
                    "2020-01-06 00:00",
                    "2020-01-07 12:00",
                    "2020-01-09 00:00",
                    "2020-01-08 00:00",
                    "2020-01-08 00:00",
                ]
            ).astype("datetime64[us]"),
        }
    )
    out = momentum_at(known, calls)
    # before any label is known: no call; at a label time: that label; later: the latest known; unknown symbol: none
    np.testing.assert_array_equal(out, [np.nan, 0.01, -0.02, 0.03, -1, np.nan])


def _calls(n_days: int, symbols: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    days = pd.date_range("2020-01-01", periods=n_days, freq="D")
    rows = []
    for s in range(symbols):
        label = rng.normal(size=n_days)
        rows.append(
            pd.DataFrame(
                {
                    "period": days.year,
                    "symbol": f"S{s}",
                    "time": days.to_numpy().astype("datetime64[us]"),
                    "label_time": (days + pd.Timedelta(days=5)).to_numpy().astype("datetime64[us]"),
                    "label": label,
                    "p_up": np.where(rng.random(n_days) < 0.7, label > 0, label <= 0).astype(float),
                    "majority_up": True,
                    "momentum": np.r_[np.nan, label[:-1]],
                }
            )
        )
    return pd.concat(rows, ignore_index=True)


def test_accuracies_and_differences_are_the_calls_recounted():
    calls = _calls(400, 3, 0)
    out = evaluate(calls, {"first two": ("S0", "S1")})
    up = calls["label"] > 0
    made = rule_calls(calls)
    pooled = out["pooled"]
    assert pooled["model"]["accuracy"]["value"] == ((calls["p_up"] > 0.5) == up).mean()
    assert pooled["always_up"]["accuracy"]["value"] == up.mean()
    ok = np.isfinite(made["momentum"])
    assert pooled["momentum"]["accuracy"]["n"] == ok.sum() == len(calls) - 3  # each symbol's first day: no call
    diff = pooled["model_minus_always_up"]["value"]
    assert abs(diff - (pooled["model"]["accuracy"]["value"] - up.mean())) < 1e-12
    # 400 days of 5-day labels: one period starts every 5 days, whatever the number of symbols
    assert pooled["periods"] == 80 and pooled["model"]["accuracy"]["periods"] == 80
    assert pooled["model"]["accuracy"]["low"] < 0.7 < pooled["model"]["accuracy"]["high"]
    assert set(out["by_period"]) == {"2020", "2021"} and out["by_group"]["first two"]["symbols"] == 2
    assert verdict(pooled["model"]["accuracy"], 0.55) == "supported"
    assert verdict(pooled["always_up"]["accuracy"], 0.55) == "ruled out"
    assert verdict(pooled["model_minus_always_up"], 0.0) == "supported"


def test_too_few_periods_give_no_reading():
    out = evaluate(_calls(40, 2, 1))  # 8 label periods, fewer than the 20 an interval needs
    figure = out["pooled"]["model"]["accuracy"]
    assert figure["too_few"] and figure["low"] is None
    assert verdict(figure).startswith("too few periods")
