"""The non-neural baseline: logistic regression on the decision step's hourly features.

- Inputs: the features_1h columns of seq500_hourly's feature service (the hourly bar and its 15 indicators) at
  the decision step, made scale-free by the networks' own transform (barstore.inputs.stationary: prices relative
  to the close, volumes in logs; at a single step the close and CVD, each relative to itself, are 0), then
  standardized. The same numbers the hourly network sees at its window's last step, without the sequence.
- Label: up over the holding horizon the strategies hold (backtest.run: `hold_days` trading days of hourly bars;
  one hourly bar when positions are held until the next decision).
- Training data: every hourly step of the selected symbols up to the fold's cutoff for that horizon (the same
  embargo rule as the networks, backtest.folds.training_cutoffs), all of them: a logistic regression is cheap.
- Action: BUY when P(up) >= bullish_above, SELL when P(up) < bearish_below (the ensemble's direction-probability
  band, [ensemble] in barstore_project.toml), WAIT between them or without a prediction.
A fold with fewer than MIN_SAMPLES usable steps, or one class only, gets no baseline (its decisions WAIT).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np

from .decisions import GRID_MODEL

if TYPE_CHECKING:
    from barstore.specs import ModelSpec
    from barstore.windows.index import AlignedMatrix

MIN_SAMPLES = 50
STEP_VIEW = "features_1h"


def step_features(matrix: AlignedMatrix, rows: np.ndarray) -> np.ndarray:
    """(len(rows), features) transformed features_1h values at these rows of a GRID_MODEL matrix (NaN kept)."""
    import torch

    from barstore.inputs import stationary

    columns = [j for j, name in enumerate(matrix.columns) if name.startswith(f"{STEP_VIEW}__")]
    x = torch.from_numpy(np.ascontiguousarray(matrix.values[np.asarray(rows)][:, columns]))[:, None, :]
    return stationary(x, [matrix.columns[j] for j in columns])[:, 0, :].numpy()


@dataclass
class Baseline:
    pipeline: object  # sklearn Pipeline: StandardScaler -> LogisticRegression
    samples: int
    positive_share: float
    until: datetime

    def p_up(self, features: np.ndarray) -> np.ndarray:
        """P(up) of each row; NaN for rows with a missing feature."""
        out = np.full(len(features), np.nan)
        ok = np.isfinite(features).all(axis=1)
        if ok.any():
            out[ok] = self.pipeline.predict_proba(features[ok])[:, 1]
        return out

    def describe(self) -> dict:
        return {
            "samples": self.samples,
            "positive_share": round(self.positive_share, 4),
            "until": self.until.isoformat(),
        }


def fit_baseline(store, con, symbols: list[str] | None, until: datetime, label_spec: ModelSpec) -> Baseline | str:
    """The baseline fit on the hourly steps up to `until`, labelled over `label_spec`'s horizon; a reason when it
    cannot be fit."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from barstore.specs import MODELS
    from barstore.windows.retrieval import aligned_matrix
    from barstore.windows.spine import step_spine

    from .decisions import forward_at

    spine = step_spine(con, MODELS[GRID_MODEL], symbols=symbols, end=until)
    if spine.num_rows < MIN_SAMPLES:
        return f"{spine.num_rows} hourly steps before {until:%Y-%m-%d %H:%M}, fewer than {MIN_SAMPLES}"
    matrix = aligned_matrix(store, MODELS[GRID_MODEL], spine)
    rows = np.arange(len(matrix.values))
    keys = pd.DataFrame(
        {
            "symbol": np.asarray(matrix.symbol_names, dtype=object)[matrix.symbol_codes],
            "time": pd.DatetimeIndex(matrix.times).tz_localize("UTC"),
        }
    )
    labels, _ = forward_at(con, label_spec, keys)
    features = step_features(matrix, rows)
    ok = np.isfinite(features).all(axis=1) & np.isfinite(labels)
    up = labels[ok] > 0
    if ok.sum() < MIN_SAMPLES or up.all() or not up.any():
        n = int(ok.sum())
        return f"{n} labelled hourly steps with features before {until:%Y-%m-%d %H:%M} (one class or < {MIN_SAMPLES})"
    pipeline = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    pipeline.fit(features[ok], up)
    return Baseline(pipeline, int(ok.sum()), float(up.mean()), until)


def baseline_actions(p_up: np.ndarray, bullish_above: float, bearish_below: float) -> np.ndarray:
    """buy / sell / wait from P(up) (module docstring); NaN waits."""
    with np.errstate(invalid="ignore"):
        return np.where(p_up >= bullish_above, "buy", np.where(p_up < bearish_below, "sell", "wait")).astype(object)
