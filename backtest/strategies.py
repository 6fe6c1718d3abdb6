"""Every strategy the backtest compares, each one object: what it needs, how it acts, what it is compared with and
what the plan claimed for it. Adding a strategy is adding it to STRATEGIES.

- Ensembles (`Ensemble`): the 3-model (minute models) and 4-model (+ the hourly trend) decisions of
  inference.ensemble, unfiltered and with either trend filter. Without one of its models' predictions (or,
  filtered, its trend score) at a step, an ensemble says MISSING (backtest.positions: it opens nothing), never a
  trade that skipped the missing part.
- Baselines (`ScoreRule`): a P(up) column of the prediction frame (backtest.baseline fits them per fold) turned
  into BUY at P(up) >= bullish_above, SELL below bearish_below, WAIT between ([ensemble] in
  barstore_project.toml); a step without a score says MISSING as the ensembles do.
- Buy-and-hold (STRONG_BUY throughout) and flat (WAIT throughout), held to the end of the test span.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from inference.ensemble import (
    HOURLY_MODEL,
    MINUTE_MODELS,
    TREND_MODEL,
    EnsembleSettings,
    Mode,
    TrendFilter,
    decide_many,
    return_column,
)

from .positions import MISSING


@dataclass(frozen=True)
class Plan:
    """The original plan's figures for a strategy: average profit per trade (%) and win rate, as ranges."""

    avg_trade_pct: tuple[float, float]
    win_rate: tuple[float, float]


LONGTERM_ACCURACY = 0.55  # the plan: the long-term model calls the 5-trading-day direction right > 55% of the time


@dataclass(frozen=True)
class Strategy:
    name: str
    label: str
    versus: str | None = None  # the strategy a paired difference of this one is taken against
    plan: Plan | None = None
    holds_to_end: bool = False  # positions are not re-sized by a holding horizon (buy-and-hold, flat)

    @property
    def requires(self) -> tuple[str, ...]:
        """The models without whose predictions the strategy is not available on an instrument."""
        return ()

    @property
    def score(self) -> str | None:
        """The prediction frame's column the strategy reads besides the models' (a baseline's P(up))."""
        return None

    def actions(self, frame: pd.DataFrame, settings: EnsembleSettings) -> pd.DataFrame:
        """action and reason at each row of the prediction frame."""
        raise NotImplementedError


@dataclass(frozen=True)
class Ensemble(Strategy):
    mode: Mode = Mode.FOUR_MODEL
    trend_filter: TrendFilter = TrendFilter.NONE

    @property
    def models(self) -> tuple[str, ...]:
        return MINUTE_MODELS + ((HOURLY_MODEL,) if self.mode is Mode.FOUR_MODEL else ())

    @property
    def requires(self) -> tuple[str, ...]:
        return self.models + ((TREND_MODEL,) if self.trend_filter is not TrendFilter.NONE else ())

    def actions(self, frame: pd.DataFrame, settings: EnsembleSettings) -> pd.DataFrame:
        chosen = replace(settings, mode=self.mode, trend_filter=self.trend_filter)
        decided = decide_many(frame, chosen)[["action", "reason", "trend_score"]]
        parts = [np.where(frame[return_column(m)].isna().to_numpy(), m, "") for m in self.models]
        if self.trend_filter is not TrendFilter.NONE:
            parts.append(np.where(decided["trend_score"].isna().to_numpy(), TREND_MODEL, ""))
        absent = pd.Series([", ".join(n for n in names if n) for names in zip(*parts)], index=frame.index)
        blind = absent.str.len() > 0
        decided.loc[blind, "action"] = MISSING
        decided.loc[blind, "reason"] = "no decision: no prediction of " + absent[blind]
        return decided[["action", "reason"]]


@dataclass(frozen=True)
class ScoreRule(Strategy):
    column: str = ""  # the prediction frame's P(up) column
    models: tuple[str, ...] = ()  # models its score is computed from

    @property
    def requires(self) -> tuple[str, ...]:
        return self.models

    @property
    def score(self) -> str:
        return self.column

    def actions(self, frame: pd.DataFrame, settings: EnsembleSettings) -> pd.DataFrame:
        p_up = frame[self.column].to_numpy(float)
        with np.errstate(invalid="ignore"):
            action = np.where(
                p_up >= settings.bullish_above, "buy", np.where(p_up < settings.bearish_below, "sell", "wait")
            ).astype(object)
        action[~np.isfinite(p_up)] = MISSING
        reason = np.where(np.isfinite(p_up), f"{self.label}: P(up)", f"no decision: no {self.label} score")
        return pd.DataFrame({"action": action, "reason": reason}, index=frame.index)


@dataclass(frozen=True)
class Constant(Strategy):
    action: str = "wait"

    def actions(self, frame: pd.DataFrame, settings: EnsembleSettings) -> pd.DataFrame:
        return pd.DataFrame({"action": self.action, "reason": self.label}, index=frame.index)


def p_up_column(name: str) -> str:
    """The prediction frame's column of a baseline's P(up)."""
    return f"{name}__p_up"


LOGISTIC, GBM, GBM_EMBEDDING, MOMENTUM = "logistic_baseline", "gbm_baseline", "gbm_embedding_baseline", "momentum"
BASELINES = (LOGISTIC, GBM, GBM_EMBEDDING, MOMENTUM)  # the ScoreRules backtest.baseline computes per fold


def _ensembles() -> list[Strategy]:
    plans = {
        Mode.THREE_MODEL: Plan((1.75, 2.00), (0.65, 0.70)),
        Mode.FOUR_MODEL: Plan((2.00, 2.50), (0.68, 0.73)),
    }
    out = []
    for mode, word, versus in ((Mode.THREE_MODEL, "3-model", None), (Mode.FOUR_MODEL, "4-model", "three_model")):
        out.append(Ensemble(mode.value, word, versus, plans[mode], mode=mode))
        for trend, how in ((TrendFilter.EMBEDDING_SUM, "embedding sum"), (TrendFilter.DIRECTION_PROB, "P(up)")):
            name = f"{mode.value}_{trend.value}"
            out.append(Ensemble(name, f"{word} + trend filter ({how})", mode.value, mode=mode, trend_filter=trend))
    return out


BUY_AND_HOLD, FLAT = "buy_and_hold", "flat"
STRATEGIES: tuple[Strategy, ...] = (
    *_ensembles(),
    ScoreRule(LOGISTIC, "logistic regression (baseline)", column=p_up_column(LOGISTIC)),
    ScoreRule(GBM, "LightGBM (baseline)", column=p_up_column(GBM)),
    ScoreRule(
        GBM_EMBEDDING,
        "LightGBM + long-term embedding",
        GBM,
        column=p_up_column(GBM_EMBEDDING),
        models=(TREND_MODEL,),
    ),
    ScoreRule(MOMENTUM, "momentum (last 5 trading days)", column=p_up_column(MOMENTUM)),
    Constant(BUY_AND_HOLD, "buy and hold", holds_to_end=True, action="strong_buy"),
    Constant(FLAT, "flat", holds_to_end=True, action="wait"),
)
BY_NAME = {s.name: s for s in STRATEGIES}
