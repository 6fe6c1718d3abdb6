"""report.md of a walk-forward backtest, rendered from results.json's content (backtest.outputs writes both):
the strategies' metrics, the plan's figures beside the measured ones with the readings their intervals allow,
the paired differences, the models' accuracy on the test folds, the folds and their training data, the settings
and what the sample sizes can show."""

from __future__ import annotations

import math

import pandas as pd

from .markdown import made_by
from .markdown import table as _table
from .markdown import when as _when
from .strategies import BY_NAME, LONGTERM_ACCURACY, STRATEGIES

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
        f"checkpoints on the offline windows. Costs and position rules below; run time {results['seconds']} s."
        f"{made_by(results)}\n"
    )


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
    for strategy in (s for s in STRATEGIES if s.plan):
        entry = results["strategies"][strategy.name]
        pooled, plan = entry["pooled"], strategy.plan
        if pooled is None:
            rows.append([f"{strategy.label} ensemble", "see plan", "not available on any instrument", "", ""])
            continue
        trades = entry.get("trades") or {}
        mean, win = trades.get("mean_pct"), trades.get("win_rate")
        lo, hi = plan.avg_trade_pct
        rows.append(
            [
                f"{strategy.label}: average profit per trade",
                f"+{lo:.2f}% to +{hi:.2f}%",
                format_metric("avg_trade_pct", pooled["avg_trade_pct"]),
                _figure_range(mean, lambda x: f"{x:+.3f}%"),
                _range_verdict(mean, lo, hi),
            ]
        )
        lo, hi = plan.win_rate
        rows.append(
            [
                f"{strategy.label}: win rate",
                f"{100 * lo:.0f}% to {100 * hi:.0f}%",
                format_metric("win_rate", pooled["win_rate"]),
                _figure_range(win, lambda x: f"{100 * x:.1f}%"),
                _range_verdict(win, lo, hi),
            ]
        )
        if strategy.versus:
            rows += _versus_rows(results, strategy)
    trend = results["models"].get("longterm_multitf", {}).get("pooled")
    if trend and trend["value"] is not None:
        if trend.get("low") is None:
            verdict = f"cannot tell: too few independent periods ({trend.get('periods', 0)})"
        else:
            verdict = (
                "supported (the interval lies above 55%)"
                if trend["low"] > LONGTERM_ACCURACY
                else "ruled out (the interval lies at or below 55%)"
                if trend["high"] <= LONGTERM_ACCURACY
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
        "on. Intervals: average profit per trade and win rate, block bootstrap over clusters of trades held at the "
        "same time (the number of clusters is what they rest on; none below 20); accuracy, block bootstrap over "
        "label periods; Sharpe and drawdown differences, paired stationary bootstrap of the per-period returns. "
        "Readings: *ruled out* only when the interval lies outside the plan's figure, *supported* only when it lies "
        "inside.\n\n" + _table(["claim", "plan", "measured", "95% interval", "reading"], rows)
    )


def _versus_rows(results: dict, strategy) -> list[list[str]]:
    """The plan's "higher Sharpe, lower drawdown" of a strategy against the one it extends."""
    other = BY_NAME[strategy.versus].label
    diff = results["intervals"].get(f"{strategy.name}_minus_{strategy.versus}", {})
    if "sharpe" not in diff:
        return [
            [f"{strategy.label} vs {other}: Sharpe and drawdown", "higher / lower", diff.get("reason", "n/a"), "", ""]
        ]
    sharpe, dd = diff["sharpe"], diff["max_drawdown"]
    return [
        [
            f"{strategy.label} Sharpe minus {other}",
            "higher",
            f"{sharpe['estimate']:+.2f}",
            f"[{sharpe['low']:+.2f}, {sharpe['high']:+.2f}]",
            _sign_verdict(sharpe, "higher (interval excludes 0)", "lower (interval excludes 0)"),
        ],
        [
            f"{strategy.label} max drawdown minus {other}",
            "lower",
            f"{100 * dd['estimate']:+.2f} pp",
            f"[{100 * dd['low']:+.2f}, {100 * dd['high']:+.2f}] pp",
            _sign_verdict(dd, "higher (interval excludes 0)", "lower (interval excludes 0)"),
        ],
    ]


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
        name = f"{BY_NAME[a].label} minus {BY_NAME[b].label}"
        if "reason" in entry:
            rows.append([name, "", "", "", entry["reason"], "", "", ""])
            continue
        mean, sharpe = entry["mean_per_period"], entry["sharpe"]
        kept = [f"{entry['periods']:,}", f"{entry.get('excluded_periods', 0):,}"]
        rows.append(
            [
                name,
                *kept,
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
                *kept,
                "Sharpe",
                f"{sharpe['estimate']:+.2f}",
                f"[{sharpe['low']:+.2f}, {sharpe['high']:+.2f}]",
                f"{sharpe['block_length']:.1f}",
                _sign_verdict(sharpe, "better", "worse"),
            ]
        )
    return (
        "## Differences with 95% intervals\n\nPaired stationary bootstrap (backtest/bootstrap.py) of the pooled "
        "per-period net returns, on the instruments both strategies are available on and the decision periods both "
        "could decide (periods where either lacked a model's prediction are left out: `periods` counts those kept, "
        "`left out` the others); a filter's effect is the filtered strategy minus the same strategy unfiltered. The "
        "mean block (in periods) says how far apart two periods must be to count as independent: periods / mean "
        "block is roughly the number of independent blocks an interval rests on.\n\n"
        + _table(
            ["comparison", "periods", "left out", "metric", "estimate", "95% interval", "mean block", "reading"], rows
        )
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
        for name, base in record["baselines"].items():
            sizes.append(
                [
                    str(record["fold"]),
                    BY_NAME[name].label,
                    _when(base["until"]),
                    f"{base['samples']:,}" if "samples" in base else "not fit",
                    "",
                    "",
                    "",
                    base.get("reason", base.get("note", "")),
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
    for name in (s.name for s in STRATEGIES if s.plan):
        pooled = results["strategies"][name]["pooled"]
        if pooled is None:
            lines.append(
                f"- {BY_NAME[name].label}: not available on any instrument, so none of its claims can be "
                "tested on this data (its models never had windows: too little history)."
            )
            continue
        n = pooled["trades"]
        half = Z95 * math.sqrt(0.25 / n) * 100 if n else float("nan")
        lines.append(
            f"- {BY_NAME[name].label}: {n} trade(s); a win rate's 95% interval is about +/-{half:.1f} points "
            f"wide at this count, against the plan's 5-point band; telling 67.5% from 50% needs ~{_needed(0.175)}"
            " independent trades, placing it inside the band (+/-2.5 points) ~"
            f"{_needed(0.025)}."
        )
    lines.append(
        "- Trades and periods overlap (positions are held across hourly decisions) and all instruments "
        "share one market period, so the effective sample is smaller than the counts: the bootstraps keep "
        "the serial dependence (periods in blocks, trades held at the same time as one cluster). One test span "
        "is one market regime; nothing here shows how the strategies fare in another, nor at sizes where costs "
        "stop being linear."
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
