"""95% intervals for the difference of two strategies on the same periods, by the stationary bootstrap.

Both strategies' period returns are resampled with the SAME blocks of periods (a paired bootstrap), so what
they share (the market of those periods) cancels and the interval measures their difference alone; blocks of
random (geometric) length keep the serial dependence of returns that overlapping positions create (Politis and
Romano's stationary bootstrap, `arch.bootstrap.StationaryBootstrap`).
- Block length: the largest of the Politis-White estimates (`arch.bootstrap.optimal_block_length`, stationary
  column) of a, b and a - b, so the most dependent of the three sets it (too short blocks understate the
  width); series whose estimate is undefined (constant) are skipped; none defined -> n^(1/3); at least 1.
- Interval: the percentile interval of `reps` (2000: enough for stable 2.5% tails) bootstrap differences; the
  seed fixes the resampling, so an interval is reproducible.
- `mean_difference`: average profit per period (or per trade, when a and b are the same trades measured two
  ways); `sharpe_difference`: annualized Sharpe; `filter_effect`: both, for a strategy with its trend filter
  minus the same strategy without it.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
from arch.bootstrap import StationaryBootstrap, optimal_block_length

from barstore.errors import BarstoreError

from .metrics import sharpe

REPS = 2000
LEVEL = 0.95


@dataclass(frozen=True)
class Interval:
    estimate: float  # the statistic's difference on the data itself
    low: float
    high: float
    level: float
    block_length: float
    reps: int
    seed: int

    def contains(self, value: float) -> bool:
        return self.low <= value <= self.high

    @property
    def excludes_zero(self) -> bool:
        """The difference is significant at this level."""
        return not self.contains(0.0)


def block_length(*series: np.ndarray) -> float:
    n = len(series[0])
    with warnings.catch_warnings():  # a constant series divides by zero inside; its NaN is skipped below
        warnings.simplefilter("ignore", RuntimeWarning)
        estimates = optimal_block_length(np.column_stack(series))["stationary"].to_numpy()
    finite = estimates[np.isfinite(estimates)]
    return max(1.0, float(finite.max()) if len(finite) else n ** (1 / 3))


def paired_difference(
    a, b, statistic: Callable[[np.ndarray], float], *, reps: int = REPS, level: float = LEVEL, seed: int = 0
) -> Interval:
    """Interval for statistic(a) - statistic(b), a and b paired period by period."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1 or len(a) < 3:
        raise BarstoreError(f"paired series must be 1-d, of one length and >= 3 long (got {a.shape}, {b.shape})")
    if not (np.isfinite(a).all() and np.isfinite(b).all()):
        raise BarstoreError("paired series must be finite (drop or fill periods without a return first)")
    block = block_length(a, b, a - b)

    def difference(x, y):
        return np.array([statistic(x) - statistic(y)])

    bs = StationaryBootstrap(block, a, b, seed=seed)
    low, high = bs.conf_int(difference, reps=reps, method="percentile", size=level)[:, 0]
    return Interval(float(difference(a, b)[0]), float(low), float(high), level, block, reps, seed)


def mean_difference(a, b, **options) -> Interval:
    """Average profit per period (or per paired trade) of a minus b."""
    return paired_difference(a, b, np.mean, **options)


def sharpe_difference(a, b, periods_per_year: float, **options) -> Interval:
    """Annualized Sharpe of a minus b."""
    return paired_difference(a, b, lambda r: sharpe(r, periods_per_year), **options)


def filter_effect(with_filter, without_filter, periods_per_year: float, **options) -> dict[str, Interval]:
    """What a trend filter changes: {"mean": per-period average profit, "sharpe": annualized Sharpe},
    each as the filtered strategy minus the unfiltered one on the same periods."""
    return {
        "mean": mean_difference(with_filter, without_filter, **options),
        "sharpe": sharpe_difference(with_filter, without_filter, periods_per_year, **options),
    }
