"""The five models of the design: their timeframe, window length, horizon and input features.

One source of truth for the Feast feature services (feature_repo/), the training windows (training/) and the
online windows (inference/): a model's window is always `steps` rows of `features`, in this order.
"""

from __future__ import annotations

from dataclasses import dataclass

BAR_FEATURES = ("open", "high", "low", "close", "volume")
INDICATORS = (
    "log_return",
    "rsi_14",
    "macd",
    "macd_signal",
    "macd_hist",
    "atr_14",
    "bb_pctb_20",
    "ma_20",
    "ma_50",
    "cvd",
    "cvd_session",
    "cvd_ema_20",
    "vwap_session",
    "close_vs_vwap",
    "volume_z_20",
)
DAILY_CONTEXT = ("rsi_14", "macd", "atr_14", "bb_pctb_20", "ma_20", "ma_50")
PROFILE = ("poc", "vah", "val", "close_vs_poc", "close_vs_vah", "close_vs_val")

# The 26 long-term inputs, in the order the original model was trained on (README; sql/features/longterm_inputs.sql).
LONGTERM_INPUTS = (
    "d_open",
    "d_high",
    "d_low",
    "d_close",
    "d_volume",
    "close_vs_poc",
    "close_vs_vah",
    "close_vs_val",
    "h4_open",
    "h4_high",
    "h4_low",
    "h4_close",
    "h4_volume",
    "h1_open",
    "h1_high",
    "h1_low",
    "h1_close",
    "h1_volume",
    "h1_cvd",
    "h1_cvd_ema_20",
    "rsi_14",
    "macd",
    "atr_14",
    "bb_pctb_20",
    "ma_20",
    "ma_50",
)


@dataclass(frozen=True)
class Horizon:
    """How far ahead the label looks: `bars` of the model's timeframe, or whole trading days."""

    bars: int = 0
    trading_days: int = 0

    def __post_init__(self):
        if (self.bars > 0) == (self.trading_days > 0):
            raise ValueError("a horizon is either bars or trading days")


@dataclass(frozen=True)
class ModelSpec:
    name: str
    timeframe: str  # the step: every bar close of this timeframe
    steps: int  # window length
    horizon: Horizon
    inputs: tuple[tuple[str, tuple[str, ...]], ...]  # (feature view, features), in window column order
    role: str

    @property
    def step_view(self) -> str:
        return self.inputs[0][0]

    @property
    def columns(self) -> list[str]:
        """Window columns as Feast names them with full feature names (view__feature)."""
        return [f"{view}__{feature}" for view, features in self.inputs for feature in features]

    @property
    def n_features(self) -> int:
        return sum(len(features) for _, features in self.inputs)


@dataclass(frozen=True)
class ViewSpec:
    """A Feast feature view over the warehouse table of the same name (all features Float64)."""

    timeframe: str
    ttl_seconds: int
    features: tuple[str, ...]


# The TTL is about one bar interval, so a missing bar gives a missing value; 4h and 1d views serve as context
# to faster models, whose steps can be a weekend plus a holiday after the last 4h/1d close, hence 4 days there.
VIEWS: dict[str, ViewSpec] = {
    "features_1m": ViewSpec("1m", 60, BAR_FEATURES + INDICATORS),
    "features_1h": ViewSpec("1h", 3600, BAR_FEATURES + INDICATORS),
    "features_4h": ViewSpec("4h", 4 * 86400, BAR_FEATURES),
    "features_1d": ViewSpec("1d", 4 * 86400, BAR_FEATURES + INDICATORS),
    "volume_profile_1d": ViewSpec("1d", 4 * 86400, PROFILE),
    "longterm_inputs": ViewSpec("1d", 86400, LONGTERM_INPUTS),
}

MINUTE_INPUTS = (("features_1m", BAR_FEATURES + INDICATORS),)

MODELS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(
            "seq300_minute", "1m", 300, Horizon(bars=60), MINUTE_INPUTS, "ultra-short term: breakouts, news reactions"
        ),
        ModelSpec("seq500_minute", "1m", 500, Horizon(trading_days=1), MINUTE_INPUTS, "multi-day momentum"),
        ModelSpec("seq800_minute", "1m", 800, Horizon(trading_days=3), MINUTE_INPUTS, "pattern recognition over days"),
        ModelSpec(
            "seq500_hourly",
            "1h",
            500,
            Horizon(trading_days=5),
            (("features_1h", BAR_FEATURES + INDICATORS), ("features_4h", BAR_FEATURES), ("features_1d", DAILY_CONTEXT)),
            "~3 months of context: position trading, trend strength",
        ),
        ModelSpec(
            "longterm_multitf",
            "1d",
            365,
            Horizon(trading_days=5),
            (("longterm_inputs", LONGTERM_INPUTS),),
            "a year of context; 32-d trend embedding used as a filter",
        ),
    )
}


def model(name: str) -> ModelSpec:
    try:
        return MODELS[name]
    except KeyError:
        from .errors import BarstoreError

        raise BarstoreError(f"unknown model {name!r}; the models are {', '.join(MODELS)}") from None
