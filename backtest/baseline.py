"""The non-neural baselines, fit per fold on what was known before it: each gives a P(up) column of the prediction
frame that a backtest.strategies.ScoreRule acts on.

- Inputs: the features_1h columns of seq500_hourly's feature service (the hourly bar and its 15 indicators) at
  the decision step, made scale-free by the networks' own transform (barstore.inputs.stationary: prices relative
  to the close, volumes in logs), the same numbers the hourly network sees at its window's last step, without
  the sequence.
- Label: up over the holding horizon the strategies hold (backtest.run: `hold_days` trading days of hourly bars;
  one hourly bar when positions are held until the next decision).
- Training data: every hourly step of the selected symbols up to the fold's cutoff for that horizon (the same
  embargo rule as the networks, backtest.folds.training_cutoffs).
- Logistic regression (standardized inputs) and LightGBM (a small gradient-boosted tree model: Qlib's strongest
  baseline on its Alpha158 features), the latter also with the fold's long-term model's 32-d trend embedding
  appended (the long-term plan's "use the embedding with a tree model"): at each step the embedding of the
  latest daily window at or before it, no older than `[serving] max_staleness`, as serving would see it. The
  long-term model was trained on the same history, so on its training steps the embedding is in-sample; the test
  steps are not.
- Momentum: P(up) 1 when the last 5-trading-day return known at the decision (backtest.momentum) is up, 0 when
  down; nothing to fit.
A fold with fewer than MIN_SAMPLES usable steps, or one class only, gets no model-based baseline (its decisions are
MISSING: they open nothing).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from barstore.specs import Horizon, ModelSpec

from .decisions import GRID_MODEL, Grid
from .strategies import GBM, GBM_EMBEDDING, LOGISTIC, MOMENTUM, p_up_column

if TYPE_CHECKING:
    from barstore.windows.index import AlignedMatrix

MIN_SAMPLES = 50
STEP_VIEW = "features_1h"
MOMENTUM_SPEC = ModelSpec("momentum", "1h", 1, Horizon(trading_days=5), (), "the last 5 trading days' return")
GBM_PARAMS = {  # small and regularized: a few thousand noisy samples; deterministic for the same seed
    "n_estimators": 200,
    "learning_rate": 0.03,
    "num_leaves": 15,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.8,
    "reg_lambda": 1.0,
    "deterministic": True,
    "force_row_wise": True,
    "n_jobs": 1,
    "verbose": -1,
}


def step_features(matrix: AlignedMatrix, rows: np.ndarray) -> np.ndarray:
    """(len(rows), features) transformed features_1h values at these rows of a GRID_MODEL matrix (NaN kept)."""
    import torch

    from barstore.inputs import stationary

    columns = [j for j, name in enumerate(matrix.columns) if name.startswith(f"{STEP_VIEW}__")]
    x = torch.from_numpy(np.ascontiguousarray(matrix.values[np.asarray(rows)][:, columns]))[:, None, :]
    return stationary(x, [matrix.columns[j] for j in columns])[:, 0, :].numpy()


@dataclass
class Fitted:
    model: object  # a fitted sklearn-style classifier (predict_proba)
    samples: int
    positive_share: float

    def p_up(self, features: np.ndarray) -> np.ndarray:
        """P(up) of each row; NaN for rows with a missing feature."""
        out = np.full(len(features), np.nan)
        ok = np.isfinite(features).all(axis=1) if len(features) else np.zeros(0, bool)
        if ok.any():
            out[ok] = self.model.predict_proba(features[ok])[:, 1]
        return out


def _fit(kind: str, features: np.ndarray, labels: np.ndarray, seed: int) -> Fitted | str:
    ok = np.isfinite(features).all(axis=1) & np.isfinite(labels)
    up = labels[ok] > 0
    if ok.sum() < MIN_SAMPLES or up.all() or not up.any():
        return f"{int(ok.sum())} labelled hourly steps with features (one class or < {MIN_SAMPLES})"
    if kind == "logistic":
        from sklearn.linear_model import LogisticRegression
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000))
    else:
        from lightgbm import LGBMClassifier

        model = LGBMClassifier(random_state=seed, **GBM_PARAMS)
    model.fit(features[ok], up)
    return Fitted(model, int(ok.sum()), float(up.mean()))


def _embeddings(grid: Grid, trend_model, store, con, symbols, staleness, device) -> np.ndarray:
    """(rows, 32) the long-term model's embedding at each grid row, as the decisions see it (NaN: none)."""
    from barstore.specs import MODELS

    from .decisions import predictions_at
    from .folds import MICROSECOND, Fold

    times = grid.frame["time"]
    if not len(times):
        return np.zeros((0, 32))
    first, last = times.min().to_pydatetime(), times.max().to_pydatetime()
    span = Fold(0, first, last + MICROSECOND, last, len(times))
    pred = predictions_at(grid, trend_model, MODELS["longterm_multitf"], store, con, symbols, span, staleness, device)
    return embedding_matrix(pred.embedding)


def embedding_matrix(embeddings) -> np.ndarray:
    """A column of 32-float lists (None: no embedding) as an (n, 32) array with NaN rows."""
    out = np.full((len(embeddings), 32), np.nan)
    for i, e in enumerate(embeddings):
        if e is not None:
            out[i] = e
    return out


def training_grid(store, con, symbols: list[str] | None, until: datetime) -> Grid | None:
    """Every hourly step of the selected symbols up to `until`, as a decision grid (None: none)."""
    from barstore.specs import MODELS
    from barstore.windows.retrieval import aligned_matrix
    from barstore.windows.spine import step_spine

    spine = step_spine(con, MODELS[GRID_MODEL], symbols=symbols, end=until)
    if spine.num_rows < MIN_SAMPLES:
        return None
    matrix = aligned_matrix(store, MODELS[GRID_MODEL], spine)
    frame = pd.DataFrame(
        {
            "symbol": np.asarray(matrix.symbol_names, dtype=object)[matrix.symbol_codes],
            "time": pd.DatetimeIndex(matrix.times).tz_localize("UTC"),
            "row": np.arange(len(matrix.values)),
        }
    )
    return Grid(frame, matrix)


def fold_baselines(
    store,
    con,
    symbols: list[str] | None,
    until: datetime,
    label_spec: ModelSpec,
    grid: Grid,
    frame: pd.DataFrame,
    trend_model=None,
    trend_staleness=None,
    device=None,
    seed: int = 0,
) -> tuple[dict[str, np.ndarray], dict[str, dict]]:
    """({P(up) column: values on the fold's decision rows}, {baseline: its record for the report})."""
    from inference.ensemble import EMBEDDING_COLUMN

    from .decisions import forward_at
    from .momentum import known_returns, momentum_at

    n = len(frame)
    columns = {p_up_column(name): np.full(n, np.nan) for name in (LOGISTIC, GBM, GBM_EMBEDDING, MOMENTUM)}
    records = {name: {"until": until.isoformat()} for name in (LOGISTIC, GBM, GBM_EMBEDDING)}
    past = momentum_at(known_returns(con, MOMENTUM_SPEC, symbols), _naive_times(frame))
    columns[p_up_column(MOMENTUM)] = np.where(np.isfinite(past), (past > 0).astype(float), np.nan)
    records[MOMENTUM] = {"until": None, "samples": int(np.isfinite(past).sum()), "note": "no fitting"}

    train = training_grid(store, con, symbols, until)
    if train is None:
        for name in records:
            if name != MOMENTUM:
                records[name]["reason"] = f"fewer than {MIN_SAMPLES} hourly steps before {until:%Y-%m-%d %H:%M}"
        return columns, records
    labels, _ = forward_at(con, label_spec, train.frame)
    x_train = step_features(train.matrix, train.frame["row"].to_numpy())
    x_test = step_features(grid.matrix, grid.frame["row"].to_numpy()) if n else np.zeros((0, x_train.shape[1]))
    inputs = {LOGISTIC: ("logistic", x_train, x_test), GBM: ("gbm", x_train, x_test)}
    if trend_model is not None:
        e_train = _embeddings(train, trend_model, store, con, symbols, trend_staleness, device)
        e_test = embedding_matrix(frame[EMBEDDING_COLUMN]) if n else np.zeros((0, 32))
        inputs[GBM_EMBEDDING] = ("gbm", np.hstack([x_train, e_train]), np.hstack([x_test, e_test]))
    else:
        records[GBM_EMBEDDING]["reason"] = "no long-term model in this fold"
    for name, (kind, xa, xb) in inputs.items():
        fitted = _fit(kind, xa, labels, seed)
        if isinstance(fitted, str):
            records[name]["reason"] = fitted
            continue
        records[name] |= {"samples": fitted.samples, "positive_share": round(fitted.positive_share, 4)}
        columns[p_up_column(name)] = fitted.p_up(xb) if n else columns[p_up_column(name)]
    return columns, records


def _naive_times(frame: pd.DataFrame) -> pd.DataFrame:
    """(symbol, time as naive UTC datetime64[us]) of the decision rows, as backtest.momentum reads them."""
    times = pd.to_datetime(frame["time"], utc=True).dt.tz_convert(None).astype("datetime64[us]")
    return pd.DataFrame({"symbol": frame["symbol"].to_numpy(), "time": times.to_numpy()})
