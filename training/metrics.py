"""How good a trained model is on a split, each figure with its sample count and two 95% intervals.

`low`/`high` respect time dependence (training/dependence.py: a block bootstrap over label periods, `periods`
of them; none when there are too few); `iid_low`/`iid_high` treat every sample as independent, which
overlapping labels and co-moving symbols are not: kept to show how much narrower they are, never to conclude.
The iid intervals are:
- accuracy of "P(up) > 0.5" against "label > 0", with the Wilson score interval (right near 0 and 1 and for
  small n, where the normal approximation is not);
- ROC AUC of P(up), with the Hanley–McNeil (1982) standard error (closed form, no resampling, so the metrics
  are identical run to run);
- information coefficient: Spearman correlation of the score (predicted return; P(up) for the long-term model)
  with the realized return, with a Fisher z interval using Fieller, Hartley & Pearson's (1957) variance
  1.06 / (n - 3) for rank correlations;
- the accuracy of always predicting the training split's majority class: the baseline the accuracy must beat
  (minute returns are rarely 50/50 up).

Undefined figures (no samples, one class only, a constant score) are None, which JSON writes as null.
"""

from __future__ import annotations

import math

import numpy as np

from . import dependence

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile


def wilson_interval(successes: int, n: int, z: float = Z95) -> tuple[float, float] | None:
    if n == 0:
        return None
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def hanley_mcneil_se(auc: float, n_pos: int, n_neg: int) -> float:
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    variance = (auc * (1 - auc) + (n_pos - 1) * (q1 - auc * auc) + (n_neg - 1) * (q2 - auc * auc)) / (n_pos * n_neg)
    return math.sqrt(max(variance, 0.0))


def fisher_interval(rho: float, n: int, z: float = Z95, variance_factor: float = 1.06) -> tuple[float, float] | None:
    """Interval of a correlation through z = atanh(rho), se = sqrt(variance_factor / (n - 3))."""
    if n <= 3 or not math.isfinite(rho):
        return None
    centre = math.atanh(min(max(rho, -0.999999), 0.999999))
    half = z * math.sqrt(variance_factor / (n - 3))
    return math.tanh(centre - half), math.tanh(centre + half)


def _figure(value, n: int, iid, dependent: dict, **extra) -> dict:
    iid_low, iid_high = iid if iid else (None, None)
    return {"value": value, **dependent, "n": n, "iid_low": iid_low, "iid_high": iid_high, **extra}


def _hits(p_up: np.ndarray, returns: np.ndarray) -> np.ndarray:
    return (np.asarray(p_up) > 0.5) == (np.asarray(returns) > 0)


def accuracy(p_up: np.ndarray, returns: np.ndarray, periods: np.ndarray) -> dict:
    """Share of "P(up) > 0.5" equal to "label > 0"; `periods`: each sample's label period (dependence.py)."""
    hits = _hits(p_up, returns)
    n, k = len(hits), int(hits.sum())
    dependent = dependence.accuracy_interval(hits, np.asarray(periods))
    return _figure(k / n if n else None, n, wilson_interval(k, n), dependent)


def majority_accuracy(majority_up: bool, returns: np.ndarray, periods: np.ndarray) -> dict:
    """Accuracy of always predicting the training split's majority class."""
    return accuracy(np.full(len(returns), 1.0 if majority_up else 0.0), returns, periods)


def _auc_value(p_up: np.ndarray, up: np.ndarray) -> float | None:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(up, p_up)) if 0 < up.sum() < len(up) else None


def auc(p_up: np.ndarray, returns: np.ndarray, periods: np.ndarray) -> dict:
    up = np.asarray(returns) > 0
    n_pos, n_neg = int(up.sum()), int((~up).sum())
    value = _auc_value(np.asarray(p_up), up)
    if value is None:
        return _figure(None, len(up), None, dependence.unanswered(periods), n_up=n_pos, n_down=n_neg)
    dependent = dependence.interval(_auc_value, (np.asarray(p_up), up), np.asarray(periods))
    half = Z95 * hanley_mcneil_se(value, n_pos, n_neg)
    iid = (max(0.0, value - half), min(1.0, value + half))
    return _figure(value, len(up), iid, dependent, n_up=n_pos, n_down=n_neg)


def _spearman(score: np.ndarray, returns: np.ndarray) -> float | None:
    from scipy.stats import spearmanr

    if len(returns) < 2 or np.ptp(score) == 0 or np.ptp(returns) == 0:
        return None
    return float(spearmanr(score, returns).statistic)


def information_coefficient(score: np.ndarray, returns: np.ndarray, periods: np.ndarray) -> dict:
    score, returns = np.asarray(score), np.asarray(returns)
    n, rho = len(returns), _spearman(score, returns)
    if rho is None:
        return _figure(None, n, None, dependence.unanswered(periods))
    dependent = dependence.interval(_spearman, (score, returns), np.asarray(periods))
    return _figure(rho, n, fisher_interval(rho, n), dependent)


def split_report(
    p_up: np.ndarray, score: np.ndarray, returns: np.ndarray, majority_up: bool, times, label_times
) -> dict:
    """The figures of one split: `score` ranks samples for the IC (predicted return, or P(up)); `times` and
    `label_times` (each sample's decision time and the time its label is known) give the label periods."""
    p_up, score, returns = (np.asarray(a, dtype=np.float64) for a in (p_up, score, returns))
    periods = dependence.label_periods(times, label_times)
    return {
        "samples": len(returns),
        "periods": int(periods.max()) + 1 if len(periods) else 0,
        "up_share": float((returns > 0).mean()) if len(returns) else None,
        "accuracy": accuracy(p_up, returns, periods),
        "majority_accuracy": majority_accuracy(majority_up, returns, periods),
        "auc": auc(p_up, returns, periods),
        "ic": information_coefficient(score, returns, periods),
    }


def format_figure(figure: dict | None, kind: str = "pct") -> str:
    """e.g. "54.2% [49.0%, 59.1%] over 31 periods"; "54.2% (too few periods for an interval: 4)"; a figure
    written before the periods were counted shows its interval marked "iid". kind: "pct", "num" or "signed"."""
    if not figure or figure.get("value") is None:
        return "n/a"

    def f(x):
        return {"pct": f"{100 * x:.1f}%", "num": f"{x:.3f}", "signed": f"{x:+.3f}"}[kind]

    value = f(figure["value"])
    if "periods" not in figure:
        return f"{value} [{f(figure['low'])}, {f(figure['high'])}] iid" if figure.get("low") is not None else value
    if figure.get("too_few"):
        return f"{value} (too few periods for an interval: {figure['periods']})"
    if figure.get("low") is None:
        return f"{value} (no interval: undefined in most resamples)"
    return f"{value} [{f(figure['low'])}, {f(figure['high'])}] over {figure['periods']} periods"
