"""Fold predictions -> the decision frame: every model's prediction at each decision time, then each strategy's action.

Decision times: every close of a complete hourly bar of each selected symbol inside the fold (the steps of
features_1h, which is seq500_hourly's spine). The price of a decision is that bar's close, the close of the last
bar at or before the decision. At a decision time t a model's prediction is that of its window ending at its
latest step at or before t, as serving decides: only that step (what the online store holds; if its window is
not valid, an earlier one is not used instead), and only when it is no older than the model's `[serving]
max_staleness` (by default 10 minutes for the minute models, whose step is normally the minute closing at t
itself; 2 hours for the hourly model, whose step is t; 4 days for the long-term model's daily close: a weekend
plus a holiday).

Windows are cut exactly as the online path cuts them (inference.windows.latest_windows: step spine -> Feast
point-in-time retrieval -> `window_ends` without labels), so they are the tensors a live prediction at t would
get, and a decision never depends on whether its label exists yet (the last days of the data get decisions too;
`window_dataset` would drop them for want of a label). A model with no window at t (too little history, a gap,
a missing value) or no checkpoint for the fold (the gate refused its data) has a missing prediction (NaN), on
which every strategy that reads it says MISSING (backtest.strategies).

The REDUCE rule's recent level (`hourly_recent`) is the mean of the previous `recent_window` decisions' hourly
predictions inside the fold (inference.ensemble.recent_hourly_level): unknown for a fold's first hours, where the
online path (whose hourly array carries earlier rows) would already know it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from inference.ensemble import (
    EMBEDDING_COLUMN,
    HOURLY_MODEL,
    MINUTE_MODELS,
    RECENT_COLUMN,
    TREND_MODEL,
    recent_hourly_level,
    return_column,
)

if TYPE_CHECKING:
    import duckdb

    from barstore.checkpoints import TrainedModel
    from barstore.specs import ModelSpec
    from barstore.windows.index import AlignedMatrix

    from .folds import Fold

GRID_MODEL = "seq500_hourly"  # its spine is the decision grid; its feature service holds the grid's prices
PRICE_COLUMN = "features_1h__close"


# --- the grid -------------------------------------------------------------------------------------------------


@dataclass
class Grid:
    """A fold's decision times: `frame` (symbol, time as UTC Timestamps, price, row into `matrix`), in symbol then
    time order; `matrix`: GRID_MODEL's features at each step (the baseline reads its features_1h columns)."""

    frame: pd.DataFrame
    matrix: AlignedMatrix | None


def decision_times(con: duckdb.DuckDBPyConnection, symbols: list[str] | None) -> np.ndarray:
    """Every decision time of the selected symbols (datetime64[us], naive UTC), for planning the folds."""
    from barstore.warehouse import query_arrow

    table = query_arrow(
        con,
        "SELECT DISTINCT ts_close FROM features_1h "
        "WHERE $symbols IS NULL OR list_contains($symbols, symbol) ORDER BY 1",
        {"symbols": symbols},
    )
    return table.column(0).to_numpy().astype("datetime64[us]")


def decision_grid(store, con, symbols: list[str] | None, fold: Fold) -> Grid:
    from barstore.specs import MODELS
    from barstore.windows.retrieval import aligned_matrix
    from barstore.windows.spine import step_spine

    spec = MODELS[GRID_MODEL]
    spine = step_spine(con, spec, symbols=symbols, start=fold.start, end=fold.last)
    if spine.num_rows == 0:
        return Grid(pd.DataFrame({"symbol": [], "time": pd.to_datetime([], utc=True), "price": [], "row": []}), None)
    matrix = aligned_matrix(store, spec, spine)
    price = matrix.values[:, spec.columns.index(PRICE_COLUMN)]
    rows = np.flatnonzero(np.isfinite(price) & (price > 0))
    frame = pd.DataFrame(
        {
            "symbol": np.asarray(matrix.symbol_names, dtype=object)[matrix.symbol_codes[rows]],
            "time": pd.DatetimeIndex(matrix.times[rows]).tz_localize("UTC"),
            "price": price[rows],
            "row": rows,
        }
    )
    return Grid(frame, matrix)


# --- one model's predictions at the decision times ------------------------------------------------------------


@dataclass
class StepPredictions:
    """A model's predictions at a grid's rows (NaN / None where it has none) and the steps they come from."""

    step_time: np.ndarray  # datetime64[us], naive UTC: the window's last step (NaT: no window)
    ret: np.ndarray  # predicted return (NaN for the long-term model, which predicts none)
    p_up: np.ndarray
    embedding: list  # 32 floats per row, or None (long-term model only)

    @classmethod
    def missing(cls, n: int) -> StepPredictions:
        return cls(
            np.full(n, np.datetime64("NaT"), "datetime64[us]"), np.full(n, np.nan), np.full(n, np.nan), [None] * n
        )


HISTORY_SQL = """
SELECT min(ts_close) FROM (
    SELECT ts_close, row_number() OVER (PARTITION BY symbol ORDER BY ts_close DESC) AS back
    FROM {view}
    WHERE ts_close < $before AND ($symbols IS NULL OR list_contains($symbols, symbol))
) WHERE back <= $steps
"""


def _history_start(con, spec: ModelSpec, before: datetime, symbols: list[str] | None) -> datetime:
    """The first step a window ending at or after `before` can need: `steps` steps back, for every symbol."""
    from barstore.warehouse import query_arrow

    query = HISTORY_SQL.format(view=spec.step_view)
    first = query_arrow(con, query, {"before": before, "symbols": symbols, "steps": spec.steps}).column(0)[0].as_py()
    return first or before


def predictions_at(
    grid: Grid,
    model: TrainedModel,
    spec: ModelSpec,
    store,
    con,
    symbols: list[str] | None,
    fold: Fold,
    max_age: timedelta,
    device=None,
) -> StepPredictions:
    """`model`'s prediction at each decision of `grid` (module docstring), each distinct window predicted once;
    `max_age`: the model's `[serving] max_staleness`."""
    import torch

    from barstore.windows.index import window_ends
    from barstore.windows.retrieval import aligned_matrix
    from barstore.windows.spine import step_spine

    n = len(grid.frame)
    out = StepPredictions.missing(n)
    if n == 0:
        return out
    start = _history_start(con, spec, fold.start - max_age, symbols)
    spine = step_spine(con, spec, symbols=symbols, start=start, end=fold.last)
    if spine.num_rows == 0:
        return out
    matrix = aligned_matrix(store, spec, spine)
    ends = window_ends(matrix, spec.steps).ends
    rows = latest_rows(grid.frame, matrix, ends, max_age)
    found = rows >= 0
    if not found.any():
        return out
    unique, inverse = np.unique(rows[found], return_inverse=True)
    pred = model.predict(torch.from_numpy(matrix.values), torch.from_numpy(unique), device)
    out.step_time[found] = matrix.times[unique][inverse]
    out.p_up[found] = pred.p_up[inverse]
    if pred.ret is not None:
        out.ret[found] = pred.ret[inverse]
    if pred.embedding is not None:
        for i, k in zip(np.flatnonzero(found), inverse):
            out.embedding[i] = pred.embedding[k].astype(float).tolist()
    return out


def latest_rows(frame: pd.DataFrame, matrix: AlignedMatrix, ends: np.ndarray, max_age: timedelta) -> np.ndarray:
    """For each decision (symbol, time) the matrix row of the symbol's latest step at or before the time, when
    that step ends a window (`ends`) no older than `max_age`; -1 otherwise. Only the latest step counts: the
    online store holds that window alone, so an earlier valid window is never used in its place."""
    out = np.full(len(frame), -1, dtype=np.int64)
    times = frame["time"].dt.tz_convert("UTC").dt.tz_localize(None).to_numpy().astype("datetime64[us]")
    age = np.timedelta64(int(max_age.total_seconds() * 1e6), "us")
    is_end = np.zeros(len(matrix.times), dtype=bool)
    is_end[ends] = True
    for code, name in enumerate(matrix.symbol_names):
        mine = np.flatnonzero(frame["symbol"].to_numpy() == name)
        own = np.flatnonzero(matrix.symbol_codes == code)  # ascending: the matrix is sorted by symbol, then time
        if len(mine) == 0 or len(own) == 0:
            continue
        pos = np.searchsorted(matrix.times[own], times[mine], side="right") - 1
        ok = pos >= 0
        rows = own[pos[ok]]
        ok[ok] = is_end[rows] & (times[mine][ok] - matrix.times[rows] <= age)
        out[mine[ok]] = own[pos[ok]]
    return out


# --- the decision frame ---------------------------------------------------------------------------------------


def prediction_columns(grid: Grid, predictions: dict[str, StepPredictions], recent_window: int) -> pd.DataFrame:
    """The frame `decide_many` reads, on the grid's rows; plus each model's step time and P(up) for the record."""
    frame = grid.frame[["symbol", "time", "price"]].copy()
    n = len(frame)
    for name in (*MINUTE_MODELS, HOURLY_MODEL, TREND_MODEL):
        pred = predictions.get(name) or StepPredictions.missing(n)
        frame[f"{name}__step_time"] = pd.DatetimeIndex(pred.step_time).tz_localize("UTC")
        frame[f"{name}__p_up"] = pred.p_up  # for the long-term model: TREND_P_UP_COLUMN, the filter's score
        if name != TREND_MODEL:
            frame[return_column(name)] = pred.ret
    frame[EMBEDDING_COLUMN] = (predictions.get(TREND_MODEL) or StepPredictions.missing(n)).embedding
    frame["longterm_embedding_sum"] = [np.nan if e is None else float(np.sum(e)) for e in frame[EMBEDDING_COLUMN]]
    frame[RECENT_COLUMN] = recent_hourly_level(frame, recent_window).to_numpy() if n else []
    return frame


def forward_at(con, spec: ModelSpec, frame: pd.DataFrame, time_column: str = "time") -> tuple[np.ndarray, pd.Series]:
    """The label (forward return over `spec`'s horizon on its timeframe's bars) and label time of each
    (symbol, time) of `frame`, NaN / NaT where it is unknown: for holding horizons and model accuracy only,
    never for a decision."""
    import pyarrow as pa

    from barstore.warehouse import query_arrow
    from barstore.windows.labels import forward_returns

    keys = pa.table(
        {
            "symbol": pa.array(frame["symbol"].astype(str).to_numpy()),
            "event_timestamp": pa.array(
                pd.DatetimeIndex(frame[time_column]).tz_convert("UTC"), pa.timestamp("us", "UTC")
            ),
            "row": pa.array(np.arange(len(frame), dtype=np.int64)),
        }
    )
    out = query_arrow(
        con,
        "SELECT l.label, l.label_time FROM __keys AS k LEFT JOIN __labels AS l USING (symbol, event_timestamp) "
        "ORDER BY k.row",
        __keys=keys,
        __labels=forward_returns(con, spec),
    ).to_pandas()
    times = pd.to_datetime(out["label_time"], utc=True)
    return out["label"].to_numpy(dtype=float, na_value=np.nan), pd.Series(times.to_numpy(), index=frame.index)
