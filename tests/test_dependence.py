"""Intervals that respect time dependence (training/dependence.py): label periods, trade clusters, and coverage
on pure noise with heavily overlapping labels, where the iid intervals fail."""

from __future__ import annotations

import numpy as np
import pytest

from training import dependence
from training.metrics import _spearman, accuracy, fisher_interval, format_figure

HORIZON, STEPS, SYMBOLS = 25, 2500, 2  # stride 1: each label overlaps the next 24; ~100 label periods


def noise_sample(seed: int):
    """Two co-moving symbols (correlation ~0.64) on one clock, a label of the next HORIZON increments at every
    step, and a score as smooth as the labels but independent of them: true accuracy 0.5, true IC 0."""
    rng = np.random.default_rng(seed)
    common = rng.standard_normal(STEPS + 2 * HORIZON)
    times, known, labels, scores = [], [], [], []
    for _ in range(SYMBOLS):
        price = np.cumsum(0.8 * common + 0.6 * rng.standard_normal(len(common)))
        other = np.cumsum(rng.standard_normal(len(common)))
        t = np.arange(HORIZON, HORIZON + STEPS)
        times.append(t)
        known.append(t + HORIZON)
        labels.append(price[t + HORIZON] - price[t])
        scores.append(other[t] - other[t - HORIZON])
    return tuple(np.concatenate(x) for x in (times, known, labels, scores))


def test_label_periods_start_where_the_first_label_is_known():
    times = np.array([0, 1, 2, 3, 4, 5, 6, 0, 3])  # two symbols: the last two rows are the second's
    known = times + 3
    assert dependence.label_periods(times, known).tolist() == [0, 0, 0, 1, 1, 1, 2, 0, 1]
    stamps = np.datetime64("2024-01-01T00:00", "us") + times * np.timedelta64(1, "h")
    assert dependence.label_periods(stamps, stamps + np.timedelta64(3, "h")).tolist() == [0, 0, 0, 1, 1, 1, 2, 0, 1]


def test_overlapping_trades_are_one_cluster():
    starts = np.array([0, 1, 5, 9, 2, 20])
    ends = np.array([3, 2, 8, 10, 6, 21])  # 0-3 and 1-2 overlap, 2-6 joins them to 5-8; 9-10 and 20-21 alone
    assert dependence.overlap_clusters(starts, ends).tolist() == [0, 0, 0, 1, 0, 2]


def test_too_few_periods_give_no_interval():
    hits = np.ones(1000, dtype=bool)
    periods = np.repeat(np.arange(dependence.MIN_PERIODS - 1), 1000 // (dependence.MIN_PERIODS - 1) + 1)[:1000]
    out = dependence.accuracy_interval(hits, periods)
    assert out["too_few"] and out["low"] is None and out["periods"] == dependence.MIN_PERIODS - 1
    figure = accuracy(np.ones(1000), np.ones(1000), periods)
    assert format_figure(figure) == f"100.0% (too few periods for an interval: {dependence.MIN_PERIODS - 1})"


def test_the_same_data_gives_the_same_interval():
    times, known, labels, scores = noise_sample(0)
    periods = dependence.label_periods(times, known)
    first = dependence.interval(_spearman, (scores, labels), periods, reps=100, seed=3)
    assert dependence.interval(_spearman, (scores, labels), periods, reps=100, seed=3) == first


@pytest.mark.parametrize("statistic", ["accuracy", "ic"])
def test_intervals_cover_the_truth_on_noise_where_iid_ones_do_not(statistic):
    """On pure noise with labels overlapping 24 of 25 steps and two co-moving symbols, the period bootstrap's
    95% interval covers the true value (accuracy 0.5, IC 0) in >= 90% of seeds; the iid one (Wilson, Fisher z
    on n = 5,000) in < 60%. Measured here: 92.5% and 95% against 40% and 25% (40 seeds); at ~40 periods
    the bootstrap covers ~85-88% (MIN_PERIODS is 20: intervals on fewer periods are not shown at all)."""
    seeds = range(40) if statistic == "accuracy" else range(30)
    covered = iid_covered = 0
    for seed in seeds:
        times, known, labels, scores = noise_sample(seed)
        periods = dependence.label_periods(times, known)
        assert 90 <= periods.max() + 1 <= 110
        if statistic == "accuracy":
            figure = accuracy(1 / (1 + np.exp(-scores)), labels, periods)
            covered += figure["low"] <= 0.5 <= figure["high"]
            iid_covered += figure["iid_low"] <= 0.5 <= figure["iid_high"]
        else:
            out = dependence.interval(_spearman, (scores, labels), periods, reps=200, seed=seed)
            low, high = fisher_interval(_spearman(scores, labels), len(labels))
            covered += out["low"] <= 0 <= out["high"]
            iid_covered += low <= 0 <= high
    assert covered / len(seeds) >= 0.90, covered
    assert iid_covered / len(seeds) < 0.60, iid_covered
