"""The ensemble decision: every rule's branch on hand-made predictions, both trend scores, the three-model mode,
the vectorised form against an independent if/else loop, and the settings from barstore_project.toml."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from barstore.errors import BarstoreError
from inference.ensemble import (
    HOURLY_MODEL,
    MINUTE_MODELS,
    RECENT_COLUMN,
    TREND_MODEL,
    Action,
    Confidence,
    EnsembleSettings,
    ModelOutput,
    decide,
    decide_many,
    recent_hourly_level,
    return_column,
)

NO_FILTER = EnsembleSettings(trend_filter="none")


def outputs(minute, hourly=None, p_up=None, embedding=None) -> dict:
    out = {m: ModelOutput(r) for m, r in zip(MINUTE_MODELS, minute, strict=True)}
    if hourly is not None:
        out[HOURLY_MODEL] = ModelOutput(hourly)
    if p_up is not None or embedding is not None:
        out[TREND_MODEL] = ModelOutput(p_up=p_up, embedding=embedding)
    return out


# (minute returns, hourly, recent level) -> (action, confidence, direction); the strong threshold is 0.5%.
FOUR_MODEL_CASES = {
    "strong buy": ((0.002, 0.003, 0.001), 0.006, None, Action.STRONG_BUY, Confidence.HIGH, 1),
    "buy": ((0.002, 0.003, 0.001), 0.004, None, Action.BUY, Confidence.HIGH, 1),
    "buy, one minute model down": ((0.004, 0.003, -0.001), 0.002, None, Action.BUY, Confidence.HIGH, 1),
    "strong sell": ((-0.002, -0.003, -0.001), -0.006, None, Action.STRONG_SELL, Confidence.HIGH, -1),
    "sell at exactly the threshold": ((-0.002, -0.003, -0.001), -0.005, None, Action.SELL, Confidence.HIGH, -1),
    "cautious long": ((0.004, 0.003, 0.002), -0.001, None, Action.CAUTIOUS_LONG, Confidence.MEDIUM, 1),
    "cautious short": ((-0.004, -0.003, -0.002), 0.001, None, Action.CAUTIOUS_SHORT, Confidence.MEDIUM, -1),
    "wait: bounce in a downtrend": ((0.001, 0.002, -0.0006), -0.003, None, Action.WAIT, Confidence.MEDIUM, 0),
    "reduce a long": ((-0.001, -0.002, -0.003), 0.004, 0.006, Action.REDUCE, Confidence.MEDIUM, 0),
    # |minute_avg| 0.5% > |hourly| 0.2%: the opposite-sign rule alone says cautious short; REDUCE comes first
    "reduce before cautious short": ((-0.004, -0.005, -0.006), 0.002, 0.003, Action.REDUCE, Confidence.MEDIUM, 0),
    "reduce a short": ((0.001, 0.002, 0.003), -0.004, -0.006, Action.REDUCE, Confidence.MEDIUM, 0),
    "no reduce: the uptrend strengthens": ((-0.001, -0.002, -0.003), 0.004, 0.003, Action.WAIT, Confidence.MEDIUM, 0),
    "no reduce: recent level unknown": ((-0.001, -0.002, -0.003), 0.004, None, Action.WAIT, Confidence.MEDIUM, 0),
    "no reduce: a minute model up":
        ((-0.004, -0.005, 0.001), 0.002, 0.003, Action.CAUTIOUS_SHORT, Confidence.MEDIUM, -1),
    "flat hourly": ((0.001, 0.002, 0.003), 0.0, None, Action.WAIT, Confidence.LOW, 0),
}  # fmt: skip


@pytest.mark.parametrize("name", FOUR_MODEL_CASES)
def test_four_model_rules(name):
    minute, hourly, recent, action, confidence, direction = FOUR_MODEL_CASES[name]
    d = decide(outputs(minute, hourly), NO_FILTER, hourly_recent=recent)
    assert (d.action, d.confidence, d.direction) == (action, confidence, direction)
    assert d.minute_avg == pytest.approx(sum(minute) / 3) and d.hourly_trend == hourly
    assert d.unfiltered is None and d.trend is None


def test_reasons_carry_the_numbers():
    d = decide(outputs((0.002, 0.003, 0.001), 0.006), NO_FILTER)
    assert d.reason == (
        "minute average +0.200% and hourly trend +0.600% both up, the trend beyond the strong threshold 0.500%"
    )
    d = decide(outputs((-0.001, -0.002, -0.003), 0.004), NO_FILTER, hourly_recent=0.006)
    assert "(average -0.200%)" in d.reason and "+0.400%" in d.reason and "recent level +0.600%" in d.reason
    d = decide(outputs((0.001, 0.002, -0.0006), -0.003), NO_FILTER)
    assert "a minute move against the trend is a trap" in d.reason


def test_missing_predictions_wait_without_confidence():
    d = decide({"seq300_minute": ModelOutput(0.01), HOURLY_MODEL: ModelOutput(0.01)}, NO_FILTER)
    assert (d.action, d.confidence, d.direction) == (Action.WAIT, None, 0)
    assert d.reason == "no decision: no prediction of seq500_minute, seq800_minute"
    with pytest.raises(BarstoreError, match="unknown model 'seq999'"):
        decide({"seq999": ModelOutput(0.01)})


def test_the_strong_threshold_is_a_setting():
    o = outputs((0.002, 0.003, 0.001), 0.006)
    assert decide(o, EnsembleSettings(trend_filter="none", strong_threshold=0.007)).action is Action.BUY


LONG, SHORT = ((0.002, 0.003, 0.001), 0.006), ((-0.002, -0.003, -0.001), -0.004)
BULLISH_EMB, BEARISH_EMB = [0.1] * 16 + [-0.05] * 16, [-0.1] * 16 + [0.05] * 16  # sums +0.8 / -0.8


@pytest.mark.parametrize(
    "trade, trend, settings, action",
    [
        (LONG, {"embedding": BEARISH_EMB}, EnsembleSettings(trend_filter="embedding_sum"), Action.WAIT),
        (SHORT, {"embedding": BULLISH_EMB}, EnsembleSettings(trend_filter="embedding_sum"), Action.WAIT),
        (LONG, {"embedding": BULLISH_EMB}, EnsembleSettings(trend_filter="embedding_sum"), Action.STRONG_BUY),
        (SHORT, {"embedding": BEARISH_EMB}, EnsembleSettings(trend_filter="embedding_sum"), Action.SELL),
        (LONG, {"p_up": 0.40}, EnsembleSettings(trend_filter="direction_prob"), Action.WAIT),
        (SHORT, {"p_up": 0.60}, EnsembleSettings(trend_filter="direction_prob"), Action.WAIT),
        (LONG, {"p_up": 0.60}, EnsembleSettings(trend_filter="direction_prob"), Action.STRONG_BUY),
        (SHORT, {"p_up": 0.40}, EnsembleSettings(trend_filter="direction_prob"), Action.SELL),
        # neutral band 0.45..0.55: trades pass by default, are stopped with neutral_blocks
        (LONG, {"p_up": 0.50}, EnsembleSettings(), Action.STRONG_BUY),
        (LONG, {"p_up": 0.50}, EnsembleSettings(neutral_blocks=True), Action.WAIT),
        # the band is configurable: 0.60 is not above 0.65
        (LONG, {"p_up": 0.60}, EnsembleSettings(bullish_above=0.65, neutral_blocks=True), Action.WAIT),
        # the direction head is ignored by embedding_sum and the embedding by direction_prob
        (LONG, {"p_up": 0.40, "embedding": BULLISH_EMB}, EnsembleSettings(trend_filter="embedding_sum"),
         Action.STRONG_BUY),
        (LONG, {"p_up": 0.60, "embedding": BEARISH_EMB}, EnsembleSettings(trend_filter="direction_prob"),
         Action.STRONG_BUY),
    ],
)  # fmt: skip
def test_trend_filter(trade, trend, settings, action):
    d = decide(outputs(*trade, **trend), settings)
    assert d.action is action
    if action is Action.WAIT:
        assert d.direction == 0 and d.unfiltered is not None and d.reason.startswith("filtered: ")
        assert d.confidence is Confidence.HIGH  # the signal's confidence, kept
    else:
        assert d.unfiltered is None and not d.reason.startswith("filtered")


def test_filter_reasons_and_scores():
    d = decide(outputs(*LONG, embedding=BEARISH_EMB), EnsembleSettings(trend_filter="embedding_sum"))
    assert d.trend_score == pytest.approx(-0.8) and d.trend == -1 and d.unfiltered is Action.STRONG_BUY
    assert d.reason.startswith("filtered: strong buy skipped, long-term trend bearish (embedding sum -0.800); ")
    d = decide(outputs(*SHORT, p_up=0.6), EnsembleSettings())
    assert d.reason.startswith(
        "filtered: sell skipped, long-term trend bullish (P(up) 0.600; bullish above 0.55, bearish below 0.45); "
    )
    # WAIT and REDUCE are never filtered; an unknown trend is neutral
    reduce = decide(outputs((-0.001, -0.002, -0.003), 0.004, p_up=0.9), EnsembleSettings(), hourly_recent=0.006)
    assert reduce.action is Action.REDUCE and reduce.trend == 1
    unknown = decide(outputs(*LONG), EnsembleSettings(neutral_blocks=True))
    assert unknown.action is Action.WAIT and unknown.trend_score is None
    assert "long-term trend unknown" in unknown.reason


# three-model mode: (minute returns) -> (action, confidence); the strong threshold of minute_avg is 0.25%
THREE_MODEL_CASES = [
    ((0.002, 0.004, 0.003), Action.STRONG_BUY, Confidence.HIGH),
    ((0.002, 0.002, 0.003), Action.BUY, Confidence.HIGH),  # avg 0.233% within 0.25%
    ((0.009, 0.004, -0.001), Action.BUY, Confidence.MEDIUM),  # avg 0.4% but split: never STRONG
    ((-0.002, -0.004, -0.003), Action.STRONG_SELL, Confidence.HIGH),
    ((-0.002, -0.002, -0.003), Action.SELL, Confidence.HIGH),
    ((0.001, -0.004, -0.003), Action.SELL, Confidence.MEDIUM),
    ((0.001, -0.002, 0.001), Action.WAIT, Confidence.LOW),
]


@pytest.mark.parametrize("minute, action, confidence", THREE_MODEL_CASES)
def test_three_model_mode(minute, action, confidence):
    settings = EnsembleSettings(mode="three_model", trend_filter="none")
    d = decide(outputs(minute, hourly=-0.05), settings)  # the hourly model is not consulted
    assert (d.action, d.confidence, d.direction) == (action, confidence, action.direction)
    assert d.hourly_trend is None and d.mode == "three_model"
    assert decide(outputs(minute), settings).action is action  # nor needed


def test_three_model_mode_is_filtered_too():
    d = decide(outputs((0.002, 0.004, 0.003), p_up=0.3), EnsembleSettings(mode="three_model"))
    assert d.action is Action.WAIT and d.unfiltered is Action.STRONG_BUY


def test_to_dict_is_json_ready():
    d = decide(outputs(*LONG, p_up=0.4), EnsembleSettings())
    data = json.loads(json.dumps(d.to_dict()))
    assert data == {
        "action": "wait", "confidence": "high", "direction": 0, "reason": d.reason, "minute_avg": 0.002,
        "hourly_trend": 0.006, "hourly_recent": None, "trend_score": 0.4, "trend": -1,
        "unfiltered": "strong_buy", "mode": "four_model",
    }  # fmt: skip


def reference(m, h, recent, p_up, s: EnsembleSettings) -> str:
    """The rules as plain if/else, one row at a time (independent of the vectorised cases)."""
    if any(np.isnan(m)) or np.isnan(h):
        return "wait"
    avg = (m[0] + m[1] + m[2]) / 3
    if avg == 0 or h == 0:
        return "wait"
    if (avg > 0) == (h > 0):
        side = "buy" if h > 0 else "sell"
        action = f"strong_{side}" if abs(h) > s.strong_threshold else side
    elif recent is not None and max(m) < 0 and 0 < h < recent:
        return "reduce"
    elif recent is not None and min(m) > 0 and recent < h < 0:
        return "reduce"
    elif abs(avg) > abs(h):
        action = "cautious_long" if avg > 0 else "cautious_short"
    else:
        return "wait"
    is_long = action in ("strong_buy", "buy", "cautious_long")
    if (is_long and p_up < s.bearish_below) or (not is_long and p_up > s.bullish_above):
        return "wait"
    return action


def test_decide_many_equals_a_row_by_row_loop():
    rng = np.random.default_rng(7)
    n = 3000
    values = np.round(rng.normal(0, 0.004, size=(n, 4)), 3)  # rounding makes zeros and ties
    values[rng.random(n) < 0.02, 0] = np.nan
    recent = np.where(rng.random(n) < 0.3, np.nan, np.round(rng.normal(0, 0.004, n), 3))
    p_up = np.round(rng.uniform(0.3, 0.7, n), 2)
    frame = pd.DataFrame({return_column(m): values[:, i] for i, m in enumerate((*MINUTE_MODELS, HOURLY_MODEL))})
    frame[RECENT_COLUMN] = recent
    frame[f"{TREND_MODEL}__p_up"] = p_up
    settings = EnsembleSettings()
    got = decide_many(frame, settings)
    expected = [
        reference(values[i, :3], values[i, 3], None if np.isnan(recent[i]) else recent[i], p_up[i], settings)
        for i in range(n)
    ]
    assert got["action"].tolist() == expected
    assert set(expected) == {a.value for a in Action}  # the sample reaches every action
    assert (got["direction"] == [Action(a).direction for a in expected]).all()
    assert (got["filtered"] == (got["action"] != got["unfiltered"])).all()


def test_recent_hourly_level():
    frame = pd.DataFrame(
        {"symbol": ["A", "B", "A", "A", "B", "A"], return_column(HOURLY_MODEL): [1.0, 10.0, 2.0, 4.0, 20.0, 8.0]}
    )
    # A: 1, 2, 4, 8 -> NaN, NaN, (1+2)/2, (2+4)/2; B: 10, 20 -> NaN, NaN (the current row never counts)
    np.testing.assert_array_equal(recent_hourly_level(frame, 2), [np.nan, np.nan, np.nan, 1.5, np.nan, 3.0])


def write_toml(tmp_path, text: str):
    (tmp_path / "barstore_project.toml").write_text(text)
    return tmp_path


def test_settings_from_the_project_file(tmp_path):
    project = write_toml(
        tmp_path,
        'name = "x"\n[ensemble]\nstrong_threshold = 0.01\ntrend_filter = "embedding_sum"\nneutral_blocks = true\n',
    )
    s = EnsembleSettings.from_project(project)
    assert s == EnsembleSettings(strong_threshold=0.01, trend_filter="embedding_sum", neutral_blocks=True)
    assert s.trend_filter == "embedding_sum" and s.bullish_above == 0.55  # the rest are defaults
    (tmp_path / "bare").mkdir()
    assert EnsembleSettings.from_project(write_toml(tmp_path / "bare", 'name = "y"\n')) == EnsembleSettings()


@pytest.mark.parametrize(
    "table, message",
    [
        ("strong_treshold = 0.01", r"\[ensemble\]: unknown key 'strong_treshold'; the keys are mode, "),
        ('trend_filter = "sum"', "trend_filter: expected one of none, embedding_sum, direction_prob, got 'sum'"),
        ('mode = "five"', "mode: expected one of four_model, three_model, got 'five'"),
        ("bullish_above = 0.4", r"\[ensemble\]: bearish_below \(0.45\) must not exceed bullish_above \(0.4\)"),
        ('strong_threshold = "big"', "strong_threshold: expected a number >= 0, got 'big'"),
        ("recent_window = 0", "recent_window: expected an integer >= 1, got 0"),
    ],
)
def test_bad_settings_name_the_key(tmp_path, table, message):
    with pytest.raises(BarstoreError, match=message):
        EnsembleSettings.from_project(write_toml(tmp_path, f"[ensemble]\n{table}\n"))
