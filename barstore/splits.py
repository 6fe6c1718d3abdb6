"""Walk-forward splits of a dataset in time order: train, then validation, then test, purged at each boundary.

A sample's label is known only at its `label_time` (the close of the bar the label reads). At each boundary the
earlier split loses every sample whose label time is at or after the first decision time of the later split,
so no training label overlaps validation or test data: an embargo of at least the label horizon, measured on
the data itself rather than assumed (trading-day horizons span weekends and holidays).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import BarstoreError
from .project import settings
from .settings_tables import Numbers, where

DEFAULT_SHARES = (0.70, 0.15, 0.15)  # train, validation, test: of the samples, by time
SPLIT_SHARES = Numbers(3)  # the rule of `[training] split_shares` (training/config.py reads the key the same way)


def project_shares(project_dir) -> tuple[float, float, float]:
    """`[training] split_shares` of the project (the defaults without it): the gate validates the splits that
    training will use, whether it runs alone (`barstore validate`) or before a training run. A refusal is
    TrainingConfig's: "<project>/barstore_project.toml [training] split_shares: expected three numbers, got 'x'"."""
    value = settings(Path(project_dir), "training").get("split_shares", DEFAULT_SHARES)
    return SPLIT_SHARES.read(value, f"{where(project_dir, 'training')} split_shares")


@dataclass(frozen=True)
class Splits:
    train: np.ndarray  # int64 sample positions into the dataset, ascending time
    validation: np.ndarray
    test: np.ndarray
    purged: int = 0  # samples dropped at the boundaries

    def named(self) -> dict[str, np.ndarray]:
        return {"train": self.train, "validation": self.validation, "test": self.test}


def walk_forward(timestamps: np.ndarray, label_times: np.ndarray, shares=DEFAULT_SHARES) -> Splits:
    """Splits of samples with these decision and label times (any order); cuts fall between distinct decision
    times, so samples of several symbols at one step stay together."""
    if len(shares) != 3 or min(shares) <= 0 or abs(sum(shares) - 1) > 1e-9:
        raise BarstoreError(f"split shares must be three positive numbers adding up to 1 (got {shares})")
    n = len(timestamps)
    order = np.argsort(timestamps, kind="stable")
    times = timestamps[order]
    cut_val = _cut(times, round(n * shares[0]))
    cut_test = _cut(times, round(n * (shares[0] + shares[1])))
    parts = [order[:cut_val], order[cut_val:cut_test], order[cut_test:]]
    purged = 0
    for i in range(2):
        if len(parts[i + 1]) == 0:
            continue
        later_start = timestamps[parts[i + 1]].min()
        known = label_times[parts[i]]
        keep = ~np.isnat(known) & (known < later_start)
        purged += int((~keep).sum())
        parts[i] = parts[i][keep]
    return Splits(*(p.astype(np.int64) for p in parts), purged=purged)


def _cut(times: np.ndarray, k: int) -> int:
    """The first position >= k where the decision time changes (so equal times are never split)."""
    k = min(max(k, 0), len(times))
    if k == 0 or k == len(times):
        return k
    return int(np.searchsorted(times, times[k - 1], side="right"))
