"""`barstore predict` and `barstore serve`; torch, Feast and FastAPI load inside the commands."""

from __future__ import annotations

from enum import Enum

import typer

from . import Online, OnlineOpt, _run, _workspace
from .options import HomeOpt


# The CLI's own copies of inference.ensemble's Mode and TrendFilter: importing that module pulls in pandas,
# which `barstore --help` must not pay for; tests/test_serve.py keeps the values equal.
class ModeChoice(str, Enum):
    three_model = "three_model"
    four_model = "four_model"


class TrendFilterChoice(str, Enum):
    none = "none"
    embedding_sum = "embedding_sum"
    direction_prob = "direction_prob"


RunOpt = typer.Option(None, "--run", help="MODEL=RUN_ID: use this run of MODEL instead of its newest (repeatable).")
ModeOpt = typer.Option(None, "--mode", help="Ensemble mode (default: \\[ensemble] mode of barstore_project.toml).")
TrendFilterOpt = typer.Option(
    None, "--trend-filter", help="Long-term trend filter (default: \\[ensemble] trend_filter)."
)
StalenessOpt = typer.Option(
    None,
    "--max-staleness",
    help="DURATION for every model or MODEL=DURATION (repeatable), e.g. 2d or seq500_hourly=3h; "
    "default: \\[serving] max_staleness.",
)


def register(app: typer.Typer) -> None:
    app.command()(predict)
    app.command()(serve)


def predict(
    symbols: list[str] = typer.Argument(..., help="Symbols, e.g. BTCUSDT ETHUSDT."),
    json_out: bool = typer.Option(False, "--json", help="Print the JSON that POST /predict returns."),
    run: list[str] | None = RunOpt,
    mode: ModeChoice | None = ModeOpt,
    trend_filter: TrendFilterChoice | None = TrendFilterOpt,
    as_of: str | None = typer.Option(
        None, "--as-of", help="The time windows must be current at, UTC ISO (default: now; for historical data)."
    ),
    max_staleness: list[str] | None = StalenessOpt,
    online: Online = OnlineOpt,
    home: str | None = HomeOpt,
):
    """Predict SYMBOLS from their online windows with each model's newest run, and print the ensemble decision.

    Refuses (non-zero exit) a stale window (at --as-of), a missing run or window, and an unknown symbol."""

    def body():
        import json

        from inference.ensemble import EnsembleSettings
        from inference.predict import ensemble_for, models_in_use, open_predictor
        from inference.runs import parse_run_refs
        from inference.serving_settings import ServingSettings

        ws = _workspace(home)
        pinned = parse_run_refs(run)
        ensemble = ensemble_for(
            EnsembleSettings.from_project(ws.project_dir),
            mode.value if mode else None,
            trend_filter.value if trend_filter else None,
        )
        serving = ServingSettings.from_project(ws.project_dir).with_staleness(max_staleness)
        predictor = open_predictor(
            ws, online.value, pinned, models_in_use(ensemble), cache=False, serving=serving, ensemble=ensemble
        )
        report = predictor.predict(symbols, as_of=as_of)
        if json_out:
            print(json.dumps(report.to_dict(), indent=2))
        else:
            print_report(report)

    _run(body)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8000, "--port", help="Port to listen on."),
    run: list[str] | None = RunOpt,
    reload_interval: str | None = typer.Option(
        None,
        "--reload-interval",
        help="How often to look for newer runs, e.g. 5s; 0s: every request (default: \\[serving] reload_interval).",
    ),
    cache: bool = typer.Option(
        True, "--cache/--no-cache", help="Keep each model's result until its window changes (--no-cache: benchmarks)."
    ),
    online: Online = OnlineOpt,
    home: str | None = HomeOpt,
):
    """Serve predictions over HTTP: POST /predict, GET /models, GET /healthz, POST /reload (FastAPI + uvicorn).

    Reads only the online store and the checkpoints: ingest, build and materialize may run meanwhile."""

    def body():
        from dataclasses import replace

        import uvicorn

        from inference.predict import open_predictor
        from inference.runs import parse_run_refs
        from inference.serve import create_app
        from inference.serving_settings import ServingSettings

        from ..times import parse_duration

        ws = _workspace(home)
        serving = ServingSettings.from_project(ws.project_dir)
        if reload_interval is not None:
            serving = replace(serving, reload_interval=parse_duration(reload_interval, "--reload-interval"))
        predictor = open_predictor(ws, online.value, parse_run_refs(run), cache=cache, serving=serving)
        predictor.warm_up()
        app = create_app(predictor)
        print(f"serving {ws.home} on http://{host}:{port} ({len(predictor.runs.loaded)} models loaded)", flush=True)
        uvicorn.run(app, host=host, port=port, log_level="warning")

    _run(body)


def print_report(report) -> None:
    """Each symbol's models (run, window end and age, prediction) and its decision with the reason."""
    import sys

    from rich.console import Console
    from rich.table import Table

    from ..times import format_duration

    # logs and test runners get a width that fits the table instead of rich's 80 columns
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    console.print(f"as of {report.as_of:%Y-%m-%d %H:%M:%S} UTC, {report.ensemble.mode.value}, "
                  f"trend filter {report.ensemble.trend_filter.value}")  # fmt: skip
    for item in report.predictions:
        grid = Table(title=item.symbol, title_justify="left")
        for header in ("model", "run", "window end (UTC)", "age", "return", "P(up)", "other"):
            grid.add_column(header, justify="right" if header in ("age", "return", "P(up)") else "left")
        for name, p in item.models.items():
            other = ""
            if p.recent_predictions is not None:
                other = f"recent level {p.recent_level:+.4%} (mean of {len(p.recent_predictions)})"
            elif name == "seq500_hourly":
                other = f"recent level unknown ({p.context_rows} context rows online)"
            if p.embedding is not None:
                other = f"embedding sum {p.embedding_sum:+.3f}"
            grid.add_row(
                name,
                p.run_id,
                f"{p.window_end:%Y-%m-%d %H:%M}",
                format_duration(p.age),
                "" if p.predicted_return is None else f"{p.predicted_return:+.4%}",
                f"{p.p_up:.3f}",
                other,
            )
        console.print(grid)
        d = item.decision
        confidence = d.confidence.value if d.confidence else "none"
        console.print(f"[bold]{d.action.value.upper()}[/] (confidence {confidence}): {d.reason}", soft_wrap=True)
