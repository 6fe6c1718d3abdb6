"""The backtest's numbers and their report: decisions -> positions -> metrics and intervals -> results.json,
report.md, equity curves.

Everything here reads the decision frame, so a saved decisions.parquet gives the same numbers again:
- per strategy, the instruments it is available on (every model it rests on predicted there at least once);
  positions and costs by backtest.positions.simulate on those instruments, metrics by backtest.metrics per
  instrument (annualized by the instrument's calendar) and pooled (`summarize`: capital split equally over the
  instruments; annualized by the union of their decision times, on a 7-day week when one of them trades 24/7);
- paired stationary-bootstrap intervals (backtest.bootstrap) on the pooled per-period returns of the
  instruments both strategies share: 4-model minus 3-model (average profit per period, Sharpe, max drawdown),
  and each trend filter's effect (filtered minus unfiltered, per mode and score). Per period, not per trade:
  two strategies' trades are not the same trades, so only their periods pair;
- the plan's figures beside the measured ones, each with the interval that says whether the data can tell.
The markdown is rendered from the results dict alone, so the report and results.json never disagree.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .decisions import BASELINE, BASELINE_P_UP, STRATEGIES
from .positions import MISSING

if TYPE_CHECKING:
    from .folds import Fold
    from .positions import PositionRules, Simulation
    from .run import BacktestSettings

POOLED = "all"
METRIC_COLUMNS = {  # metric -> column header, in table order
    "trades": "trades",
    "win_rate": "win rate",
    "avg_trade_pct": "avg profit / trade",
    "total_return_pct": "total return",
    "sharpe": "Sharpe",
    "max_drawdown_pct": "max drawdown",
    "exposure": "exposure",
    "profit_factor": "profit factor",
}
PLAN = {  # the original plan's figures (README, "Claims the backtest tests")
    "three_model": {"avg_trade_pct": (1.75, 2.00), "win_rate": (0.65, 0.70)},
    "four_model": {"avg_trade_pct": (2.00, 2.50), "win_rate": (0.68, 0.73)},
    "longterm_accuracy": 0.55,
}
Z95 = 1.959963984540054


def format_metric(name: str, value) -> str:
    """How a metric reads in report.md (None: n/a)."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if name == "trades":
        return f"{int(value):,}"
    if name in ("win_rate", "exposure"):
        return f"{100 * value:.1f}%"
    if name == "avg_trade_pct":
        return f"{value:+.3f}%"
    if name in ("total_return_pct",):
        return f"{value:+.2f}%"
    if name == "max_drawdown_pct":
        return f"{value:.2f}%"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    return f"{value:.2f}"


# --- numbers --------------------------------------------------------------------------------------------------


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
            if strategy.name == BASELINE and not rows[BASELINE_P_UP].notna().any():
                reasons.append("baseline: no prediction (not fit in any fold, or features missing)")
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


COMPARISONS = [("four_model", "three_model")] + [
    (f"{mode}_{score}", mode) for mode in ("three_model", "four_model") for score in ("embedding_sum", "direction_prob")
]


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
        ra, rb = (series[n].reindex(times, fill_value=0.0).to_numpy() for n in (a, b))
        if len(times) < 3:
            out[key] = {"reason": f"{len(times)} periods: too few for a bootstrap"}
            continue
        ppy = pooled_ppy(times, shared, calendars)
        options = {"seed": seed, "reps": reps}
        out[key] = {
            "instruments": shared,
            "periods": len(times),
            "mean_per_period": asdict(mean_difference(ra, rb, **options)),
            "sharpe": asdict(sharpe_difference(ra, rb, ppy, **options)),
            "max_drawdown": asdict(paired_difference(ra, rb, max_drawdown, **options)),
        }
    return out


# --- writing --------------------------------------------------------------------------------------------------


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
            STRATEGY_LABELS[name]: _curve(sim, symbol)
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


STRATEGY_LABELS = {s.name: s.label for s in STRATEGIES}


def _curve(sim: Simulation, symbol: str) -> pd.Series:
    periods = sim.periods[sim.periods["symbol"] == symbol]
    return pd.Series(np.cumprod(1 + periods["net"].to_numpy()), index=pd.DatetimeIndex(periods["time"]))


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", name)


def jsonable(value):
    """Plain JSON types: numpy scalars as Python numbers, NaN as None, times as ISO strings (inf kept)."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp | np.datetime64):
        return None if pd.isna(value) else pd.Timestamp(value).isoformat()
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, Path):
        return str(value)
    return value


# --- the markdown ---------------------------------------------------------------------------------------------


def render(results: dict) -> str:
    """report.md from results.json's content."""
    parts = [
        "# Walk-forward backtest\n",
        _summary(results),
        _strategy_table(results),
        _plan_table(results),
        _interval_table(results),
        _model_table(results),
        _fold_table(results),
        _settings(results),
        _sample_notes(results),
        _plots(results),
    ]
    return "\n".join(p for p in parts if p)


def _summary(results: dict) -> str:
    s, folds = results["settings"], results["folds"]
    symbols = ", ".join(results["calendars"]) or "none"
    first, last = _when(folds[0]["start"]), _when(folds[-1]["last_decision"])
    return (
        f"{len(folds)} walk-forward fold(s), decisions from {first} to {last} UTC, instruments: {symbols}. "
        f"Every model is retrained for each fold through the validation gate on data whose labels are known before "
        f"the fold starts (an embargo of at least its horizon), at most {s['max_samples']} samples, "
        f"{s['epochs']} epoch(s), seed {s['seed']}; decisions at every complete hourly close, from the fold's "
        f"checkpoints on the offline windows. Costs and position rules below; run time {results['seconds']} s.\n"
    )


def _when(iso: str | None) -> str:
    """An ISO time as 'YYYY-MM-DD HH:MM[:SS]' UTC."""
    if not iso:
        return "n/a"
    stamp = pd.Timestamp(iso).tz_convert("UTC") if pd.Timestamp(iso).tzinfo else pd.Timestamp(iso)
    return stamp.strftime("%Y-%m-%d %H:%M:%S" if stamp.second or stamp.microsecond else "%Y-%m-%d %H:%M")


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(cells) + " |"


def _table(header: list[str], rows: list[list[str]], align: str | None = None) -> str:
    rule = align or "|" + "|".join("---" for _ in header) + "|"
    return "\n".join([_row(header), rule, *(_row(r) for r in rows)]) + "\n"


def strategy_rows(results: dict) -> list[list[str]]:
    """The rows of the strategy table: per strategy, the pooled row ('all') then each instrument."""
    rows = []
    for entry in results["strategies"].values():
        label = entry["label"]
        if entry["pooled"] is not None:
            rows.append([label, POOLED, *(format_metric(m, entry["pooled"][m]) for m in METRIC_COLUMNS)])
        for symbol, metrics in entry["instruments"].items():
            rows.append([label, symbol, *(format_metric(m, metrics[m]) for m in METRIC_COLUMNS)])
        for symbol in entry["not_available"]:
            rows.append([label, symbol, *(["not available"] + [""] * (len(METRIC_COLUMNS) - 1))])
    return rows


def _strategy_table(results: dict) -> str:
    header = ["strategy", "instrument", *METRIC_COLUMNS.values()]
    notes = [
        f"- {results['strategies'][n]['label']} on {s}: {why}"
        for n, e in results["strategies"].items()
        for s, why in e["not_available"].items()
    ]
    text = (
        "## Strategies\n\nAfter costs. `all`: capital split equally over the instruments the strategy is available "
        "on. Average profit per trade and win rate are over closed trades; Sharpe is annualized by the calendar "
        "(risk-free 0); exposure is the share of decision periods with a position.\n\n"
        + _table(header, strategy_rows(results), "|---|---|" + "---:|" * len(METRIC_COLUMNS))
    )
    blind = [
        f"- {e['label']}: {e['missing_steps']:,} of {e['steps']:,}"
        for e in results["strategies"].values()
        if e.get("missing_steps")
    ]
    if blind:
        text += (
            "\nDecision steps without one of the strategy's models (its window missing, invalid or older than "
            "`[serving] max_staleness`, or no trend score): it opened nothing there and the position held followed "
            f'`[backtest] missing = "{results["position_rules"].get("missing", "flat")}"`:\n\n'
            + "\n".join(blind)
            + "\n"
        )
    if notes:
        text += (
            "\nNot available (the strategy's models never had a window or a checkpoint there):\n\n"
            + "\n".join(notes)
            + "\n"
        )
    return text


def _range_verdict(figure: dict | None, low: float, high: float) -> str:
    """The plan's claimed range against a figure's interval (training.dependence): ruled out only when the
    interval lies wholly outside it, supported only when wholly inside."""
    if not figure:
        return "no data"
    if figure.get("low") is None:
        return f"cannot tell: too few independent periods ({figure.get('periods', 0)})"
    lo, hi = figure["low"], figure["high"]
    if hi < low:
        return "ruled out (below the plan's range)"
    if lo > high:
        return "ruled out (above the plan's range)"
    if low <= lo and hi <= high:
        return "supported (the interval lies inside the plan's range)"
    return "not ruled out (the interval overlaps the plan's range)"


def _sign_verdict(interval: dict | None, better: str, worse: str) -> str:
    if interval is None:
        return "no data"
    if interval["low"] > 0:
        return better
    if interval["high"] < 0:
        return worse
    return "no difference shown (the interval includes 0)"


def _plan_table(results: dict) -> str:

    rows = []
    for name, word in (("three_model", "3-model"), ("four_model", "4-model")):
        entry = results["strategies"][name]
        pooled, plan = entry["pooled"], PLAN[name]
        if pooled is None:
            rows.append([f"{word} ensemble", "see plan", "not available on any instrument", "", ""])
            continue
        trades = entry.get("trades") or {}
        mean, win = trades.get("mean_pct"), trades.get("win_rate")
        lo, hi = plan["avg_trade_pct"]
        rows.append(
            [
                f"{word}: average profit per trade",
                f"+{lo:.2f}% to +{hi:.2f}%",
                format_metric("avg_trade_pct", pooled["avg_trade_pct"]),
                _figure_range(mean, lambda x: f"{x:+.3f}%"),
                _range_verdict(mean, lo, hi),
            ]
        )
        lo, hi = plan["win_rate"]
        rows.append(
            [
                f"{word}: win rate",
                f"{100 * lo:.0f}% to {100 * hi:.0f}%",
                format_metric("win_rate", pooled["win_rate"]),
                _figure_range(win, lambda x: f"{100 * x:.1f}%"),
                _range_verdict(win, lo, hi),
            ]
        )
    diff = results["intervals"].get("four_model_minus_three_model", {})
    if "sharpe" in diff:
        sharpe, dd = diff["sharpe"], diff["max_drawdown"]
        rows.append(
            [
                "4-model Sharpe minus 3-model",
                "higher",
                f"{sharpe['estimate']:+.2f}",
                f"[{sharpe['low']:+.2f}, {sharpe['high']:+.2f}]",
                _sign_verdict(sharpe, "higher (interval excludes 0)", "lower (interval excludes 0)"),
            ]
        )
        rows.append(
            [
                "4-model max drawdown minus 3-model",
                "lower",
                f"{100 * dd['estimate']:+.2f} pp",
                f"[{100 * dd['low']:+.2f}, {100 * dd['high']:+.2f}] pp",
                _sign_verdict(dd, "higher (interval excludes 0)", "lower (interval excludes 0)"),
            ]
        )
    else:
        rows.append(["4-model vs 3-model Sharpe and drawdown", "higher / lower", diff.get("reason", "n/a"), "", ""])
    trend = results["models"].get("longterm_multitf", {}).get("pooled")
    if trend and trend["value"] is not None:
        claim = PLAN["longterm_accuracy"]
        if trend.get("low") is None:
            verdict = f"cannot tell: too few independent periods ({trend.get('periods', 0)})"
        else:
            verdict = (
                "supported (the interval lies above 55%)"
                if trend["low"] > claim
                else "ruled out (the interval lies at or below 55%)"
                if trend["high"] <= claim
                else "not ruled out (the interval includes 55%)"
            )
        rows.append(
            [
                "long-term model: 5-day direction accuracy",
                "> 55%",
                f"{100 * trend['value']:.1f}% (n={trend['n']})",
                _figure_range(trend, lambda x: f"{100 * x:.1f}%", "label periods"),
                verdict,
            ]
        )
    else:
        rows.append(["long-term model: 5-day direction accuracy", "> 55%", "no prediction in the test folds", "", ""])
    return (
        "## The plan's figures beside the measured ones\n\nPooled over the instruments each strategy is available "
        "on. Intervals: average profit per trade, normal approximation over trades (indicative: trades overlap in "
        "time); win rate and accuracy, Wilson; Sharpe and drawdown differences, paired stationary bootstrap of the "
        "per-period returns.\n\n" + _table(["claim", "plan", "measured", "95% interval", "reading"], rows)
    )


def _figure_range(figure: dict | None, fmt, unit: str = "trade clusters") -> str:
    """A figure's interval and the independent periods it rests on; "too few" when it has none."""
    if not figure:
        return "n/a"
    if figure.get("low") is None:
        return f"too few ({figure.get('periods', 0)} {unit})"
    return f"[{fmt(figure['low'])}, {fmt(figure['high'])}] over {figure['periods']} {unit}"


def _interval_table(results: dict) -> str:
    rows = []
    for key, entry in results["intervals"].items():
        a, _, b = key.partition("_minus_")
        name = f"{STRATEGY_LABELS[a]} minus {STRATEGY_LABELS[b]}"
        if "reason" in entry:
            rows.append([name, "", entry["reason"], "", "", ""])
            continue
        mean, sharpe = entry["mean_per_period"], entry["sharpe"]
        rows.append(
            [
                name,
                "profit per period (bps)",
                f"{1e4 * mean['estimate']:+.2f}",
                f"[{1e4 * mean['low']:+.2f}, {1e4 * mean['high']:+.2f}]",
                f"{mean['block_length']:.1f}",
                _sign_verdict(mean, "better", "worse"),
            ]
        )
        rows.append(
            [
                name,
                "Sharpe",
                f"{sharpe['estimate']:+.2f}",
                f"[{sharpe['low']:+.2f}, {sharpe['high']:+.2f}]",
                f"{sharpe['block_length']:.1f}",
                _sign_verdict(sharpe, "better", "worse"),
            ]
        )
    return (
        "## Differences with 95% intervals\n\nPaired stationary bootstrap (backtest/bootstrap.py) of the pooled "
        "per-period net returns, on the instruments both strategies are available on; a filter's effect is the "
        "filtered strategy minus the same strategy unfiltered.\n\n"
        + _table(["comparison", "metric", "estimate", "95% interval", "mean block", "reading"], rows)
    )


def _model_table(results: dict) -> str:
    rows = []
    for name, entry in results["models"].items():
        acc = entry["pooled"]
        if acc["value"] is None:
            rows.append([name, "0", "n/a", "n/a", "", "n/a"])
            continue
        majority = entry["pooled_majority_accuracy"]
        iid = f"[{100 * acc['iid_low']:.1f}%, {100 * acc['iid_high']:.1f}%]" if acc.get("iid_low") is not None else ""
        rows.append(
            [
                name,
                f"{acc['n']:,}",
                f"{100 * acc['value']:.1f}%",
                _figure_range(acc, lambda x: f"{100 * x:.1f}%", "label periods"),
                iid,
                "n/a" if majority is None else f"{100 * majority:.1f}%",
            ]
        )
    return (
        "## Models on the test folds\n\nDirection accuracy of P(up) > 0.5 against the realized label over each "
        "model's own horizon, on the distinct steps its predictions came from (a daily step serving many hourly "
        "decisions counts once), against always predicting the training majority. The interval resamples whole "
        "label periods (steps whose labels overlap in time, on every instrument, are one period); the iid Wilson "
        "interval beside it counts every step as independent and is shown only for how much narrower it is.\n\n"
        + _table(["model", "steps", "accuracy", "95% interval", "iid (Wilson, not for conclusions)", "majority"], rows)
    )


def _fold_table(results: dict) -> str:
    rows, sizes = [], []
    for record in results["folds"]:
        rows.append(
            [
                str(record["fold"]),
                _when(record["start"]),
                _when(record["last_decision"]),
                f"{record['decision_times']:,}",
            ]
        )
        for m in record["models"]:
            if m["run"]:
                n = m["samples"]
                sizes.append(
                    [
                        str(record["fold"]),
                        m["model"],
                        _when(m["until"]),
                        f"{n['train']:,}",
                        f"{n['validation']:,}",
                        f"{n['test']:,}",
                        f"{n['purged']:,}",
                        f"{m['seconds']:.0f} s",
                    ]
                )
            else:
                sizes.append(
                    [str(record["fold"]), m["model"], _when(m["until"]), "not trained", "", "", "", m["reason"]]
                )
        base = record["baseline"]
        sizes.append(
            [
                str(record["fold"]),
                "logistic baseline",
                _when(base["until"]),
                f"{base['samples']:,}" if "samples" in base else "not fit",
                "",
                "",
                "",
                base.get("reason", ""),
            ]
        )
    return (
        "## Folds\n\nUTC times.\n\n"
        + _table(["fold", "first decision", "last decision", "decision times"], rows)
        + "\n### Training data per fold\n\n`until`: the last decision time a model trained on (labels known before "
        "the fold starts). Splits inside the training data are the gate's purged walk-forward splits.\n\n"
        + _table(["fold", "model", "until", "train", "validation", "test", "purged", "time / reason"], sizes)
    )


def _settings(results: dict) -> str:
    s, rules, ens = results["settings"], results["position_rules"], results["ensemble_settings"]
    futures = ", ".join(
        f"{sym}: {c['ticks']:g} tick(s) x {c['tick_size']:g} x {c['multiplier']:g} + {c['commission']:g} per contract"
        for sym, c in rules["futures"].items()
    )
    sizes = ", ".join(f"{a} {v:+g}" for a, v in rules["sizes"].items())
    hold = f"{s['hold_days']} trading day(s)" if s["hold_days"] else "until the next decision"
    lines = [
        f"- folds {s['folds']}, epochs {s['epochs']}, max samples {s['max_samples']}, seed {s['seed']}, "
        f"device {s['device']}, models {', '.join(s['models'])}",
        f"- symbols: {', '.join(s['symbols']) if s['symbols'] else 'all'}; test span --since {s['since'] or 'default'}"
        f" --until {s['until'] or 'default'}",
        f"- costs per side: futures {futures}; everything else {rules['cost_bps']:g} bps",
        f"- position rules: sizes {sizes}; WAIT {rules['wait']}s the position; REDUCE x{rules['reduce_factor']:g}; "
        f"a sizing decision holds {hold} unless a later decision changes it",
        "- ensemble: " + ", ".join(f"{k} {v}" for k, v in ens.items() if k not in ("mode", "trend_filter")),
        f"- bootstrap: {s['bootstrap_reps']} resamples, seed {s['seed']}",
    ]
    return "## Settings\n\n" + "\n".join(lines) + "\n"


def _sample_notes(results: dict) -> str:
    """What the sample sizes can and cannot show, from the numbers themselves."""
    folds = results["folds"]
    days = (pd.Timestamp(folds[-1]["last_decision"]) - pd.Timestamp(folds[0]["start"])).total_seconds() / 86400
    years = max(days / 365.25, 1e-9)
    lines = [
        f"- The test span is {days:.1f} days. A Sharpe ratio measured over {years:.2f} years has a standard "
        f"error of about {math.sqrt(1 / years):.1f} even for a true Sharpe of 0 (Lo 2002: sqrt((1 + SR^2/2) / "
        "years)), so Sharpe differences smaller than that are noise here."
    ]
    for name in ("three_model", "four_model"):
        pooled = results["strategies"][name]["pooled"]
        if pooled is None:
            lines.append(
                f"- {STRATEGY_LABELS[name]}: not available on any instrument, so none of its claims can be "
                "tested on this data (its models never had windows: too little history)."
            )
            continue
        n = pooled["trades"]
        half = Z95 * math.sqrt(0.25 / n) * 100 if n else float("nan")
        lines.append(
            f"- {STRATEGY_LABELS[name]}: {n} trade(s); a win rate's 95% interval is about +/-{half:.1f} points "
            f"wide at this count, against the plan's 5-point band; telling 67.5% from 50% needs ~{_needed(0.175)}"
            " independent trades, placing it inside the band (+/-2.5 points) ~"
            f"{_needed(0.025)}."
        )
    lines.append(
        "- Trades and periods overlap (positions are held across hourly decisions) and all instruments "
        "share one market period, so the effective sample is smaller than the counts: the bootstrap keeps "
        "the serial dependence, the trade intervals do not. One test span is one market regime; nothing "
        "here shows how the strategies fare in another, nor at sizes where costs stop being linear."
    )
    return "## What the sample sizes can and cannot show\n\n" + "\n".join(lines) + "\n"


def _needed(half_width: float, p: float = 0.675) -> str:
    return f"{math.ceil(Z95**2 * p * (1 - p) / half_width**2):,}"


def _plots(results: dict) -> str:
    lines = [f"- {symbol}: ![{symbol}]({name})" for symbol, name in results["plots"].items()]
    return (
        "## Equity curves\n\nOne PNG per instrument, one line per available strategy; dotted lines mark fold "
        "starts.\n\n" + "\n".join(lines) + "\n"
    )
