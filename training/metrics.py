"""How good a trained model is on a split, each figure with its sample count and a 95% interval.

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


def _figure(value, n: int, interval, **extra) -> dict:
    low, high = interval if interval else (None, None)
    return {"value": value, "low": low, "high": high, "n": n, **extra}


def accuracy(p_up: np.ndarray, returns: np.ndarray) -> dict:
    hits = int(((np.asarray(p_up) > 0.5) == (np.asarray(returns) > 0)).sum())
    n = len(returns)
    return _figure(hits / n if n else None, n, wilson_interval(hits, n))


def majority_accuracy(majority_up: bool, returns: np.ndarray) -> dict:
    """Accuracy of always predicting the training split's majority class."""
    return accuracy(np.full(len(returns), 1.0 if majority_up else 0.0), returns)


def auc(p_up: np.ndarray, returns: np.ndarray) -> dict:
    from sklearn.metrics import roc_auc_score

    up = np.asarray(returns) > 0
    n_pos, n_neg = int(up.sum()), int((~up).sum())
    if n_pos == 0 or n_neg == 0:
        return _figure(None, len(up), None, n_up=n_pos, n_down=n_neg)
    value = float(roc_auc_score(up, p_up))
    half = Z95 * hanley_mcneil_se(value, n_pos, n_neg)
    return _figure(value, len(up), (max(0.0, value - half), min(1.0, value + half)), n_up=n_pos, n_down=n_neg)


def information_coefficient(score: np.ndarray, returns: np.ndarray) -> dict:
    from scipy.stats import spearmanr

    n = len(returns)
    if n < 2 or np.ptp(score) == 0 or np.ptp(returns) == 0:
        return _figure(None, n, None)
    rho = float(spearmanr(score, returns).statistic)
    return _figure(rho, n, fisher_interval(rho, n))


def split_report(p_up: np.ndarray, score: np.ndarray, returns: np.ndarray, majority_up: bool) -> dict:
    """The figures of one split: `score` ranks samples for the IC (predicted return, or P(up))."""
    p_up, score, returns = (np.asarray(a, dtype=np.float64) for a in (p_up, score, returns))
    return {
        "samples": len(returns),
        "up_share": float((returns > 0).mean()) if len(returns) else None,
        "accuracy": accuracy(p_up, returns),
        "majority_accuracy": majority_accuracy(majority_up, returns),
        "auc": auc(p_up, returns),
        "ic": information_coefficient(score, returns),
    }
