"""`barstore train` and `barstore models`; torch, Feast and the gate load inside the commands."""

from __future__ import annotations

from enum import Enum

import typer

from . import _run, _workspace
from .options import HomeOpt, MaxSamplesOpt, SinceOpt, SnapshotOpt, StrideOpt, SymbolsOpt, UntilOpt, selection


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command()(models)


def train(
    model: str = typer.Argument(
        ..., help="seq300_minute, seq500_minute, seq800_minute, seq500_hourly, longterm_multitf"
    ),
    symbols: str | None = SymbolsOpt,
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    stride: int = StrideOpt,
    max_samples: int | None = MaxSamplesOpt,
    snapshot: int | None = SnapshotOpt,
    epochs: int | None = typer.Option(
        None,
        "--epochs",
        help="Most epochs; fewer when validation loss stops falling (default: training max_epochs, 20).",
    ),
    seed: int = typer.Option(
        0, "--seed", help="Seed of weights, batch order and dropout: same data + seed = same run."
    ),
    device: Device = typer.Option(Device.auto, "--device", help="auto: CUDA when present, else CPU."),
    home: str | None = HomeOpt,
):
    """Validate MODEL's windows, train it if they pass, and save the run under <home>/models/MODEL/."""

    def body():
        from training.run import train_model

        from ..specs import model as model_spec

        spec = model_spec(model)  # an unknown name fails before any data loads
        sel = selection(symbols, since, until, stride, max_samples, snapshot)
        train_model(_workspace(home), spec, sel, epochs=epochs, seed=seed, device=device.value)

    _run(body)


def models(
    model: str | None = typer.Argument(None, help="Only this model's runs."),
    home: str | None = HomeOpt,
):
    """List the trained runs with their test accuracy (95% interval), majority baseline, AUC and IC."""

    def body():
        from rich.console import Console

        from training.listing import runs_table

        ws = _workspace(home)
        table = runs_table(ws, model)
        if not table.rows:
            print(f"no trained runs in {ws.models_dir}; train one with `barstore train MODEL`")
            return
        console = Console()
        if not console.is_terminal:  # a pipe or file: room for every column instead of 80 squeezed ones
            console = Console(width=160)
        console.print(table)

    _run(body)
