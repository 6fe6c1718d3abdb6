"""One training run: validated data -> fit -> metrics -> a saved run under <home>/models/<MODEL>/<run_id>/.

    result = train_model(ws, MODELS["seq500_hourly"], Selection(max_samples=5_000), epochs=10, seed=0, device="auto")
    result.run.path, result.metrics["test"]["accuracy"]

`train_model` builds the selection's data once (barstore.windows.selection.selected_data: the dataset and its
splits, cut with [training] split_shares, from one warehouse snapshot), has the validation gate check it
(expectations.gate.validate_model), and fits on it only if it passes: a selection that fails validation raises
ValidationFailed before anything is trained. `fit_dataset` is everything after the gate, for a dataset and
splits in hand (also a set read from shards: training.shards).

What a run records, so it can be reproduced and audited: the feature names in window order, the window length
and horizon, the input normalization and label scale (fit on the training split only), a fingerprint of the
exact data (the rows of every window, the labels and the split membership), the project's git commit, the seed,
and the path of the validation report that let it train; for a run from shards, the set it read (`shards`).
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import numpy as np

from barstore.errors import BarstoreError
from barstore.specs import ModelSpec
from barstore.specs import model as model_spec

if TYPE_CHECKING:
    import torch
    from rich.console import Console

    from barstore.checkpoints import RunInfo, TrainedModel
    from barstore.home import Workspace
    from barstore.splits import Splits
    from barstore.windows.dataset import WindowDataset
    from barstore.windows.selection import Selection

    from .config import TrainingConfig
    from .loop import History

DEVICES = ("auto", "cpu", "cuda")


@dataclass
class RunResult:
    run: RunInfo
    metrics: dict  # what metrics.json holds
    model: TrainedModel  # the trained network with its inputs, on the CPU
    history: History


def train_model(
    ws: Workspace,
    model: ModelSpec | str,
    selection: Selection,
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    console: Console | None = None,
    store=None,
    con=None,
    settings=None,
    network_sizes: dict | None = None,
) -> RunResult:
    """Build the selection's windows of `model` (a ModelSpec, or its name) once, validate them (`settings`: the
    gate's ValidationSettings, None for the project's), and train on them only if they pass. `network_sizes`: as
    `fit_dataset`'s (quick runs)."""
    from barstore.windows.selection import selected_data
    from expectations.gate import ValidationSettings, validate_model

    from .config import load_config

    spec = model if isinstance(model, ModelSpec) else model_spec(model)
    config = load_config(ws)
    resolve_device(device)  # a bad --device fails before the data loads
    settings = settings or ValidationSettings.for_model(ws, spec)  # and a bad [validation] setting
    with selected_data(ws, spec, selection, store=store, con=con, shares=config.split_shares) as data:
        report = validate_model(ws, spec, data, settings)
    report.raise_if_failed()
    return fit_dataset(
        ws,
        spec,
        data.dataset,
        data.splits,
        epochs,
        seed,
        device,
        report_path=str(report.docs_path),
        console=console,
        selection=data.selection,  # with the snapshot read: `--snapshot N` reads this data again
        config=config,
        network_sizes=network_sizes,
    )


def fit_dataset(
    ws: Workspace,
    spec: ModelSpec,
    dataset: WindowDataset,
    splits: Splits,
    epochs: int | None = None,
    seed: int = 0,
    device: str = "auto",
    report_path: str | None = None,
    console: Console | None = None,
    selection: Selection | None = None,
    config: TrainingConfig | None = None,
    network_sizes: dict | None = None,
    shards: dict | None = None,
    fingerprint: str | None = None,
) -> RunResult:
    """Train `spec`'s network on the train split of `dataset`, stop early on the validation split, report on
    validation and test, and save the run. `network_sizes` (hidden_size, num_layers) shrinks a sequence model
    for quick runs; the checkpoint records whatever was trained. A dataset read from shards (training.shards)
    comes with the set's description (`shards`, recorded) and its data fingerprint, already taken."""
    from rich.console import Console

    from barstore.checkpoints import CURVES_FILE, TrainedModel, make_run_id, new_run_dir, save_run
    from barstore.inputs import InputPipeline, Normalizer
    from barstore.networks import checkpoint_entries, network_for
    from barstore.windows.index import evenly_spaced

    from .config import load_config
    from .loop import LabelScale, Samples, fit, seeded
    from .plots import training_curves

    config = config or load_config(ws)
    console = console or Console()
    torch_device = resolve_device(device)
    epochs = config.max_epochs if epochs is None else epochs
    if epochs < 1:
        raise BarstoreError(f"--epochs must be at least 1 (got {epochs})")
    if list(dataset.columns) != spec.columns:
        raise BarstoreError(f"the dataset's columns are not {spec.name}'s inputs in window order")
    parts = {name: dataset.subset(positions) for name, positions in splits.named().items()}
    for name in ("train", "validation"):
        if len(parts[name]) == 0:
            raise BarstoreError(f"{spec.name}: the {name} split has no samples; select more data")
    train, validation = (Samples(parts[n].ends, parts[n].labels) for n in ("train", "validation"))

    fingerprint = fingerprint or data_fingerprint(dataset, splits)
    fit_ends = train.ends
    if len(fit_ends) > config.normalizer_max_samples:
        fit_ends = fit_ends[evenly_spaced(len(fit_ends), config.normalizer_max_samples)]
    normalizer = Normalizer.fit(dataset.matrix, fit_ends, spec.steps, dataset.columns, config.eval_batch_size)
    inputs = InputPipeline(tuple(dataset.columns), spec.steps, normalizer)
    scale = LabelScale.fit(train.returns)
    with seeded(seed, torch_device):
        network = network_for(spec, **(network_sizes or {}))
    n_params = sum(p.numel() for p in network.parameters())
    console.print(
        f"{spec.name}: {len(parts['train'])} train / {len(parts['validation'])} validation / "
        f"{len(parts['test'])} test windows of {spec.steps} x {spec.n_features}; "
        f"{type(network).__name__} ({n_params:,} parameters) on {torch_device}",
        highlight=False,
        soft_wrap=True,
    )
    history = fit(
        network, inputs, dataset.matrix, train, validation, scale, config, epochs, seed, torch_device, console
    )

    model = TrainedModel(network, inputs, scale.mean, scale.std)
    majority_up = bool((train.returns > 0).double().mean() >= 0.5)
    reports = {
        name: _evaluate(model, dataset, parts[name], majority_up, torch_device, config)
        for name in ("validation", "test")
    }
    network.cpu()

    created = datetime.now(UTC)
    run = new_run_dir(ws, spec.name, make_run_id(fingerprint, created))
    title = f"{spec.name} {run.run_id}"
    training_curves(history.train_loss, history.val_loss, history.best_epoch, title, run.path / CURVES_FILE)
    commit, dirty = git_state(ws)
    record = {  # in both files: what the run trained on and how
        "model": spec.name,
        "data_fingerprint": fingerprint,
        "seed": seed,
        "samples": {name: len(part) for name, part in parts.items()} | {"purged": splits.purged},
        "periods": {name: _period(part) for name, part in parts.items()},
        "symbols": sorted(dataset.symbol_names[c] for c in np.unique(dataset.symbol_codes)),
        "selection": selection.describe() if selection else None,
        "shards": shards,  # None: built from the warehouse; else the set `barstore train --from DIR` read
        "validation_report": report_path,
        "git_commit": commit,
        "git_dirty": dirty,
        "training_config": config.as_dict(),
    }
    metrics = record | {
        "device": torch_device.type,
        "majority_class": "up" if majority_up else "down",
        "loss_curves": {"train": history.train_loss, "validation": history.val_loss},
        "epochs_run": len(history.train_loss),
        "best_epoch": history.best_epoch,
        "stopped_early": history.stopped_early,
        **reports,
        "training_curves": CURVES_FILE,
        "wall_clock": {  # the only fields that differ between two runs of the same data and seed
            "run_id": run.run_id,
            "created_at": created.isoformat(),
            "seconds": round(history.seconds, 3),
            "samples_per_second": round(history.samples_per_second, 2),
        },
    }
    checkpoint = (
        checkpoint_entries(network)
        | record
        | {
            "run_id": run.run_id,
            "created_at": created.isoformat(),
            "feature_service": spec.name,
            "features": list(dataset.columns),
            "steps": spec.steps,
            "timeframe": spec.timeframe,
            "horizon": {"bars": spec.horizon.bars, "trading_days": spec.horizon.trading_days},
            "normalization": normalizer.to_dict(),
            "label_stats": {"mean": scale.mean, "std": scale.std},
        }
    )
    save_run(run, checkpoint, metrics)
    _print_summary(console, run, metrics)
    return RunResult(run, metrics, model, history)


def _evaluate(
    model: TrainedModel,
    dataset: WindowDataset,
    part: WindowDataset,
    majority_up: bool,
    device: torch.device,
    config: TrainingConfig,
) -> dict:
    """The split's figures (training.metrics); the IC ranks by predicted return, or by P(up) for the long-term
    model, which predicts no return."""
    from .metrics import split_report

    pred = model.predict(dataset.matrix, part.ends, device, config.eval_batch_size)
    score = pred.p_up if pred.ret is None else pred.ret
    return split_report(pred.p_up, score, part.labels.numpy(), majority_up, part.timestamps, part.label_times)


def resolve_device(name: str) -> torch.device:
    import torch

    if name not in DEVICES:
        raise BarstoreError(f"--device must be one of {', '.join(DEVICES)} (got {name!r})")
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise BarstoreError(f"--device cuda: this torch ({torch.__version__}) sees no CUDA device; use --device cpu")
    return torch.device(name)


def data_fingerprint(dataset: WindowDataset, splits: Splits) -> str:
    """barstore.windows.fingerprint's sha256 of exactly what the run learns from and is judged on (the values of
    every matrix row some window covers, each window's end among them, the labels, the split membership)."""
    from barstore.windows.fingerprint import data_fingerprint as fingerprint

    ends, labels = dataset.ends.numpy(), dataset.labels.numpy()
    return fingerprint(dataset.columns, dataset.steps, dataset.aligned.values, ends, labels, splits)


def git_state(ws: Workspace) -> tuple[str | None, bool | None]:
    """(commit, whether tracked files differ from it) of the project's repository; (None, None) outside one."""
    try:
        project = str(ws.project_dir)
    except BarstoreError:
        return None, None

    def git(*args: str) -> subprocess.CompletedProcess | None:
        try:
            return subprocess.run(["git", "-C", project, *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            return None

    head = git("rev-parse", "HEAD")
    if head is None or head.returncode != 0:
        return None, None
    diff = git("diff", "--quiet", "HEAD", "--")
    return head.stdout.strip(), None if diff is None else diff.returncode != 0


def _period(part: WindowDataset) -> dict:
    """First and last decision time of a split (UTC ISO), None when it is empty."""
    if len(part) == 0:
        return {"first": None, "last": None}
    return {"first": f"{part.timestamps.min()}Z", "last": f"{part.timestamps.max()}Z"}


def _print_summary(console: Console, run: RunInfo, metrics: dict) -> None:
    test = metrics["test"]
    from .metrics import format_figure

    console.print(
        f"saved {run.path}\ntest: accuracy {format_figure(test['accuracy'])} vs majority "
        f"{format_figure(test['majority_accuracy'])}, AUC {format_figure(test['auc'], 'num')}, "
        f"n={test['samples']}",
        highlight=False,
        soft_wrap=True,
    )
