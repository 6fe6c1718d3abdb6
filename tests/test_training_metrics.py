"""Training metrics against independent computations: sklearn, scipy, statsmodels, and simulation for the
standard errors."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import accuracy_score, roc_auc_score
from statsmodels.stats.proportion import proportion_confint

from training.metrics import (
    accuracy,
    auc,
    fisher_interval,
    hanley_mcneil_se,
    information_coefficient,
    majority_accuracy,
    split_report,
    wilson_interval,
)


@pytest.mark.parametrize(("k", "n"), [(8, 10), (0, 7), (7, 7), (523, 1000), (1, 3)])
def test_wilson_interval_matches_statsmodels(k, n):
    low, high = wilson_interval(k, n)
    want = proportion_confint(k, n, alpha=0.05, method="wilson")
    assert (low, high) == pytest.approx(want, abs=1e-12)


def test_wilson_interval_known_value():
    assert wilson_interval(8, 10) == pytest.approx((0.4902, 0.9433), abs=1e-4)
    assert wilson_interval(0, 0) is None


def test_accuracy_auc_ic_equal_the_reference_implementations():
    rng = np.random.default_rng(0)
    returns = rng.normal(0.0005, 0.01, 400)
    p_up = 1 / (1 + np.exp(-(returns * 80 + rng.normal(0, 1, 400))))
    score = returns + rng.normal(0, 0.02, 400)
    times = np.arange(400)
    report = split_report(p_up, score, returns, True, times, times + 1)  # labels known a step later: independent
    assert report["samples"] == 400 and report["periods"] == 400
    assert report["up_share"] == pytest.approx((returns > 0).mean())
    assert report["accuracy"]["value"] == pytest.approx(accuracy_score(returns > 0, p_up > 0.5), abs=1e-15)
    assert report["accuracy"]["n"] == 400
    assert report["auc"]["value"] == pytest.approx(roc_auc_score(returns > 0, p_up), abs=1e-15)
    assert report["auc"]["n_up"] + report["auc"]["n_down"] == 400
    assert report["ic"]["value"] == pytest.approx(spearmanr(score, returns).statistic, abs=1e-15)
    assert report["majority_accuracy"]["value"] == pytest.approx((returns > 0).mean(), abs=1e-15)
    for name in ("accuracy", "auc", "ic", "majority_accuracy"):
        figure = report[name]
        assert figure["iid_low"] < figure["value"] < figure["iid_high"], name
        assert figure["low"] < figure["value"] < figure["high"] and figure["periods"] == 400, name
        # independent samples: the period bootstrap and the closed forms agree on the width (within 20%)
        ratio = (figure["high"] - figure["low"]) / (figure["iid_high"] - figure["iid_low"])
        assert 0.8 < ratio < 1.2, (name, ratio)


def test_majority_baseline_predicts_the_training_class_everywhere():
    returns = np.array([0.01, -0.02, -0.01, 0.0, 0.03])  # 0.0 is not up
    periods = np.arange(5)
    assert majority_accuracy(True, returns, periods)["value"] == pytest.approx(2 / 5)
    assert majority_accuracy(False, returns, periods)["value"] == pytest.approx(3 / 5)


def test_hanley_mcneil_se_matches_the_spread_of_simulated_aucs():
    """The closed form against the standard deviation of the AUC over 400 simulated samples (binormal scores,
    true AUC ~0.76): within 12%."""
    rng = np.random.default_rng(1)
    n_pos, n_neg = 120, 180
    labels = np.r_[np.ones(n_pos), np.zeros(n_neg)]
    aucs = [roc_auc_score(labels, np.r_[rng.normal(1, 1, n_pos), rng.normal(0, 1, n_neg)]) for _ in range(400)]
    simulated = np.std(aucs, ddof=1)
    assert hanley_mcneil_se(float(np.mean(aucs)), n_pos, n_neg) == pytest.approx(simulated, rel=0.12)


def test_fisher_interval_of_spearman_matches_simulation():
    """sqrt(1.06 / (n - 3)) against the spread of atanh(Spearman) over 400 simulated samples of 80 pairs."""
    rng = np.random.default_rng(2)
    n, rho = 80, 0.3
    cov = [[1, rho], [rho, 1]]
    zs = [math.atanh(spearmanr(*rng.multivariate_normal([0, 0], cov, n).T).statistic) for _ in range(400)]
    low, high = fisher_interval(0.0, n)
    assert (math.atanh(high) - math.atanh(low)) / (2 * 1.959963984540054) == pytest.approx(np.std(zs, ddof=1), rel=0.12)
    assert fisher_interval(0.2, 3) is None


def test_undefined_figures_are_none():
    one_class, three = np.array([0.01, 0.02, 0.03]), np.arange(3)
    assert auc(np.array([0.2, 0.6, 0.9]), one_class, three)["value"] is None
    assert information_coefficient(np.array([0.5, 0.5, 0.5]), one_class, three)["value"] is None
    none = np.array([], dtype=np.int64)
    empty = split_report(np.array([]), np.array([]), np.array([]), False, none, none)
    assert empty["samples"] == 0 and empty["accuracy"]["value"] is None and empty["ic"]["value"] is None
    one = accuracy(np.array([0.7]), np.array([0.01]), np.zeros(1, dtype=np.int64))
    assert one["value"] == 1.0 and one["too_few"] and one["low"] is None
