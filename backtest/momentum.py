"""Momentum: the sign of the last return a decision can know, over a horizon: the naive rule every model must
beat ("the last 5 trading days went up, so up")."""

from __future__ import annotations

import numpy as np
import pandas as pd


def known_returns(con, spec, symbols: list[str] | None) -> pd.DataFrame:
    """Every labelled step of `spec` (symbol, label_time, label), sorted by symbol then label time: the returns a
    decision may look back on once their label time has passed."""
    from barstore.warehouse import query_arrow
    from barstore.windows.labels import forward_returns

    table = query_arrow(
        con,
        "SELECT symbol, label_time, label FROM __labels WHERE label IS NOT NULL "
        "AND ($symbols IS NULL OR list_contains($symbols, symbol)) ORDER BY symbol, label_time",
        {"symbols": symbols},
        __labels=forward_returns(con, spec),
    ).to_pandas()
    table["label_time"] = pd.to_datetime(table["label_time"], utc=True).dt.tz_convert(None).astype("datetime64[us]")
    return table


def momentum_at(known: pd.DataFrame, calls: pd.DataFrame) -> np.ndarray:
    """Per call, the last horizon return known at its decision time (label time at or before it): the momentum
    rule's score (> 0 calls up); NaN where none is known yet."""
    out = np.full(len(calls), np.nan)
    times = calls["time"].to_numpy().astype("datetime64[us]")
    for symbol, rows in calls.groupby("symbol").indices.items():
        mine = known[known["symbol"] == symbol]
        if mine.empty:
            continue
        at = np.searchsorted(mine["label_time"].to_numpy(), times[rows], side="right") - 1
        ok = at >= 0
        out[rows[ok]] = mine["label"].to_numpy()[at[ok]]
    return out
