"""`barstore backtest`: walk-forward folds, models retrained per fold, strategies compared; torch, Feast, GX and
sklearn load inside the command."""

from __future__ import annotations

import typer

from . import _run, _workspace
from .options import HomeOpt, SymbolsOpt, parse_time


def register(app: typer.Typer) -> None:
    app.command()(backtest)


def backtest(
    symbols: str | None = SymbolsOpt,
    since: str | None = typer.Option(
        None, "--since", help="First decision time of the test span, UTC ISO (default: the later half of the data)."
    ),
    until: str | None = typer.Option(None, "--until", help="Last decision time of the test span, UTC ISO."),
    folds: int = typer.Option(3, "--folds", help="Walk-forward test folds (equal numbers of decision times)."),
    epochs: int | None = typer.Option(2, "--epochs", help="Most epochs per model and fold."),
    max_samples: int = typer.Option(
        3000, "--max-samples", help="Training samples per model and fold, spread evenly over its history."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of training and of the bootstrap: same seed = same report."),
    hold_days: int = typer.Option(
        1, "--hold-days", help="Trading days a sizing decision holds (0: until the next decision changes it)."
    ),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    out: str | None = typer.Option(None, "--out", help="Output folder (default <home>/reports/backtest)."),
    home: str | None = HomeOpt,
):
    """Walk-forward backtest: per fold, retrain the five models (through the validation gate) on data before the
    fold, decide every hourly close in it, and compare the 3- and 4-model ensembles (with and without the trend
    filter), a logistic baseline, buy-and-hold and flat, after costs. Writes report.md, results.json, decisions,
    predictions and equity curves."""

    def body():
        from backtest.run import BacktestSettings, run_backtest

        names = tuple(s.strip() for s in symbols.split(",") if s.strip()) if symbols else None
        settings = BacktestSettings(
            folds=folds,
            epochs=epochs,
            max_samples=max_samples,
            seed=seed,
            symbols=names or None,
            since=parse_time(since, "--since"),
            until=parse_time(until, "--until"),
            hold_days=hold_days,
            device=device,
        )
        run_backtest(_workspace(home), settings, out=out)

    _run(body)
