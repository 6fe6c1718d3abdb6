"""The walk-forward-by-period report (backtest.by_period): results.json, predictions.parquet, report.md and
accuracy_by_period.png."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from training.metrics import format_figure

from .by_period import CLAIM, RULES, evaluate, verdict
from .markdown import jsonable, made_by, table, when

RULE_LABELS = {
    "model": "the model (P(up) > 0.5)",
    "always_up": "always up",
    "majority": "training majority",
    "momentum": "momentum (sign of the last known horizon return)",
}


def write_outputs(out: Path, results: dict, calls: pd.DataFrame, settings) -> dict:
    results = results | evaluate(calls, settings.groups)
    results = jsonable(results)
    calls.to_parquet(out / "predictions.parquet", index=False)
    (out / "results.json").write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")
    plot = accuracy_plot(results, out / "accuracy_by_period.png")
    results["plot"] = plot.name if plot else None
    (out / "report.md").write_text(render(results), encoding="utf-8")
    return results


def render(results: dict) -> str:
    s = results["settings"]
    parts = [
        f"# {s['model']}: direction calls, walk-forward by year\n",
        _summary(results),
        _claim_table(results),
        _rule_table("Pooled over every tested year", results["pooled"]),
        *(_rule_table(f"{name}", figures) for name, figures in results["by_group"].items()),
        _period_table(results),
        _symbol_table(results),
        _fold_table(results),
        _notes(results),
    ]
    if results.get("plot"):
        parts.append(f"![accuracy by year]({results['plot']})\n")
    return "\n".join(p for p in parts if p)


def _summary(results: dict) -> str:
    s, pooled = results["settings"], results["pooled"]
    symbols = ", ".join(s["symbols"]) if s["symbols"] else "every symbol"
    every = "" if s["stride"] == 1 else f"{s['stride']}th "
    return (
        f"Years tested: {', '.join(map(str, s['periods']))} (UTC calendar years; a year with no labelled sample is "
        f"left out). For each, the model was retrained through the validation gate on samples whose labels are known "
        f"before January 1 (an embargo of at least the horizon), at most {s['max_samples']} samples spread over all "
        f"the history before, {s['epochs']} epoch(s), seed {s['seed']}, and called every "
        f"{every}step of the year. Symbols: {symbols}. "
        f"{pooled['samples']:,} calls on {pooled['symbols']} symbols, which rest on {pooled['periods']} independent "
        f"label periods (every symbol's calls inside one horizon form one block of the bootstrap: the instruments "
        f"move together). Run time {results['seconds']} s.{made_by(results)}\n"
    )


def _claim_table(results: dict) -> str:
    pooled = results["pooled"]
    rows = [
        [
            f"accuracy > {CLAIM:.0%}",
            format_figure(pooled["model"]["accuracy"]),
            verdict(pooled["model"]["accuracy"]),
        ],
        [
            "accuracy > 50% (better than a coin)",
            format_figure(pooled["model"]["accuracy"]),
            verdict(pooled["model"]["accuracy"], 0.5),
        ],
    ]
    for rule in RULES[1:]:
        figure = pooled.get(f"model_minus_{rule}", {})
        rows.append([f"better than {RULE_LABELS[rule]}", format_figure(figure, "signed"), verdict(figure, 0.0)])
    return (
        "## The plan's claim\n\n"
        "The original plan: the long-term model calls the 5-trading-day direction right more than 55% of the time. "
        "Readings from the 95% intervals only: *supported* (the interval lies above), *ruled out* (below), *not "
        "ruled out* (it straddles).\n\n" + table(["claim", "measured [95% interval]", "reading"], rows)
    )


def _rule_table(title: str, figures: dict) -> str:
    rows = [
        [RULE_LABELS[rule], f"{figures[rule]['accuracy']['n']:,}", format_figure(figures[rule]["accuracy"])]
        for rule in RULES
    ]
    rows += [
        [
            f"model minus {RULE_LABELS[rule]}",
            f"{figures[f'model_minus_{rule}']['n']:,}",
            format_figure(figures[f"model_minus_{rule}"], "signed"),
        ]
        for rule in RULES[1:]
        if f"model_minus_{rule}" in figures
    ]
    up, called = (_share(figures.get(k)) for k in ("up_share", "model_up_calls"))
    return (
        f"## {title}\n\n{figures['samples']:,} calls, {figures['symbols']} symbols, {figures['periods']} label "
        f"periods; {up} of the labels were up, the model called up {called} of the time.\n\n"
        + table(["rule", "calls", "accuracy [95% interval]"], rows)
    )


def _share(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.1%}"


def _period_table(results: dict) -> str:
    rows = []
    for period, f in results["by_period"].items():
        rows.append(
            [period, f"{f['samples']:,}", str(f["symbols"]), str(f["periods"]), _share(f.get("model_up_calls"))]
            + [format_figure(f[rule]["accuracy"]) for rule in RULES]
        )
    header = [
        "year",
        "calls",
        "symbols",
        "periods",
        "model's up calls",
        *(RULE_LABELS[r].split(" (")[0] for r in RULES),
    ]
    return "## By year\n\n" + table(header, rows)


def _symbol_table(results: dict) -> str:
    rows = [
        [symbol, f"{f['samples']:,}", str(f["periods"])] + [format_figure(f[rule]["accuracy"]) for rule in RULES]
        for symbol, f in results["by_symbol"].items()
    ]
    header = ["symbol", "calls", "periods", *(RULE_LABELS[r].split(" (")[0] for r in RULES)]
    return "## By symbol (all tested years)\n\n" + table(header, rows)


def _fold_table(results: dict) -> str:
    rows = []
    for f in results["folds"]:
        if f.get("reason"):
            rows.append([str(f["period"]), when(f["until"]), "not tested", "", "", "", f["reason"]])
            continue
        n = f["samples"]
        rows.append(
            [
                str(f["period"]),
                when(f["until"]),
                f"{n['train']:,}",
                f"{n['validation']:,}",
                f"{n['test']:,}",
                f"{f.get('test_samples', 0):,}",
                f"{f['train_seconds']} s; majority {f['majority_class']}",
            ]
        )
    header = ["year", "trained until", "train", "validation", "gate's test split", "calls in the year", "notes"]
    return "## Training per year\n\n" + table(header, rows)


def _notes(results: dict) -> str:
    pooled = results["pooled"]["model"]["accuracy"]
    lines = ["## What the sample can and cannot show\n"]
    if pooled.get("low") is not None:
        half = (pooled["high"] - pooled["low"]) / 2
        lines.append(
            f"- The pooled accuracy interval is ±{100 * half:.1f} points wide, from {pooled['periods']} label "
            f"periods. A block bootstrap's width shrinks with the square root of the independent periods, not of the "
            f"{pooled['n']:,} calls: halving it needs about four times the periods (years of data), not more symbols "
            f"that move with these."
        )
    lines += [f"- {note}" for note in results.get("notes", [])]  # what the person who ran it recorded
    lines.append(
        "- Momentum makes no call before a symbol's first known horizon return; its accuracy is over the calls it "
        "makes, and the paired difference over the calls both make."
    )
    return "\n".join(lines) + "\n"


def accuracy_plot(results: dict, path: Path) -> Path | None:
    """Accuracy per year of the model and the naive rules, with the model's 95% interval, and the plan's 55%."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    years = list(results["by_period"])
    if not years:
        return None
    fig, ax = plt.subplots(figsize=(11, 4.8), dpi=110)
    try:
        shown = [50.0, 100 * CLAIM]
        for k, rule in enumerate(RULES):
            values = [results["by_period"][y][rule]["accuracy"] for y in years]
            xs = [i + (k - 1.5) * 0.12 for i in range(len(years))]
            ys = [100 * (v["value"] or float("nan")) for v in values]
            shown += [y for y in ys if y == y] + [100 * v[k] for v in values for k in ("low", "high") if v.get(k)]
            if rule == "model":
                lows = [100 * (v["value"] - v["low"]) if v.get("low") is not None else 0 for v in values]
                highs = [100 * (v["high"] - v["value"]) if v.get("high") is not None else 0 for v in values]
                ax.errorbar(xs, ys, yerr=[lows, highs], fmt="o", capsize=4, label=RULE_LABELS[rule])
            else:
                ax.plot(xs, ys, "s", markersize=5, label=RULE_LABELS[rule])
        ax.axhline(100 * CLAIM, color="red", linestyle="--", linewidth=0.8, label="the plan's 55%")
        ax.axhline(50, color="black", linewidth=0.6)
        ax.set_xticks(range(len(years)), years)
        ax.set_ylabel("direction accuracy (%)")
        ax.set_title(f"{results['settings']['model']}: accuracy by test year (95% block-bootstrap interval)")
        ax.set_ylim(min(shown) - 2, max(shown) + 2)
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
        fig.tight_layout()
        fig.savefig(path)
    finally:
        plt.close(fig)
    return path
