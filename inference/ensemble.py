"""The ensemble decision: five models' predictions -> one action per symbol and decision time.

Rules (README, "Ensemble decision"), four-model mode (`mode = "four_model"`, the design's):
    minute_avg   = mean predicted return of seq300_minute, seq500_minute, seq800_minute
    hourly_trend = predicted return of seq500_hourly
  1. a required prediction missing (NaN/None) -> WAIT, confidence None: the rules were designed on all of them,
     so a partial average is not the same signal;
  2. minute_avg or hourly_trend exactly 0 -> WAIT, LOW: no direction to agree or disagree on;
  3. same sign -> HIGH; STRONG_BUY/STRONG_SELL when |hourly_trend| > strong_threshold, else BUY/SELL;
  4. REDUCE (MEDIUM): all three minute models < 0 while 0 < hourly_trend < its recent level (an uptrend losing
     strength), or the mirror: all three > 0 while recent level < hourly_trend < 0. The recent level is the
     caller's (e.g. `recent_hourly_level`: the mean of the hourly model's previous N predictions); unknown
     (NaN/None) -> the rule is not applied. REDUCE is always an opposite-sign case, so it must come before
     rule 5 or it could never fire; it wins because it is the more specific reading (three models agreeing
     against a weakening trend) and it is about the position already held, which rule 5 does not address;
  5. opposite signs -> MEDIUM; |minute_avg| > |hourly_trend| -> CAUTIOUS_LONG/CAUTIOUS_SHORT in the direction of
     minute_avg, else WAIT ("a minute bounce inside a downtrend is a trap").
Three-model mode (`mode = "three_model"`, the minute models only, the design's baseline for comparison):
  missing -> WAIT/None; minute_avg == 0 -> WAIT/LOW; otherwise BUY/SELL by the sign of minute_avg, STRONG when
  all three models agree in sign and |minute_avg| > minute_strong_threshold; confidence HIGH when all three
  agree, MEDIUM when they split 2-1.
Trend filter (`trend_filter`), applied last to the actions that open exposure (direction +1/-1): a long in a
bearish long-term trend or a short in a bullish one becomes WAIT, reason "filtered: ...", with the action before
the filter in `unfiltered` and its confidence kept (the signal's, not the WAIT's). WAIT and REDUCE are never
filtered: standing aside and reducing risk need no trend.
  embedding_sum:  trend = sign(sum of longterm_multitf's 32-d embedding) (the original rule);
  direction_prob: trend = +1 when its direction head's P(up) > bullish_above, -1 when < bearish_below, else 0.
The default is direction_prob: the head is trained on the 5-day direction itself, while the sign of the
embedding's sum means nothing by construction (the head may weigh any dimension negatively); embedding_sum stays
for the comparison the design asks for. A neutral (0) or unknown trend lets trades through unless
`neutral_blocks` (the original plan's stricter reading "longs only in a bullish trend"; the brief's "skip longs in a
bearish trend" is the default).

`decide_many(frame)` holds the rules, vectorised, for the backtest; `decide(outputs)` is the same code on a
one-row frame. Thresholds live in `EnsembleSettings`, read from the `[ensemble]` table of barstore_project.toml.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields
from enum import StrEnum
from pathlib import Path

import numpy as np
import pandas as pd

from barstore.errors import BarstoreError
from barstore.settings_tables import Boolean, Integer, Number, OneOf, check_fields, load
from barstore.specs import model as model_spec

MINUTE_MODELS = ("seq300_minute", "seq500_minute", "seq800_minute")
HOURLY_MODEL = "seq500_hourly"
TREND_MODEL = "longterm_multitf"


def return_column(model: str) -> str:
    """The frame column of a minute/hourly model's predicted forward return."""
    return f"{model}__return"


EMBEDDING_COLUMN = f"{TREND_MODEL}__embedding"  # one sequence of 32 floats per row
TREND_P_UP_COLUMN = f"{TREND_MODEL}__p_up"
RECENT_COLUMN = "hourly_recent"  # the caller's recent level of the hourly prediction (NaN: unknown)


class Action(StrEnum):
    STRONG_BUY = "strong_buy"
    BUY = "buy"
    CAUTIOUS_LONG = "cautious_long"
    WAIT = "wait"
    REDUCE = "reduce"
    CAUTIOUS_SHORT = "cautious_short"
    SELL = "sell"
    STRONG_SELL = "strong_sell"

    @property
    def direction(self) -> int:
        """+1 opens/holds long exposure, -1 short, 0 none (WAIT; REDUCE shrinks whatever is held)."""
        return _DIRECTIONS[self]


_DIRECTIONS = {
    Action.STRONG_BUY: 1, Action.BUY: 1, Action.CAUTIOUS_LONG: 1, Action.WAIT: 0, Action.REDUCE: 0,
    Action.CAUTIOUS_SHORT: -1, Action.SELL: -1, Action.STRONG_SELL: -1,
}  # fmt: skip


class Confidence(StrEnum):
    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"


class Mode(StrEnum):
    FOUR_MODEL = "four_model"  # minute models + hourly trend (the design)
    THREE_MODEL = "three_model"  # minute models only (the baseline it is compared with)


class TrendFilter(StrEnum):
    NONE = "none"
    EMBEDDING_SUM = "embedding_sum"
    DIRECTION_PROB = "direction_prob"


@dataclass(frozen=True)
class EnsembleSettings:
    """Every threshold of the decision, one place; `from_project` reads the `[ensemble]` table.

    strong_threshold: |hourly_trend| beyond which agreement is STRONG, in return units over the hourly model's
      5-trading-day horizon. 0.5% is about a quarter of ES's 5-day standard deviation (~2%: 1%/day x sqrt 5)
      and five times the 0.1% round trip of a 5-bps instrument: a predicted move that clearly pays its costs.
      Calibrate it on validation predictions (e.g. a high quantile of |hourly_trend|) once models exist.
    minute_strong_threshold: the same idea for minute_avg in three-model mode; minute_avg mixes 1 hour, 1 day
      and 3 days (about 1.4 trading days on average), so 0.5% x sqrt(1.4 / 5) ~ 0.25%.
    bullish_above / bearish_below: the direction head's P(up) band; 0.55 is the design's bar for a useful
      long-term model (> 55% accuracy), 0.45 its mirror; between them the head is not sure (neutral).
    recent_window: N for `recent_hourly_level`, the previous N hourly predictions (6: about one RTH session).
    """

    mode: Mode = Mode.FOUR_MODEL
    strong_threshold: float = 0.005
    minute_strong_threshold: float = 0.0025
    trend_filter: TrendFilter = TrendFilter.DIRECTION_PROB
    bullish_above: float = 0.55
    bearish_below: float = 0.45
    neutral_blocks: bool = False
    recent_window: int = 6

    def __post_init__(self):
        check_fields(self, RULES, f"[{SECTION}]", _bands_in_order)  # the TOML strings become their enums here

    @classmethod
    def from_project(cls, project_dir: str | Path) -> EnsembleSettings:
        """The `[ensemble]` table over the defaults."""
        return load(cls, project_dir, SECTION, RULES, _bands_in_order)


SECTION = "ensemble"
RULES = {
    "mode": OneOf(Mode),
    "strong_threshold": Number(ge=0),
    "minute_strong_threshold": Number(ge=0),
    "trend_filter": OneOf(TrendFilter),
    "bullish_above": Number(ge=0, le=1),
    "bearish_below": Number(ge=0, le=1),
    "neutral_blocks": Boolean(),
    "recent_window": Integer(ge=1),
}


def _bands_in_order(values) -> str | None:
    low, high = values["bearish_below"], values["bullish_above"]
    return f"bearish_below ({low}) must not exceed bullish_above ({high})" if low > high else None


@dataclass(frozen=True)
class Decision:
    """One decision, with the inputs it was made from; `to_dict()` is JSON-ready (enums as strings, NaN None)."""

    action: Action
    confidence: Confidence | None
    direction: int  # +1 long, -1 short, 0 no new exposure
    reason: str
    minute_avg: float | None
    hourly_trend: float | None  # None in three-model mode (not used)
    hourly_recent: float | None
    trend_score: float | None  # embedding sum or P(up); None without a filter or a long-term prediction
    trend: int | None  # +1 bullish, -1 bearish, 0 neutral/unknown; None without a filter
    unfiltered: Action | None  # the action the trend filter replaced by WAIT; None when not filtered
    mode: Mode

    @classmethod
    def from_row(cls, row: Mapping, mode: Mode) -> Decision:
        filtered = bool(row["filtered"])
        return cls(
            action=Action(row["action"]),
            confidence=None if row["confidence"] is None else Confidence(row["confidence"]),
            direction=int(row["direction"]),
            reason=row["reason"],
            minute_avg=_optional(row["minute_avg"]),
            hourly_trend=_optional(row["hourly_trend"]),
            hourly_recent=_optional(row["hourly_recent"]),
            trend_score=_optional(row["trend_score"]),
            trend=None if _optional(row["trend"]) is None else int(row["trend"]),
            unfiltered=Action(row["unfiltered"]) if filtered else None,
            mode=Mode(mode),
        )

    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        return {k: (v.value if isinstance(v, StrEnum) else v) for k, v in out.items()}


def _optional(value) -> float | None:
    return None if value is None or (isinstance(value, float) and math.isnan(value)) else float(value)


@dataclass(frozen=True)
class ModelOutput:
    """One model's prediction: minute/hourly models fill predicted_return (p_up is informative, unused by the
    rules); the long-term model fills embedding (32 floats) and p_up of its direction head."""

    predicted_return: float | None = None
    p_up: float | None = None
    embedding: Sequence[float] | None = None


# --- the rules, as cases: each row of a frame falls in exactly one, chosen by np.select in this order -----------


@dataclass(frozen=True)
class _Case:
    action: Action
    confidence: Confidence | None
    reason: str  # str.format over m (minute_avg), h (hourly_trend), r (recent level), t (threshold), missing


_CASES = {
    "missing": _Case(Action.WAIT, None, "no decision: no prediction of {missing}"),
    "flat": _Case(Action.WAIT, Confidence.LOW, "no direction: minute average {m:+.3%}, hourly trend {h:+.3%}"),
    "strong_buy": _Case(
        Action.STRONG_BUY, Confidence.HIGH,
        "minute average {m:+.3%} and hourly trend {h:+.3%} both up, the trend beyond the strong threshold {t:.3%}",
    ),
    "buy": _Case(
        Action.BUY, Confidence.HIGH,
        "minute average {m:+.3%} and hourly trend {h:+.3%} both up, the trend within the strong threshold {t:.3%}",
    ),
    "strong_sell": _Case(
        Action.STRONG_SELL, Confidence.HIGH,
        "minute average {m:+.3%} and hourly trend {h:+.3%} both down, the trend beyond the strong threshold {t:.3%}",
    ),
    "sell": _Case(
        Action.SELL, Confidence.HIGH,
        "minute average {m:+.3%} and hourly trend {h:+.3%} both down, the trend within the strong threshold {t:.3%}",
    ),
    "reduce_long": _Case(
        Action.REDUCE, Confidence.MEDIUM,
        "all three minute models down (average {m:+.3%}) while the hourly uptrend {h:+.3%} weakens below its "
        "recent level {r:+.3%}: reduce the position",
    ),
    "reduce_short": _Case(
        Action.REDUCE, Confidence.MEDIUM,
        "all three minute models up (average {m:+.3%}) while the hourly downtrend {h:+.3%} weakens above its "
        "recent level {r:+.3%}: reduce the position",
    ),
    "cautious_long": _Case(
        Action.CAUTIOUS_LONG, Confidence.MEDIUM,
        "minute average {m:+.3%} up against the hourly trend {h:+.3%} and stronger: cautious short-term long",
    ),
    "cautious_short": _Case(
        Action.CAUTIOUS_SHORT, Confidence.MEDIUM,
        "minute average {m:+.3%} down against the hourly trend {h:+.3%} and stronger: cautious short-term short",
    ),
    "trap": _Case(
        Action.WAIT, Confidence.MEDIUM,
        "minute average {m:+.3%} against the stronger hourly trend {h:+.3%}: wait, a minute move against the trend "
        "is a trap",
    ),
    "three_strong_buy": _Case(
        Action.STRONG_BUY, Confidence.HIGH,
        "all three minute models up, average {m:+.3%} beyond the strong threshold {t:.3%}",
    ),
    "three_buy": _Case(
        Action.BUY, Confidence.HIGH, "all three minute models up, average {m:+.3%} within the strong threshold {t:.3%}"
    ),
    "three_buy_split": _Case(Action.BUY, Confidence.MEDIUM, "minute average {m:+.3%} up, the three models split"),
    "three_strong_sell": _Case(
        Action.STRONG_SELL, Confidence.HIGH,
        "all three minute models down, average {m:+.3%} beyond the strong threshold {t:.3%}",
    ),
    "three_sell": _Case(
        Action.SELL, Confidence.HIGH,
        "all three minute models down, average {m:+.3%} within the strong threshold {t:.3%}",
    ),
    "three_sell_split": _Case(Action.SELL, Confidence.MEDIUM, "minute average {m:+.3%} down, the three models split"),
}  # fmt: skip


def _four_model_cases(minute: np.ndarray, hourly: np.ndarray, recent: np.ndarray, s: EnsembleSettings) -> list:
    """[(case, condition)] in precedence order (the module docstring's rules 1-5)."""
    avg = minute.mean(axis=1)
    same, opposite = np.sign(avg) * np.sign(hourly) > 0, np.sign(avg) * np.sign(hourly) < 0
    up, strong = avg > 0, np.abs(hourly) > s.strong_threshold
    with np.errstate(invalid="ignore"):  # NaN recent levels compare False: rule 4 not applied
        reduce_long = (minute < 0).all(axis=1) & (hourly > 0) & (hourly < recent)
        reduce_short = (minute > 0).all(axis=1) & (hourly < 0) & (hourly > recent)
    minute_stronger = np.abs(avg) > np.abs(hourly)
    return [
        ("missing", np.isnan(minute).any(axis=1) | np.isnan(hourly)),
        ("flat", (avg == 0) | (hourly == 0)),
        ("strong_buy", same & up & strong),
        ("buy", same & up),
        ("strong_sell", same & ~up & strong),
        ("sell", same & ~up),
        ("reduce_long", reduce_long),
        ("reduce_short", reduce_short),
        ("cautious_long", opposite & minute_stronger & up),
        ("cautious_short", opposite & minute_stronger & ~up),
        ("trap", opposite),
    ]


def _three_model_cases(minute: np.ndarray, s: EnsembleSettings) -> list:
    avg = minute.mean(axis=1)
    agree_up, agree_down = (minute > 0).all(axis=1), (minute < 0).all(axis=1)
    strong = np.abs(avg) > s.minute_strong_threshold
    return [
        ("missing", np.isnan(minute).any(axis=1)),
        ("flat", avg == 0),
        ("three_strong_buy", agree_up & strong),
        ("three_buy", agree_up),
        ("three_buy_split", avg > 0),
        ("three_strong_sell", agree_down & strong),
        ("three_sell", agree_down),
        ("three_sell_split", avg < 0),
    ]


# --- the trend filter -----------------------------------------------------------------------------------------


def _trend(frame: pd.DataFrame, s: EnsembleSettings) -> tuple[np.ndarray, np.ndarray]:
    """(score, trend in {-1, 0, +1}); an unknown score (NaN) is a neutral trend."""
    n = len(frame)
    if s.trend_filter is TrendFilter.NONE:
        return np.full(n, np.nan), np.zeros(n, dtype=int)
    if s.trend_filter is TrendFilter.EMBEDDING_SUM:
        score = np.array([_embedding_sum(e) for e in _column(frame, EMBEDDING_COLUMN)], dtype=float)
        return score, np.nan_to_num(np.sign(score)).astype(int)
    score = _column(frame, TREND_P_UP_COLUMN).astype(float)
    trend = np.where(score > s.bullish_above, 1, np.where(score < s.bearish_below, -1, 0))  # NaN -> 0
    return score, trend


def _embedding_sum(embedding) -> float:
    if embedding is None or (np.ndim(embedding) == 0 and pd.isna(embedding)):
        return math.nan
    return float(np.sum(np.asarray(embedding, dtype=float)))


def _trend_words(score: float, trend: int, s: EnsembleSettings) -> str:
    side = {1: "bullish", -1: "bearish", 0: "neutral"}[trend]
    if math.isnan(score):
        return "long-term trend unknown (no long-term prediction)"
    if s.trend_filter is TrendFilter.EMBEDDING_SUM:
        return f"long-term trend {side} (embedding sum {score:+.3f})"
    return (
        f"long-term trend {side} (P(up) {score:.3f}; bullish above {s.bullish_above:.2f}, "
        f"bearish below {s.bearish_below:.2f})"
    )


# --- the vectorised decision ----------------------------------------------------------------------------------


def _column(frame: pd.DataFrame, name: str) -> np.ndarray:
    if name not in frame.columns:
        raise BarstoreError(
            f"the prediction frame has no column {name!r} (it has {', '.join(map(str, frame.columns))})"
        )
    return frame[name].to_numpy()


def decide_many(frame: pd.DataFrame, settings: EnsembleSettings | None = None) -> pd.DataFrame:
    """The decision of every row of a prediction frame (columns `<model>__return` of the minute models and, in
    four-model mode, of seq500_hourly; `hourly_recent` optionally; `longterm_multitf__embedding` or
    `longterm_multitf__p_up` for the trend filter in use). Returns a frame on the same index: action,
    confidence, direction, reason, minute_avg, hourly_trend, hourly_recent, trend_score, trend, unfiltered
    (the action before the filter), filtered."""
    s = settings or EnsembleSettings()
    minute = np.column_stack([_column(frame, return_column(m)).astype(float) for m in MINUTE_MODELS])
    recent = frame[RECENT_COLUMN].to_numpy(float) if RECENT_COLUMN in frame.columns else np.full(len(frame), np.nan)
    if s.mode is Mode.FOUR_MODEL:
        hourly = _column(frame, return_column(HOURLY_MODEL)).astype(float)
        cases = _four_model_cases(minute, hourly, recent, s)
        threshold = s.strong_threshold
    else:
        hourly, recent = np.full(len(frame), np.nan), np.full(len(frame), np.nan)
        cases = _three_model_cases(minute, s)
        threshold = s.minute_strong_threshold
    names = [name for name, _ in cases]
    code = np.select([cond for _, cond in cases], range(len(cases)), default=-1)
    assert (code >= 0).all(), "every row falls in a case"  # the last case of each mode is the remainder
    chosen = [_CASES[names[c]] for c in code]
    unfiltered = np.array([c.action.value for c in chosen], dtype=object)
    direction = np.array([c.action.direction for c in chosen], dtype=int)

    score, trend = _trend(frame, s)
    against = direction * trend < 0
    if s.neutral_blocks and s.trend_filter is not TrendFilter.NONE:
        against |= (direction != 0) & (trend == 0)
    action = np.where(against, Action.WAIT.value, unfiltered)

    avg = minute.mean(axis=1)
    reasons = []
    for i, case in enumerate(chosen):
        missing = ", ".join(_missing_models(minute[i], hourly[i], s)) if names[code[i]] == "missing" else ""
        text = case.reason.format(m=avg[i], h=hourly[i], r=recent[i], t=threshold, missing=missing)
        if against[i]:
            text = f"filtered: {unfiltered[i].replace('_', ' ')} skipped, {_trend_words(score[i], trend[i], s)}; {text}"
        reasons.append(text)
    return pd.DataFrame(
        {
            "action": action,
            "confidence": [None if c.confidence is None else c.confidence.value for c in chosen],
            "direction": np.where(against, 0, direction),
            "reason": reasons,
            "minute_avg": avg,
            "hourly_trend": hourly,
            "hourly_recent": recent,
            "trend_score": score,
            "trend": trend.astype(float) if s.trend_filter is not TrendFilter.NONE else np.nan,
            "unfiltered": unfiltered,
            "filtered": against,
        },
        index=frame.index,
    )


def _missing_models(minute_row: np.ndarray, hourly_value: float, s: EnsembleSettings) -> list[str]:
    names = [m for m, v in zip(MINUTE_MODELS, minute_row, strict=True) if math.isnan(v)]
    if s.mode is Mode.FOUR_MODEL and math.isnan(hourly_value):
        names.append(HOURLY_MODEL)
    return names


def prediction_frame(rows: Sequence[Mapping[str, ModelOutput]], hourly_recent: Sequence[float | None] = ()):
    """The frame `decide_many` reads, from per-row {model name: ModelOutput}; unknown model names are refused."""
    rows = list(rows)
    for outputs in rows:
        for name in outputs:
            model_spec(name)
    columns = {
        return_column(m): [_float(outputs.get(m, ModelOutput()).predicted_return) for outputs in rows]
        for m in (*MINUTE_MODELS, HOURLY_MODEL)
    }
    trend = [outputs.get(TREND_MODEL, ModelOutput()) for outputs in rows]
    columns[EMBEDDING_COLUMN] = [None if t.embedding is None else list(t.embedding) for t in trend]
    columns[TREND_P_UP_COLUMN] = [_float(t.p_up) for t in trend]
    recent = list(hourly_recent) or [None] * len(rows)
    columns[RECENT_COLUMN] = [_float(r) for r in recent]
    return pd.DataFrame(columns)


def _float(value) -> float:
    return math.nan if value is None else float(value)


def decide(
    outputs: Mapping[str, ModelOutput], settings: EnsembleSettings | None = None, hourly_recent: float | None = None
) -> Decision:
    """One symbol's decision at one time from its models' outputs (`decide_many` on a one-row frame)."""
    s = settings or EnsembleSettings()
    row = decide_many(prediction_frame([outputs], [hourly_recent]), s).iloc[0]
    return Decision.from_row(row, s.mode)


def recent_hourly_level(frame: pd.DataFrame, n: int, symbol_column: str = "symbol") -> pd.Series:
    """The recent level REDUCE compares with: the mean of each symbol's previous `n` hourly predictions (the
    current one excluded, so a fall shows against what came before), NaN until `n` exist. Rows must be in time
    order with one row per hourly step; on a finer decision grid, compute it on the hourly steps and join."""
    hourly = frame[return_column(HOURLY_MODEL)].astype(float)
    return hourly.groupby(frame[symbol_column], sort=False).transform(
        lambda s: s.shift(1).rolling(n, min_periods=n).mean()
    )
