"""A strategy's numbers, from its per-period net returns, the positions held and its trade list.

Units are in the names: `_pct` fields are percent, win_rate and exposure are shares in [0, 1].
- trades, win_rate (share of trades with net > 0), avg_trade_pct (mean net trade return, after costs),
  profit_factor (sum of winning trade returns / |sum of losing ones|; inf without a loser, NaN without trades);
- total_return_pct: the compounded equity at the end, prod(1 + net) - 1;
- sharpe: mean / std (ddof 1) of the period returns x sqrt(periods per year), risk-free rate 0; 0 when the
  returns do not vary (a strategy that never trades), so flat strategies can still be compared;
- max_drawdown_pct: the largest fall of the compounded equity below its running peak (the start, 1, counts as
  a peak), as a positive percent of that peak;
- exposure: share of the periods with a position.
`periods_per_year(times, calendar)` gives the annualization from the decisions themselves.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from barstore.errors import BarstoreError

# The trading week of each session calendar (raw.calendars), and where its trading day is cut: a Globex day
# starts at 18:00 New York the evening before, so 6 hours later it is on the calendar day it is labelled by.
# FX's day starts at 17:00 New York the day before: 7 hours later it is on its own day.
WEEKMASKS = {
    "us_rth": "1111100",
    "cme_globex": "1111100",
    "cme_rth": "1111100",
    "fx_24x5": "1111100",
    "crypto_24x7": "1111111",
}
_DAY_CUT = {
    "us_rth": ("America/New_York", 0),
    "cme_globex": ("America/New_York", 6),
    "cme_rth": ("America/New_York", 0),
    "fx_24x5": ("America/New_York", 7),
    "crypto_24x7": ("UTC", 0),
}


def trading_days(times, calendar: str) -> np.ndarray:
    """The trading day (datetime64[D]) of each decision time (UTC-aware, or naive UTC) on `calendar`."""
    if calendar not in WEEKMASKS:
        raise BarstoreError(f"unknown calendar {calendar!r}; the calendars are {', '.join(WEEKMASKS)}")
    tz, hours = _DAY_CUT[calendar]
    stamps = pd.DatetimeIndex(times)
    stamps = stamps.tz_localize("UTC") if stamps.tz is None else stamps
    local = (stamps.tz_convert(tz) + pd.Timedelta(hours=hours)).tz_localize(None)
    return local.normalize().to_numpy().astype("datetime64[D]")


def periods_per_year(times, calendar: str) -> float:
    """Decisions per year: decisions / trading days spanned (first to last, inclusive, on the calendar's week)
    x those days per year (365.25 x 5/7 for weekday calendars, 365.25 for 24/7). Holidays count in both
    numbers and cancel, so a year of RTH daily decisions gives ~252 and one of 24/7 daily decisions 365; the
    same formula covers hourly and weekly spacing."""
    days = trading_days(times, calendar)
    if len(days) == 0:
        raise BarstoreError("no decision times to annualize")
    mask = WEEKMASKS[calendar]
    span = np.busday_count(days.min(), days.max() + np.timedelta64(1, "D"), weekmask=mask)
    return len(days) / span * 365.25 * mask.count("1") / 7


def sharpe(returns, periods_per_year: float) -> float:
    r = np.asarray(returns, dtype=float)
    if len(r) < 2:
        return math.nan
    sd = r.std(ddof=1)
    if sd == 0:
        return 0.0 if r.mean() == 0 else math.copysign(math.inf, r.mean())
    return float(r.mean() / sd * math.sqrt(periods_per_year))


def max_drawdown(returns) -> float:
    """Largest fall below the running peak of the compounded equity, a fraction >= 0."""
    equity = np.cumprod(np.r_[1.0, 1 + np.asarray(returns, dtype=float)])
    return float(np.max(1 - equity / np.maximum.accumulate(equity)))


def profit_factor(trade_returns) -> float:
    r = np.asarray(trade_returns, dtype=float)
    if len(r) == 0:
        return math.nan
    wins, losses = r[r > 0].sum(), -r[r < 0].sum()
    return float(wins / losses) if losses > 0 else (math.inf if wins > 0 else math.nan)


@dataclass(frozen=True)
class StrategyMetrics:
    periods: int
    trades: int
    win_rate: float
    avg_trade_pct: float
    total_return_pct: float
    sharpe: float
    max_drawdown_pct: float
    exposure: float
    profit_factor: float

    def to_dict(self) -> dict:
        """JSON-ready: NaN becomes None, inf stays a float (json writes Infinity)."""
        return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in asdict(self).items()}


def strategy_metrics(returns, positions, trade_returns, periods_per_year: float) -> StrategyMetrics:
    """The metrics of per-period net returns, the positions held in those periods and net trade returns."""
    r = np.asarray(returns, dtype=float)
    trades = np.asarray(trade_returns, dtype=float)
    held = np.asarray(positions, dtype=float) != 0
    return StrategyMetrics(
        periods=len(r),
        trades=len(trades),
        win_rate=float((trades > 0).mean()) if len(trades) else math.nan,
        avg_trade_pct=float(trades.mean() * 100) if len(trades) else math.nan,
        total_return_pct=float((np.prod(1 + r) - 1) * 100),
        sharpe=sharpe(r, periods_per_year),
        max_drawdown_pct=max_drawdown(r) * 100,
        exposure=float(held.mean()) if len(held) else math.nan,
        profit_factor=profit_factor(trades),
    )


def summarize(simulation, periods_per_year: float) -> StrategyMetrics:
    """Metrics of a `positions.Simulation`: its portfolio returns (1/K per instrument), the exposure over all
    instrument-periods, all its trades."""
    return strategy_metrics(
        simulation.portfolio_returns(), simulation.periods["position"], simulation.trades["net"], periods_per_year
    )
