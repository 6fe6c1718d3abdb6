"""`barstore backtest`: walk-forward folds, models retrained per fold, strategies compared; torch, Feast, GX and
sklearn load inside the command."""

from __future__ import annotations

import typer

from ..errors import BarstoreError
from . import _run, _workspace
from .options import HomeOpt, SymbolsOpt, parse_time, symbol_list


def command_line() -> str:
    """This invocation as a shell command (`barstore ...`), recorded in the report it writes."""
    import shlex
    import sys

    return shlex.join(["barstore", *sys.argv[1:]])


def register(app: typer.Typer) -> None:
    app.command()(backtest)
    app.command("backtest-model")(backtest_model)


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
    cost_bps: float | None = typer.Option(
        None,
        "--cost-bps",
        help="Cost per side in basis points for non-futures (default: the project's backtest.cost_bps).",
    ),
    min_samples: list[str] = typer.Option(
        [], "--min-samples", help="MODEL=N: the gate's sample minimum for MODEL in every fold (repeatable)."
    ),
    out: str | None = typer.Option(None, "--out", help="Output folder (default <home>/reports/backtest)."),
    home: str | None = HomeOpt,
):
    """Walk-forward backtest: per fold, retrain the five models (through the validation gate) on data before the
    fold, decide every hourly close in it, and compare the 3- and 4-model ensembles (with and without the trend
    filter), a logistic baseline, buy-and-hold and flat, after costs. Writes report.md, results.json, decisions,
    predictions and equity curves."""

    def body():
        from dataclasses import replace

        from backtest.run import BacktestSettings, run_backtest
        from barstore.specs import model as model_spec
        from expectations.settings import ValidationSettings

        ws = _workspace(home)
        gate = {}
        for text in min_samples:
            name, _, number = text.partition("=")
            if not number.strip().isdigit():
                raise BarstoreError(f"--min-samples takes MODEL=N (got {text!r})")
            spec = model_spec(name.strip())
            gate[spec.name] = replace(ValidationSettings.for_model(ws, spec), min_samples=int(number))
        settings = BacktestSettings(
            folds=folds,
            epochs=epochs,
            max_samples=max_samples,
            seed=seed,
            symbols=symbol_list(symbols),
            since=parse_time(since, "--since"),
            until=parse_time(until, "--until"),
            hold_days=hold_days,
            device=device,
            cost_bps=cost_bps,
            gate=gate or None,
        )
        run_backtest(ws, settings, out=out, command=command_line())

    _run(body)


def backtest_model(
    model: str = typer.Argument(..., help="The model whose direction calls are tested."),
    years: str = typer.Option(..., "--years", help="Comma-separated test years, e.g. 2018,2019,2020."),
    symbols: str | None = SymbolsOpt,
    group: list[str] = typer.Option(
        [], "--group", help="NAME=SYM,SYM: also report these symbols on their own (repeatable)."
    ),
    epochs: int | None = typer.Option(2, "--epochs", help="Most epochs per year's training."),
    max_samples: int = typer.Option(3000, "--max-samples", help="Training samples per year, spread over the history."),
    stride: int = typer.Option(1, "--stride", help="Test every N-th step of each symbol."),
    seed: int = typer.Option(0, "--seed", help="Seed of training and of the bootstrap."),
    device: str = typer.Option("auto", "--device", help="auto, cpu or cuda."),
    out: str | None = typer.Option(None, "--out", help="Output folder (default <home>/reports/backtest_<model>)."),
    home: str | None = HomeOpt,
):
    """Walk-forward by year for one model: per test year, retrain it (through the validation gate) on labels known
    before the year, call every step of the year, and compare its direction accuracy with always-up, the training
    majority and momentum, with intervals that count independent label periods. Writes report.md, results.json,
    predictions.parquet and accuracy_by_period.png."""

    def body():
        from pathlib import Path

        from backtest.by_period import ByPeriodSettings, run_by_period
        from backtest.by_period_report import write_outputs
        from barstore.errors import BarstoreError

        try:
            periods = tuple(int(y) for y in years.split(",") if y.strip())
        except ValueError:
            raise BarstoreError(f"--years takes comma-separated years, e.g. 2018,2019 (got {years!r})") from None
        groups = {}
        for text in group:
            name, _, members = text.partition("=")
            if not name.strip() or not symbol_list(members):
                raise BarstoreError(f"--group takes NAME=SYM,SYM (got {text!r})")
            groups[name.strip()] = symbol_list(members)
        settings = ByPeriodSettings(
            model, periods, symbol_list(symbols), epochs, max_samples, stride, seed, device, groups
        )
        ws = _workspace(home)
        target = Path(out) if out else ws.reports_dir / f"backtest_{model}"
        target.mkdir(parents=True, exist_ok=True)
        results, calls = run_by_period(ws, settings, target, command=command_line())
        write_outputs(target, results, calls, settings)
        print(f"report: {target / 'report.md'}")

    _run(body)
