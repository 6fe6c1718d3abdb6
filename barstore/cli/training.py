"""`barstore dataset`, `barstore train` and `barstore models`; torch, Feast, Spark and the gate load inside the
commands."""

from __future__ import annotations

from enum import Enum

import typer

from . import _run, _workspace
from .options import (
    Engine,
    EngineOpt,
    HomeOpt,
    MasterOpt,
    MaxSamplesOpt,
    PartitionsOpt,
    SinceOpt,
    SnapshotOpt,
    StrideOpt,
    SymbolsOpt,
    UntilOpt,
    selection,
)

MODEL_HELP = "seq300_minute, seq500_minute, seq800_minute, seq500_hourly, longterm_multitf"


class Device(str, Enum):
    auto = "auto"
    cpu = "cpu"
    cuda = "cuda"


def register(app: typer.Typer) -> None:
    app.command()(dataset)
    app.command()(train)
    app.command()(models)


def dataset(
    model: str = typer.Argument(..., help=MODEL_HELP),
    out: str = typer.Option(..., "--out", help="Folder to write the set into (new, or empty)."),
    symbols: str | None = SymbolsOpt,
    since: str | None = SinceOpt,
    until: str | None = UntilOpt,
    stride: int = StrideOpt,
    max_samples: int | None = MaxSamplesOpt,
    snapshot: int | None = SnapshotOpt,
    engine: Engine = EngineOpt,
    master: str | None = MasterOpt,
    partitions: int | None = PartitionsOpt,
    home: str | None = HomeOpt,
):
    """Write MODEL's training set (the windows `barstore train` would select) as shards by symbol with a manifest,
    for `barstore train MODEL --from DIR`."""

    def body():
        from pathlib import Path

        from ..errors import BarstoreError
        from ..specs import model as model_spec

        spec = model_spec(model)  # an unknown name fails before any data loads
        sel = selection(symbols, since, until, stride, max_samples, snapshot)
        ws = _workspace(home)
        if engine == Engine.spark:
            from ..spark.dataset import export_dataset_spark
            from ..spark.settings import spark_settings

            settings = spark_settings(ws.project_dir).with_options(master, partitions)
            manifest = export_dataset_spark(ws, spec, sel, Path(out), settings)
        else:
            if master or partitions:
                raise BarstoreError("--master and --partitions go with --engine spark")
            from ..windows.export import export_dataset

            manifest = export_dataset(ws, spec, sel, Path(out))
        splits = manifest["splits"]
        print(
            f"wrote {Path(out).resolve()}: {len(manifest['shards'])} shards, {manifest['samples']} samples "
            f"({splits['train']} train / {splits['validation']} validation / {splits['test']} test) of "
            f"{spec.name} from snapshot {manifest['selection']['snapshot']}; "
            f"data fingerprint {manifest['data_fingerprint'][:12]}"
        )

    _run(body)


def train(
    model: str = typer.Argument(..., help=MODEL_HELP),
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
    from_dir: str | None = typer.Option(
        None, "--from", help="Train on the set `barstore dataset` wrote to this folder (streamed from its shards)."
    ),
    home: str | None = HomeOpt,
):
    """Validate MODEL's windows, train it if they pass, and save the run under <home>/models/MODEL/."""

    def body():
        from ..errors import BarstoreError
        from ..specs import model as model_spec

        spec = model_spec(model)  # an unknown name fails before any data loads
        if from_dir is not None:
            given = {"--symbols": symbols, "--since": since, "--until": until, "--max-samples": max_samples}
            given |= {"--stride": stride if stride != 1 else None, "--snapshot": snapshot}
            chosen = [name for name, value in given.items() if value is not None]
            if chosen:
                raise BarstoreError(f"--from trains on the set as it was written: drop {', '.join(chosen)}")
            from training.shards import train_from_shards

            train_from_shards(_workspace(home), spec, from_dir, epochs=epochs, seed=seed, device=device.value)
            return
        from training.run import train_model

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
