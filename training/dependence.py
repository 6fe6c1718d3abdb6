"""95% intervals that hold when samples are not independent: a block bootstrap over label periods.

Samples one step apart whose labels span many steps share most of their label, and symbols that move together
share their market at each time: n such samples say far less than n independent ones, and the iid intervals
(Wilson, Hanley–McNeil, Fisher z on n) are too narrow by about sqrt(horizon / stride).

- Label periods: in decision-time order, a period starts at the first sample not yet in one and holds every
  sample (of any symbol) decided before that sample's label is known. Samples two periods apart share no label
  time, so the periods are 1-dependent; their count is the number of independent periods an interval rests on.
- Interval: the percentile interval of the statistic recomputed on `REPS` stationary-bootstrap resamples of whole
  periods (Politis & Romano; `arch.bootstrap.StationaryBootstrap`, mean block length max(2, K^(1/3)) periods, so
  neighbouring periods are drawn together), every sample of a drawn period kept. Seeded: the same data gives
  the same interval.
- Fewer than `MIN_PERIODS` periods: no interval ("too few"), whatever n is.
- Trades (`overlap_clusters`): trades open at the same time, on any symbols, are one bet on the market: a
  cluster is a run of trades whose holding spans overlap, and clusters are resampled as the periods are.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

MIN_PERIODS = 20
REPS = 1000
LEVEL = 0.95
METHOD = "block bootstrap over label periods"


def label_periods(times: np.ndarray, label_times: np.ndarray) -> np.ndarray:
    """The label period of each sample (0, 1, ... in time order); `times` are decision times, `label_times` the
    times each label becomes known (datetime64 or numbers)."""
    times, label_times = np.asarray(times), np.asarray(label_times)
    order = np.argsort(times, kind="stable")
    periods = np.empty(len(times), dtype=np.int64)
    current, known = -1, None
    for i, t, end in zip(order, times[order], label_times[order], strict=True):
        if known is None or t >= known:  # this sample's label shares no time with the period's first one
            current, known = current + 1, end
        periods[i] = current
    return periods


def overlap_clusters(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The cluster of each span [start, end] (0, 1, ... in time order): spans that overlap, directly or through
    others, share one."""
    starts, ends = np.asarray(starts), np.asarray(ends)
    order = np.argsort(starts, kind="stable")
    clusters = np.empty(len(starts), dtype=np.int64)
    current, reach = -1, None
    for i, start, end in zip(order, starts[order], ends[order], strict=True):
        if reach is None or start > reach:
            current, reach = current + 1, end
        else:
            reach = max(reach, end)
        clusters[i] = current
    return clusters


def period_resamples(periods: np.ndarray, reps: int = REPS, seed: int = 0) -> np.ndarray:
    """(reps, K) period numbers: each row one stationary-bootstrap resample of the K periods."""
    from arch.bootstrap import StationaryBootstrap

    k = int(periods.max()) + 1
    bs = StationaryBootstrap(max(2.0, k ** (1 / 3)), np.arange(k), seed=seed)
    return np.stack([bs.update_indices() for _ in range(reps)])


def interval(
    statistic: Callable[..., float | None],
    arrays: tuple[np.ndarray, ...],
    periods: np.ndarray,
    *,
    reps: int = REPS,
    seed: int = 0,
    level: float = LEVEL,
) -> dict:
    """{"low", "high", "periods", "method"} for statistic(*arrays) with every sample of a drawn period kept;
    low/high None when there are fewer than MIN_PERIODS periods or too few resamples define the statistic."""
    out = unanswered(periods)
    if out.get("too_few"):
        return out
    order = np.argsort(periods, kind="stable")
    members = np.split(order, np.flatnonzero(np.diff(periods[order])) + 1)
    draws = []
    for row in period_resamples(periods, reps, seed):
        rows = np.concatenate([members[p] for p in row])
        value = statistic(*(a[rows] for a in arrays))
        if value is not None and np.isfinite(value):
            draws.append(value)
    if len(draws) < reps // 2:  # e.g. one class only in most resamples: no honest interval
        return out
    return out | _percentiles(draws, level)


def accuracy_interval(hits: np.ndarray, periods: np.ndarray, *, reps: int = REPS, seed: int = 0) -> dict:
    """`interval` of the share of hits, from per-period sums (the same resamples, without the gathering)."""
    out = unanswered(periods)
    if out.get("too_few"):
        return out
    k = out["periods"]
    per_hits = np.bincount(periods, weights=hits.astype(np.float64), minlength=k)
    per_n = np.bincount(periods, minlength=k).astype(np.float64)
    draws = period_resamples(periods, reps, seed)
    return out | _percentiles(per_hits[draws].sum(axis=1) / per_n[draws].sum(axis=1), LEVEL)


def unanswered(periods: np.ndarray) -> dict:
    """The figure's interval fields before any resampling; "too_few" when the periods cannot carry one."""
    k = int(periods.max()) + 1 if len(periods) else 0
    out = {"low": None, "high": None, "periods": k, "method": METHOD}
    return out | {"too_few": True} if k < MIN_PERIODS else out


def _percentiles(draws, level: float) -> dict:
    tail = (1 - level) / 2 * 100
    low, high = np.percentile(draws, [tail, 100 - tail])
    return {"low": float(low), "high": float(high)}
