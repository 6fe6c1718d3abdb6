"""The backtest's numbers, from the decision frame alone (so a saved decisions.parquet gives them again):

- per strategy, the instruments it is available on (every model it rests on predicted there at least once, and
  its score, for a baseline, exists); positions and costs by backtest.positions.simulate on those instruments,
  metrics by backtest.metrics per instrument (annualized by the instrument's calendar) and pooled (`summarize`:
  capital split equally over the instruments; annualized by the union of their decision times, on a 7-day week
  when one of them trades 24/7);
- per trade, the mean profit and win rate with intervals from a block bootstrap over clusters of trades held at
  the same time;
- paired stationary-bootstrap intervals (backtest.bootstrap) on the pooled per-period returns of the
  instruments both strategies share, for every strategy against its `versus` (4-model minus 3-model, each trend
  filter's effect, the embedding's effect on LightGBM): average profit per period, Sharpe, max drawdown. Per
  period, not per trade: two strategies' trades are not the same trades, so only their periods pair.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .positions import MISSING
from .strategies import STRATEGIES

if TYPE_CHECKING:
    from .positions import PositionRules, Simulation

COMPARISONS = [(s.name, s.versus) for s in STRATEGIES if s.versus]


def availability(predictions: pd.DataFrame, folds: list[dict]) -> dict[str, dict[str, str | None]]:
    """strategy -> symbol -> None when available there, else why not."""
    trained = {m["model"]: [] for record in folds for m in record["models"]}
    for record in folds:
        for m in record["models"]:
            if m["run"]:
                trained[m["model"]].append(record["fold"])
    out = {}
    for strategy in STRATEGIES:
        out[strategy.name] = {}
        for symbol, rows in predictions.groupby("symbol", sort=True):
            reasons = []
            for model in strategy.requires:
                if rows[f"{model}__p_up"].notna().any():
                    continue
                why = "no window at any decision time" if trained.get(model) else "not trained in any fold"
                reasons.append(f"{model}: {why}")
            if strategy.score and not rows[strategy.score].notna().any():
                reasons.append(f"{strategy.label}: no score (not fit in any fold, or its inputs missing)")
            out[strategy.name][str(symbol)] = "; ".join(reasons) or None
    return out


def pooled_calendar(calendars: list[str]) -> str:
    return "crypto_24x7" if "crypto_24x7" in calendars else (calendars[0] if calendars else "crypto_24x7")


def evaluate(
    decisions: pd.DataFrame,
    rules: PositionRules,
    calendars: dict[str, str],
    available: dict,
    seed: int = 0,
    reps: int = 2000,
) -> tuple[dict, dict[str, Simulation]]:
    """({"strategies": per strategy, "intervals": per comparison}, each strategy's simulation for the curves)."""
    from .metrics import periods_per_year, strategy_metrics, summarize
    from .positions import simulate

    strategies, simulations = {}, {}
    for strategy in STRATEGIES:
        ok = [s for s, why in available[strategy.name].items() if why is None]
        mine = decisions[(decisions["strategy"] == strategy.name) & decisions["symbol"].isin(ok)]
        entry = {
            "label": strategy.label,
            "requires": list(strategy.requires),
            "instruments": {},
            "not_available": {s: why for s, why in available[strategy.name].items() if why},
            "pooled": None,
            # decisions it could not make (a model's prediction or score missing there): it opened nothing
            "missing_steps": int((mine["action"] == MISSING).sum()),
            "steps": len(mine),
        }
        if len(mine):
            sim = simulate(mine, rules)
            simulations[strategy.name] = sim
            for symbol in ok:
                periods = sim.periods[sim.periods["symbol"] == symbol]
                trades = sim.trades[sim.trades["symbol"] == symbol]
                ppy = periods_per_year(periods["time"], calendars[symbol])
                entry["instruments"][symbol] = strategy_metrics(
                    periods["net"], periods["position"], trades["net"], ppy
                ).to_dict()
            entry["pooled"] = summarize(sim, pooled_ppy(sim.periods["time"], ok, calendars)).to_dict()
            entry["trades"] = trade_intervals(sim.trades)
        strategies[strategy.name] = entry
    intervals = _intervals(decisions, rules, calendars, available, seed, reps)
    return {"strategies": strategies, "intervals": intervals}, simulations


def pooled_ppy(times, symbols, calendars: dict[str, str]) -> float:
    """Periods per year of the pooled returns: their distinct times on the instruments' pooled calendar."""
    from .metrics import periods_per_year

    return periods_per_year(np.unique(times), pooled_calendar([calendars[s] for s in sorted(set(symbols))]))


def trade_intervals(trades: pd.DataFrame) -> dict | None:
    """Mean net profit per trade (%) and win rate, each with a 95% interval from a block bootstrap over clusters
    of trades held at the same time (trades on co-moving instruments that overlap are one bet:
    training.dependence.overlap_clusters); no interval ("too_few") below MIN_PERIODS clusters."""
    from training.dependence import interval, overlap_clusters

    if trades.empty:
        return None
    net = trades["net"].to_numpy(dtype=float) * 100
    entry = pd.to_datetime(trades["entry_time"], utc=True)
    exit_ = pd.to_datetime(trades["exit_time"], utc=True).fillna(entry)  # open at the end: its entry is its span
    clusters = overlap_clusters(entry.dt.tz_convert(None).to_numpy(), exit_.dt.tz_convert(None).to_numpy())

    def win_rate(x):
        return float((x > 0).mean())

    return {
        "mean_pct": {"value": float(net.mean()), "n": len(net)} | interval(np.mean, (net,), clusters),
        "win_rate": {"value": win_rate(net), "n": len(net)} | interval(win_rate, (net,), clusters),
    }


def _intervals(decisions, rules, calendars, available, seed: int, reps: int) -> dict:
    """Paired intervals (module docstring) on the instruments both strategies of a pair are available on."""
    from .bootstrap import mean_difference, paired_difference, sharpe_difference
    from .metrics import max_drawdown
    from .positions import simulate

    out = {}
    for a, b in COMPARISONS:
        shared = sorted(s for s in available[a] if available[a][s] is None and available[b].get(s) is None)
        key = f"{a}_minus_{b}"
        if not shared:
            out[key] = {"reason": f"no instrument where both {a} and {b} are available"}
            continue
        series = {}
        for name in (a, b):
            mine = decisions[(decisions["strategy"] == name) & decisions["symbol"].isin(shared)]
            series[name] = simulate(mine, rules).portfolio_returns()
        times = series[a].index.union(series[b].index)
        # only the periods both could decide: a strategy whose model is not trained yet (the long-term model needs
        # a year of history) is flat there by rule, which says nothing about the model or filter it adds
        pair = decisions[decisions["strategy"].isin((a, b)) & decisions["symbol"].isin(shared)]
        blind = pd.DatetimeIndex(pair.loc[pair["action"] == MISSING, "time"].unique())
        excluded = int(times.isin(blind).sum())
        times = times[~times.isin(blind)]
        ra, rb = (series[n].reindex(times, fill_value=0.0).to_numpy() for n in (a, b))
        if len(times) < 3:
            out[key] = {"reason": f"{len(times)} periods: too few for a bootstrap"}
            continue
        ppy = pooled_ppy(times, shared, calendars)
        options = {"seed": seed, "reps": reps}
        out[key] = {
            "instruments": shared,
            "periods": len(times),
            "excluded_periods": excluded,
            "mean_per_period": asdict(mean_difference(ra, rb, **options)),
            "sharpe": asdict(sharpe_difference(ra, rb, ppy, **options)),
            "max_drawdown": asdict(paired_difference(ra, rb, max_drawdown, **options)),
        }
    return out
