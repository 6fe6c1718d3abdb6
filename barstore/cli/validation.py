"""`barstore validate MODEL`: the validation gate that runs before each training run, alone.

Prints the table of failed expectations (examples: symbol, time, value) or, when all pass, of the expectations
passed, the sample counts and the Data Docs page; exits non-zero (ValidationFailed.exit_code) when any fails.
Only typer and the shared options load at start-up: GX, Feast and torch load when the command runs.
"""

from __future__ import annotations

import typer

from .options import HomeOpt, MaxSamplesOpt, SinceOpt, SnapshotOpt, StrideOpt, SymbolsOpt, UntilOpt, selection


def register(app: typer.Typer) -> None:
    @app.command()
    def validate(
        model: str = typer.Argument(
            ..., help="seq300_minute, seq500_minute, seq800_minute, seq500_hourly, longterm_multitf"
        ),
        symbols: str | None = SymbolsOpt,
        since: str | None = SinceOpt,
        until: str | None = UntilOpt,
        stride: int = StrideOpt,
        max_samples: int | None = MaxSamplesOpt,
        snapshot: int | None = SnapshotOpt,
        recheck_bars: bool = typer.Option(
            False, "--recheck-bars", help="Check every raw bar again, also those that passed before unchanged."
        ),
        home: str | None = HomeOpt,
    ):
        """Check MODEL's raw bars, training set, point-in-time alignment, step spacing and splits (GX suites)."""
        from . import _run, _workspace  # here: barstore.cli imports this module while it is being set up

        def body():
            from rich.console import Console

            from expectations.gate import ValidationSettings, validate_model

            from ..specs import model as model_spec
            from ..windows.selection import selected_data

            spec = model_spec(model)  # an unknown name fails before any data loads
            ws = _workspace(home)
            settings = ValidationSettings.for_model(ws, spec)  # and a bad [validation] setting
            with selected_data(ws, spec, selection(symbols, since, until, stride, max_samples, snapshot)) as data:
                report = validate_model(ws, spec, data, settings, recheck_bars=recheck_bars)
            console = Console()
            console.print(report.table())
            console.print(report.counts_line(), highlight=False)
            if report.success:
                console.print(report.summary(), highlight=False, soft_wrap=True)
            report.raise_if_failed()  # _run prints the summary and the Data Docs page, exits non-zero

        _run(body)
