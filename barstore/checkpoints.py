"""Trained runs on disk: `<home>/models/<MODEL>/<run_id>/` with model.pt, metrics.json and training_curves.png.

run ids start with the UTC time of the run (20261201T203000Z-<fingerprint[:8]>), so sorting them sorts runs by
time and the latest run is the last one. A run appears once its model.pt exists; it is written last, through a
temporary name, so a run interrupted while saving is never listed.

    run = latest_run(ws, "seq500_hourly")
    model = load_model(run)                     # network + input pipeline + label scale, ready to predict
    ret, p_up = model.predict(matrix, ends)     # numpy arrays, one value per window
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from .errors import BarstoreError

if TYPE_CHECKING:
    import numpy as np
    import torch

    from .home import Workspace
    from .inputs import InputPipeline

MODEL_FILE = "model.pt"
METRICS_FILE = "metrics.json"
CURVES_FILE = "training_curves.png"


@dataclass(frozen=True)
class RunInfo:
    model: str
    run_id: str
    path: Path

    @property
    def checkpoint(self) -> Path:
        return self.path / MODEL_FILE

    @property
    def metrics_path(self) -> Path:
        return self.path / METRICS_FILE

    def metrics(self) -> dict:
        """metrics.json ({} when the run has none)."""
        try:
            return json.loads(self.metrics_path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}


def make_run_id(fingerprint: str, now: datetime | None = None) -> str:
    now = (now or datetime.now(UTC)).astimezone(UTC)
    return f"{now:%Y%m%dT%H%M%SZ}-{fingerprint[:8]}"


def new_run_dir(ws: Workspace, model: str, run_id: str) -> RunInfo:
    """A fresh folder for the run; a second run of the same data within one second gets -2, -3 (still sorted)."""
    parent = ws.models_dir / model
    parent.mkdir(parents=True, exist_ok=True)
    candidate, n = run_id, 1
    while True:
        try:
            (parent / candidate).mkdir()
            return RunInfo(model, candidate, parent / candidate)
        except FileExistsError:
            n += 1
            candidate = f"{run_id}-{n}"


def save_run(run: RunInfo, checkpoint: dict, metrics: dict) -> RunInfo:
    """Write metrics.json, then model.pt (atomically): the run counts as saved once model.pt is there."""
    import torch

    run.metrics_path.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    partial = run.path / f".{MODEL_FILE}.partial"
    torch.save(checkpoint, partial)
    os.replace(partial, run.checkpoint)
    return run


def list_runs(ws: Workspace, model: str | None = None) -> list[RunInfo]:
    """Saved runs, of one model or all, sorted by model then time."""
    root = ws.models_dir
    if model:
        models = [model]
    else:
        models = sorted(p.name for p in root.iterdir() if p.is_dir()) if root.is_dir() else []
    runs = []
    for name in models:
        folder = root / name
        if folder.is_dir():
            runs += [RunInfo(name, p.name, p) for p in sorted(folder.iterdir()) if (p / MODEL_FILE).is_file()]
    return runs


def trained_snapshots(models_dir: Path) -> set[int]:
    """The warehouse snapshots saved runs trained on (selection.snapshot of each metrics.json): compaction keeps
    them, so that `barstore train --snapshot N` can read a run's data again."""
    found = set()
    for path in models_dir.glob(f"*/*/{METRICS_FILE}"):
        try:
            snapshot = (json.loads(path.read_text(encoding="utf-8")).get("selection") or {}).get("snapshot")
        except (OSError, ValueError):
            continue
        if isinstance(snapshot, int):
            found.add(snapshot)
    return found


def latest_run(ws: Workspace, model: str) -> RunInfo:
    runs = list_runs(ws, model)
    if not runs:
        raise BarstoreError(
            f"no trained run of {model} in {ws.models_dir / model}; train one with `barstore train {model}`"
        )
    return runs[-1]


def find_run(ws: Workspace, model: str, run_id: str) -> RunInfo:
    runs = list_runs(ws, model)
    for run in runs:
        if run.run_id == run_id:
            return run
    known = ", ".join(r.run_id for r in runs[-5:]) or "none"
    raise BarstoreError(f"no run {run_id!r} of {model} in {ws.models_dir / model} (latest runs: {known})")


def load_checkpoint(source: RunInfo | Path | str) -> dict:
    """The model.pt dict of a run (or a model.pt path), tensors on the CPU; loaded with weights_only=True, so a
    checkpoint cannot run code."""
    import torch

    path = source.checkpoint if isinstance(source, RunInfo) else Path(source)
    if path.is_dir():
        path = path / MODEL_FILE
    if not path.is_file():
        raise BarstoreError(f"no checkpoint at {path}")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated or foreign file
        raise BarstoreError(f"{path} is not a readable barstore checkpoint: {err}") from None


class Predictions(NamedTuple):
    ret: np.ndarray | None  # predicted forward return (None for the long-term model)
    p_up: np.ndarray  # P(label > 0)
    embedding: np.ndarray | None  # (n, 32) long-term trend embedding


@dataclass
class TrainedModel:
    """A network with the inputs and label scale it was trained with: what prediction needs of a checkpoint."""

    network: torch.nn.Module
    inputs: InputPipeline
    label_mean: float
    label_std: float
    checkpoint: dict | None = None  # the loaded model.pt, when it came from one

    @classmethod
    def from_checkpoint(cls, checkpoint: dict, device: str = "cpu") -> TrainedModel:
        from .inputs import InputPipeline, Normalizer
        from .networks import load_network

        inputs = InputPipeline(
            tuple(checkpoint["features"]), int(checkpoint["steps"]), Normalizer.from_dict(checkpoint["normalization"])
        )
        labels = checkpoint["label_stats"]
        return cls(load_network(checkpoint).to(device), inputs, labels["mean"], labels["std"], checkpoint)

    def predict(self, matrix, ends, device: str | None = None, batch_size: int = 256) -> Predictions:
        """Predictions for the windows ending at rows `ends` of `matrix` (columns in the checkpoint's order)."""
        import torch

        from .networks import infer

        device = device or next(self.network.parameters()).device
        out = infer(self.network, self.inputs, matrix, ends, device, batch_size)
        ret = None if out.ret is None else (out.ret.double() * self.label_std + self.label_mean).numpy()
        embedding = None if out.embedding is None else out.embedding.numpy()
        return Predictions(ret, torch.sigmoid(out.logit.double()).numpy(), embedding)


def load_model(source: RunInfo | Path | str, device: str = "cpu") -> TrainedModel:
    return TrainedModel.from_checkpoint(load_checkpoint(source), device)
