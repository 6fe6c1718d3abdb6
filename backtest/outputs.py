"""Writing a backtest: decisions.parquet, predictions.parquet, results.json, report.md and one equity PNG per
instrument. The markdown is rendered from the results dict alone, so the report and results.json never
disagree."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .evaluation import availability, evaluate
from .markdown import jsonable
from .report import render
from .strategies import BY_NAME

if TYPE_CHECKING:
    from .folds import Fold
    from .positions import PositionRules, Simulation
    from .run import BacktestSettings


def write_outputs(
    out: Path,
    results: dict,
    decisions: pd.DataFrame,
    predictions: pd.DataFrame,
    rules: PositionRules,
    calendars: dict[str, str],
    folds: list[Fold],
    settings: BacktestSettings,
) -> dict:
    """decisions.parquet, predictions.parquet, results.json, report.md and the equity PNGs; the final results."""
    from .plots import equity_curves

    decisions.to_parquet(out / "decisions.parquet", index=False)
    predictions.to_parquet(out / "predictions.parquet", index=False)
    available = availability(predictions, results["folds"])
    numbers, simulations = evaluate(decisions, rules, calendars, available, settings.seed, settings.bootstrap_reps)
    results = results | numbers
    results["calendars"] = {s: calendars[s] for s in sorted(predictions["symbol"].unique())}
    starts = [f.start for f in folds]
    plots = {}
    for symbol in sorted(predictions["symbol"].unique()):
        curves = {
            BY_NAME[name].label: _curve(sim, symbol)
            for name, sim in simulations.items()
            if available[name].get(symbol) is None
        }
        path = out / f"equity_{_safe(symbol)}.png"
        equity_curves(curves, starts, f"{symbol}: equity by strategy (after costs)", path)
        plots[symbol] = path.name
    results["plots"] = plots
    results["files"] = {"decisions": "decisions.parquet", "predictions": "predictions.parquet", "report": "report.md"}
    results = jsonable(results)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(render(results), encoding="utf-8")
    return results


def _curve(sim: Simulation, symbol: str) -> pd.Series:
    periods = sim.periods[sim.periods["symbol"] == symbol]
    return pd.Series(np.cumprod(1 + periods["net"].to_numpy()), index=pd.DatetimeIndex(periods["time"]))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)
