"""The backtest decides as serving does: only each model's latest window, no older than `[serving]
max_staleness`, and a strategy missing one of its inputs says MISSING instead of deciding without it."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from backtest.decisions import latest_rows
from backtest.positions import MISSING
from backtest.strategies import STRATEGIES
from barstore.windows.index import AlignedMatrix
from inference.ensemble import EMBEDDING_COLUMN, RECENT_COLUMN, TREND_P_UP_COLUMN, EnsembleSettings, return_column

T0 = np.datetime64("2024-01-02T10:00", "us")
MINUTE = np.timedelta64(1, "m")


def _matrix(minutes: list[int]) -> AlignedMatrix:
    n = len(minutes)
    return AlignedMatrix(
        values=np.zeros((n, 1)),
        symbol_codes=np.zeros(n, dtype=np.int32),
        symbol_names=["X"],
        times=T0 + np.array(minutes) * MINUTE,
        break_before=np.zeros(n, dtype=bool),
        columns=["f"],
    )


def _decisions_at(minutes: list[int]) -> pd.DataFrame:
    times = pd.DatetimeIndex(T0 + np.array(minutes) * MINUTE).tz_localize("UTC")
    return pd.DataFrame({"symbol": "X", "time": times})


def test_only_the_latest_step_counts_and_only_while_fresh():
    matrix = _matrix([0, 1, 2, 3, 5])  # steps 10:00 .. 10:03 and 10:05; the window at 10:03 is not valid
    ends = np.array([0, 1, 2, 4])
    frame = _decisions_at([2, 3, 4, 5, 30])
    # 10:02: its own step; 10:03 and 10:04: the latest step (10:03) has no valid window, and the 10:02 one is not
    # used in its place; 10:05: its own; 10:30: the 10:05 window is 25 minutes old
    assert latest_rows(frame, matrix, ends, timedelta(minutes=10)).tolist() == [2, -1, -1, 4, -1]
    assert latest_rows(frame, matrix, ends, timedelta(minutes=30)).tolist() == [2, -1, -1, 4, 4]
    before = _decisions_at([-1])  # before the first step: nothing
    assert latest_rows(before, matrix, ends, timedelta(days=1)).tolist() == [-1]


def _frame() -> pd.DataFrame:
    """Three decision rows: everything there; seq500_minute missing; the long-term prediction missing."""
    up = [0.01, 0.01, 0.01]
    frame = pd.DataFrame(
        {
            return_column("seq300_minute"): up,
            return_column("seq500_minute"): [0.01, np.nan, 0.01],
            return_column("seq800_minute"): up,
            return_column("seq500_hourly"): up,
            RECENT_COLUMN: [0.005, 0.005, 0.005],
            TREND_P_UP_COLUMN: [0.9, 0.9, np.nan],
        }
    )
    frame[EMBEDDING_COLUMN] = [[1.0] * 32, [1.0] * 32, None]
    return frame


def test_a_strategy_without_one_of_its_inputs_says_missing():
    strategies = {s.name: s for s in STRATEGIES}
    settings = EnsembleSettings()
    frame = _frame()
    for name in ("three_model", "four_model", "three_model_embedding_sum", "four_model_direction_prob"):
        acted = strategies[name].actions(frame, settings)
        assert acted["action"].iloc[0] not in (MISSING, "wait"), name  # all four agree on up
        assert acted["action"].iloc[1] == MISSING and "seq500_minute" in acted["reason"].iloc[1], name
    # without the long-term prediction, a filtered strategy does not trade unfiltered; an unfiltered one trades
    for name in ("three_model_embedding_sum", "four_model_direction_prob"):
        acted = strategies[name].actions(frame, settings)
        assert acted["action"].iloc[2] == MISSING and acted["reason"].iloc[2].endswith("longterm_multitf"), name
    assert strategies["three_model"].actions(frame, settings)["action"].iloc[2] not in (MISSING, "wait")
    hourly_gone = frame.assign(**{return_column("seq500_hourly"): np.nan})
    assert (strategies["four_model"].actions(hourly_gone, settings)["action"] == MISSING).all()
    three = strategies["three_model"].actions(frame, settings)  # reads no hourly prediction
    pd.testing.assert_frame_equal(strategies["three_model"].actions(hourly_gone, settings), three)
