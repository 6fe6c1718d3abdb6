"""The runs a prediction uses: the newest run of each model (or the one pinned with --run), loaded once and
swapped when a newer run appears. Predictions read the checkpoints under <home>/models, never the warehouse;
each checkpoint normalizes its own inputs (TrainedModel holds the pipeline it was trained with)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from barstore.errors import BarstoreError
from barstore.specs import MODELS

from .results import ModelUnavailable

if TYPE_CHECKING:
    from barstore.checkpoints import RunInfo, TrainedModel
    from barstore.home import Workspace


def parse_run_refs(refs: Iterable[str] | None) -> dict[str, str]:
    """["MODEL=RUN_ID", ...] (the CLI's repeated --run) -> {model: run_id}."""
    out = {}
    for ref in refs or ():
        model, sep, run_id = ref.partition("=")
        model, run_id = model.strip(), run_id.strip()
        if not sep or not model or not run_id:
            raise BarstoreError(f"--run takes MODEL=RUN_ID (got {ref!r})")
        if model not in MODELS:
            raise BarstoreError(f"--run names unknown model {model!r}; the models are {', '.join(MODELS)}")
        out[model] = run_id
    return out


@dataclass(frozen=True)
class LoadedRun:
    info: RunInfo
    model: TrainedModel
    pinned: bool  # chosen with --run: never replaced by a newer run

    def describe(self) -> dict:
        """model, run_id, trained_at, test_accuracy (the test split's, from metrics.json), pinned, path."""
        metrics = self.info.metrics()
        accuracy = (metrics.get("test") or {}).get("accuracy") or {}
        trained = (metrics.get("wall_clock") or {}).get("created_at") or (self.model.checkpoint or {}).get("created_at")
        return {
            "model": self.info.model,
            "run_id": self.info.run_id,
            "trained_at": trained,
            "test_accuracy": accuracy.get("value"),
            "pinned": self.pinned,
            "path": str(self.info.path),
        }


def load_run(info: RunInfo, pinned: bool = False) -> LoadedRun:
    """A run's checkpoint, checked against its model's spec: the window columns and length it was trained on
    must be the ones the online windows hold."""
    from barstore.checkpoints import load_model

    trained = load_model(info)
    spec = MODELS[info.model]
    if list(trained.inputs.columns) != spec.columns or trained.inputs.steps != spec.steps:
        raise BarstoreError(
            f"run {info.run_id} of {info.model} was trained on {trained.inputs.steps} steps of other columns than "
            f"{spec.name}'s {spec.steps} x {spec.n_features} windows"
        )
    return LoadedRun(info, trained, pinned)


class ModelSet:
    """The checkpoints in use: the newest run of each model, or the one pinned with --run. Loaded once;
    `refresh()` swaps in a newer run of an unpinned model (and loads a model whose first run appeared)."""

    def __init__(self, ws: Workspace, models: Sequence[str] | None = None, pinned: Mapping[str, str] | None = None):
        from barstore.checkpoints import find_run

        self.ws = ws
        self.pinned = dict(pinned or {})
        self.models = [m for m in MODELS if m in set(models or MODELS) | set(self.pinned)]
        self.loaded: dict[str, LoadedRun] = {}
        self.missing: dict[str, str] = {}  # model -> why it has no run in use
        self.errors: dict[str, str] = {}  # model -> why its newest run could not be loaded (an older one serves)
        for model, run_id in self.pinned.items():
            self.loaded[model] = load_run(find_run(ws, model, run_id), pinned=True)
        self.refresh()

    def refresh(self) -> list[str]:
        """Load the newest run of every unpinned model where it is not the one in use; returns the models
        whose run changed. A run that fails to load keeps the previous one in use (named in `errors`)."""
        from barstore.checkpoints import list_runs

        changed = []
        for model in self.models:
            if model in self.pinned:
                continue
            runs = list_runs(self.ws, model)
            if not runs:  # a run deleted while in use keeps serving from memory
                if model not in self.loaded:
                    self.missing[model] = f"no trained run of {model} in {self.ws.models_dir / model}"
                continue
            newest = runs[-1]
            current = self.loaded.get(model)
            if current is not None and current.info.run_id == newest.run_id:
                continue
            try:
                self.loaded[model] = load_run(newest)
            except BarstoreError as err:
                self.errors[model] = str(err)
                if current is None:
                    self.missing[model] = str(err)
                continue
            self.missing.pop(model, None)
            self.errors.pop(model, None)
            changed.append(model)
        return changed

    def require(self, models: Sequence[str]) -> None:
        absent = [m for m in models if m not in self.loaded]
        if absent:
            why = "; ".join(self.missing.get(m, f"{m} is not loaded") for m in absent)
            raise ModelUnavailable(f"no run in use for {', '.join(absent)}: {why}", absent, "no_run")

    def describe(self) -> dict:
        return {
            "models": [self.loaded[m].describe() for m in self.models if m in self.loaded],
            "missing": {m: self.missing[m] for m in self.models if m in self.missing},
            "errors": dict(self.errors),
        }
