"""Online prediction: a symbol's online windows -> each model's checkpoint -> the ensemble decision.

Shared by `barstore predict` (one shot) and `barstore serve` (a long-lived `Predictor`):

    predictor = open_predictor(ws)                       # the newest run of each model, loaded once
    report = predictor.predict(["SYN_BTC"], as_of=...)   # one online lookup per symbol
    report.to_dict()                                     # the JSON of `predict --json` and `POST /predict`

What a prediction reads: the online store (all five windows of a symbol in one lookup, `lookup_windows`) and the
checkpoints under <home>/models, never the warehouse, so ingest, build and materialize run while it serves.
Each checkpoint normalizes its own inputs (TrainedModel holds the pipeline it was trained with).

Models in use: the three minute models always, seq500_hourly in four-model mode, longterm_multitf when a trend
filter is on. Only those need a run and a window; a missing one is `ModelUnavailable` (HTTP 503) naming it, a
symbol with no online window at all is `UnknownSymbol` (404).

Staleness: "now" is `as_of` (default: the current time). A window whose end (its last bar's close) is older than
its model's `max_staleness`, or later than `as_of` (the online store holds only the latest window, so a
historical `as_of` before it cannot be answered), is refused. Historical workspaces (the demo, the tests) pass
the time they mean as `as_of`.

Recent level (REDUCE): the mean of the hourly model's predictions on the `recent_window` windows ending 1..N
steps before the current one, cut from the context rows stored with the hourly window (inference/windows.py).
Too few stored rows (a gap close before the window, or a recent_window above what was materialized) leave it
unknown, so REDUCE is not applied, as offline until N predictions exist.

Each model's current prediction is a forward pass on exactly its window (batch of one): it equals a
recomputation from the offline window through the same checkpoint. A model's result is kept until its stored
rows change (compared byte for byte, with the run id), so a server repeats no forward pass for an unchanged
window: the hourly and long-term windows change once an hour and once a day.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from barstore.errors import BarstoreError
from barstore.project import PROJECT_FILE, settings
from barstore.specs import MODELS
from barstore.times import format_duration, parse_duration, parse_utc_or_now

from .ensemble import (
    HOURLY_MODEL,
    MINUTE_MODELS,
    TREND_MODEL,
    Decision,
    EnsembleSettings,
    Mode,
    ModelOutput,
    TrendFilter,
)
from .lanes import Lanes

if TYPE_CHECKING:
    from barstore.checkpoints import RunInfo, TrainedModel
    from barstore.home import Workspace

    from .windows import OnlineWindow

SECTION = "serving"
# A window is fresh while its end is within one bar of its timeframe plus the pipeline's lag: minute windows
# 10 minutes, hourly 2 hours, daily 4 days (a weekend plus a holiday after the last daily close, as the
# 1d views' ttl). Markets that close (RTH, Globex) are refused while closed: no fresh prediction exists then.
DEFAULT_MAX_STALENESS = {
    "seq300_minute": "10m",
    "seq500_minute": "10m",
    "seq800_minute": "10m",
    "seq500_hourly": "2h",
    "longterm_multitf": "4d",
}
DEFAULT_RELOAD_INTERVAL = "5s"  # how often the server looks for newer runs (0s: before every request)
SERVING_KEYS = ("max_staleness", "reload_interval")
# Intra-op threads of a prediction's forward passes. Measured on 2 cores, batch-of-one windows at the real network
# sizes: one thread runs all five models in ~12 ms; two threads are slower even on an idle machine, and with
# another busy process on the cores a pass can take seconds (OpenMP threads waiting for a core).
INFERENCE_THREADS = 1


class UnknownSymbol(BarstoreError):
    """No model has an online window for the symbol (HTTP 404)."""

    exit_code = 5
    status = 404


class ModelUnavailable(BarstoreError):
    """A model in use cannot predict: no run, no online window, or a stale one (HTTP 503). `models` names them."""

    exit_code = 6
    status = 503

    def __init__(self, message: str, models: Sequence[str], kind: str):
        super().__init__(message)
        self.models = list(models)
        self.kind = kind  # "no_run", "no_window" or "stale_window"


# --- settings ---------------------------------------------------------------------------------------------------


def staleness_limits(value, what: str) -> dict[str, timedelta]:
    """Per-model limits from one duration (every model), {model: duration}, or ["MODEL=DURATION" | "DURATION"]
    items (the CLI's repeated --max-staleness); only the models named or covered are returned."""
    if isinstance(value, str):
        return dict.fromkeys(MODELS, parse_duration(value, what))
    if isinstance(value, Mapping):
        items = list(value.items())
    elif isinstance(value, Iterable):
        items = []
        for item in value:
            name, sep, text = str(item).partition("=")
            items.append((name.strip(), text.strip()) if sep else (None, name.strip()))
    else:
        raise BarstoreError(f"{what} must be a duration or a table of durations per model (got {value!r})")
    out: dict[str, timedelta] = {}
    for name, text in items:
        if name is None:
            out.update(dict.fromkeys(MODELS, parse_duration(text, what)))
            continue
        if name not in MODELS:
            raise BarstoreError(f"{what} names unknown model {name!r}; the models are {', '.join(MODELS)}")
        out[name] = parse_duration(text, f"{what} {name}")
    return out


@dataclass(frozen=True)
class ServingSettings:
    """The `[serving]` table of barstore_project.toml over the defaults above:

    [serving]
    max_staleness = {seq300_minute = "10m", ..., longterm_multitf = "4d"}   # or one duration for every model
    reload_interval = "5s"
    """

    max_staleness: Mapping[str, timedelta] = field(
        default_factory=lambda: staleness_limits(DEFAULT_MAX_STALENESS, "max_staleness")
    )
    reload_interval: timedelta = parse_duration(DEFAULT_RELOAD_INTERVAL, "reload_interval")

    @classmethod
    def from_table(cls, table: Mapping, where: str = f"[{SECTION}]") -> ServingSettings:
        unknown = sorted(set(table) - set(SERVING_KEYS))
        if unknown:
            raise BarstoreError(f"{where}: unknown key(s) {', '.join(unknown)}; the keys are {', '.join(SERVING_KEYS)}")
        base = cls()
        limits = dict(base.max_staleness)
        if "max_staleness" in table:
            limits.update(staleness_limits(table["max_staleness"], f"{where} max_staleness"))
        interval = base.reload_interval
        if "reload_interval" in table:
            interval = parse_duration(table["reload_interval"], f"{where} reload_interval")
        return cls(limits, interval)

    @classmethod
    def from_project(cls, project_dir: str | Path) -> ServingSettings:
        return cls.from_table(settings(Path(project_dir), SECTION), f"{Path(project_dir) / PROJECT_FILE} [{SECTION}]")

    def with_staleness(self, override, what: str = "--max-staleness") -> ServingSettings:
        """These settings with some models' limits replaced (`staleness_limits` forms; None: unchanged)."""
        if override is None or (not isinstance(override, str | Mapping) and not list(override)):
            return self
        return replace(self, max_staleness={**self.max_staleness, **staleness_limits(override, what)})


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


def parse_as_of(value: str | datetime | None, what: str = "as_of") -> datetime:
    """An ISO time (naive: UTC) or a datetime as an aware UTC datetime; None: now."""
    return parse_utc_or_now(value, what)


def models_in_use(ensemble: EnsembleSettings) -> list[str]:
    """The models a decision of this mode and trend filter reads."""
    used = list(MINUTE_MODELS)
    if ensemble.mode is Mode.FOUR_MODEL:
        used.append(HOURLY_MODEL)
    if ensemble.trend_filter is not TrendFilter.NONE:
        used.append(TREND_MODEL)
    return used


def ensemble_for(base: EnsembleSettings, mode: str | None = None, trend_filter: str | None = None):
    """`base` with a request's mode / trend filter (validated by EnsembleSettings: a BarstoreError if unknown)."""
    changes = {k: v for k, v in (("mode", mode), ("trend_filter", trend_filter)) if v is not None}
    return replace(base, **changes) if changes else base


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


# --- the runs in use --------------------------------------------------------------------------------------------


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


# --- predictions ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ModelPrediction:
    """One model's prediction for one symbol, with the window it was made from."""

    model: str
    run_id: str
    window_end: datetime
    age: timedelta  # as_of - window_end
    max_staleness: timedelta
    p_up: float
    predicted_return: float | None = None  # minute and hourly models
    embedding: tuple[float, ...] | None = None  # the long-term model's 32-d trend embedding
    recent_predictions: tuple[float, ...] | None = None  # hourly: the N previous windows' returns, oldest first
    context_rows: int = 0  # rows stored before the window

    @property
    def recent_level(self) -> float | None:
        return (
            None if not self.recent_predictions else math.fsum(self.recent_predictions) / len(self.recent_predictions)
        )

    @property
    def embedding_sum(self) -> float | None:
        return None if self.embedding is None else math.fsum(self.embedding)

    def output(self) -> ModelOutput:
        return ModelOutput(self.predicted_return, self.p_up, self.embedding)

    def to_dict(self) -> dict:
        out = {
            "run_id": self.run_id,
            "window_end": _iso(self.window_end),
            "age_seconds": self.age.total_seconds(),
            "max_staleness_seconds": self.max_staleness.total_seconds(),
            "predicted_return": self.predicted_return,
            "p_up": self.p_up,
        }
        if self.model == HOURLY_MODEL:
            out |= {
                "recent_level": self.recent_level,
                "recent_predictions": None if self.recent_predictions is None else list(self.recent_predictions),
                "context_rows": self.context_rows,
            }
        if self.embedding is not None:
            total = self.embedding_sum
            out |= {
                "embedding_sum": total,
                "embedding_trend": (total > 0) - (total < 0),
                "embedding": list(self.embedding),
            }
        return out


@dataclass(frozen=True)
class SymbolPrediction:
    symbol: str
    models: dict[str, ModelPrediction]  # the models in use, in MODELS order
    decision: Decision

    def to_dict(self) -> dict:
        return {
            "symbol": self.symbol,
            "decision": self.decision.to_dict(),
            "models": {name: p.to_dict() for name, p in self.models.items()},
        }


@dataclass(frozen=True)
class PredictionReport:
    as_of: datetime
    ensemble: EnsembleSettings
    predictions: list[SymbolPrediction]

    def to_dict(self) -> dict:
        """The JSON of `barstore predict --json` and of `POST /predict`."""
        return {
            "as_of": _iso(self.as_of),
            "mode": self.ensemble.mode.value,
            "trend_filter": self.ensemble.trend_filter.value,
            "recent_window": self.ensemble.recent_window,
            "predictions": [p.to_dict() for p in self.predictions],
        }


@contextmanager
def torch_threads(n: int):
    """torch's intra-op threads set to `n` in this thread for the block, restored after (the caller's process
    keeps its own setting: tests and training in the same process are not changed)."""
    import torch

    before = torch.get_num_threads()
    if before != n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        if before != n:
            torch.set_num_threads(before)


def _set_torch_threads(n: int) -> None:
    import torch

    torch.set_num_threads(n)


@dataclass(frozen=True)
class _Computed:
    """What a forward pass gave for one stored array: kept while the run and the rows are the same."""

    run_id: str
    rows: bytes
    n_recent: int  # the recent predictions asked for (0: none; `recent` is None when the context was too short)
    ret: float | None
    p_up: float
    embedding: tuple[float, ...] | None
    recent: tuple[float, ...] | None


class Predictor:
    """Online windows + the runs in use -> predictions and decisions. Thread-safe: one prediction at a time
    (Feast's SQLite online store shares one connection); within it, the models' forward passes run on two lanes
    (inference/lanes.py)."""

    def __init__(
        self,
        store,
        runs: ModelSet,
        serving: ServingSettings,
        ensemble: EnsembleSettings,
        cache: bool = True,
        threads: int = INFERENCE_THREADS,
    ):
        self.store = store
        self.runs = runs
        self.serving = serving
        self.ensemble = ensemble
        self.cache = cache
        self.threads = threads
        self._computed: dict[tuple[str, str], _Computed] = {}
        self._lock = threading.Lock()
        self._checked = time.monotonic()
        self._lanes = Lanes(lambda: _set_torch_threads(threads))

    def refresh_runs(self, force: bool = False) -> list[str]:
        """Swap in newer runs, at most every `reload_interval` unless forced; returns the models reloaded."""
        with self._lock:
            now = time.monotonic()
            if not force and now - self._checked < self.serving.reload_interval.total_seconds():
                return []
            self._checked = now
            return self.runs.refresh()

    def forget(self, models: Sequence[str] | None = None) -> None:
        """Drop the kept results of these models (all: None), as if their windows had changed (benchmarks)."""
        with self._lock:
            for key in [k for k in self._computed if models is None or k[0] in models]:
                del self._computed[key]

    def warm_up(self) -> None:
        """One forward pass per loaded network and one online lookup, so the first request does not pay for
        torch's and Feast's first-call setup (about a second on 2 cores)."""
        import torch

        from .windows import lookup_windows

        with self._lock, torch_threads(self.threads):
            lookup_windows(self.store, "__barstore_warm_up__")
            for run in self.runs.loaded.values():
                steps, width = run.model.inputs.steps, len(run.model.inputs.columns)
                run.model.predict(torch.ones(steps, width, dtype=torch.float64), [steps - 1])

    def predict(
        self,
        symbols: Sequence[str],
        as_of=None,
        mode: str | None = None,
        trend_filter: str | None = None,
        max_staleness=None,
    ) -> PredictionReport:
        """Every symbol's decision (all or nothing: the first symbol that cannot be answered raises)."""
        symbols = [s.strip() for s in symbols if s and s.strip()]
        if not symbols:
            raise BarstoreError("name at least one symbol")
        moment = parse_as_of(as_of)
        ensemble = ensemble_for(self.ensemble, mode, trend_filter)
        limits = self.serving.with_staleness(max_staleness, "max_staleness").max_staleness
        used = models_in_use(ensemble)
        self.refresh_runs()
        with self._lock, torch_threads(self.threads):
            self.runs.require(used)
            out = [self._predict_symbol(symbol, moment, ensemble, used, limits) for symbol in symbols]
        return PredictionReport(moment, ensemble, out)

    def _predict_symbol(self, symbol, as_of, ensemble, used, limits) -> SymbolPrediction:
        from .ensemble import decide
        from .windows import lookup_windows

        windows = lookup_windows(self.store, symbol)  # all five: "unknown" means none at all
        if not windows:
            raise UnknownSymbol(f"unknown symbol {symbol!r}: no model has an online window for it")
        absent = [m for m in used if m not in windows]
        if absent:
            raise ModelUnavailable(
                f"{symbol} has no online window of {', '.join(absent)}: run `barstore materialize` "
                "(a symbol with too little history has no window of the slower models)",
                absent,
                "no_window",
            )
        _refuse_stale(symbol, [windows[m] for m in used], as_of, limits)
        rows = {m: windows[m].rows.numpy().tobytes() for m in used}
        kept = {m: self._kept(symbol, windows[m], rows[m], ensemble) for m in used}
        models = self._lanes.run(
            used,
            lambda m: self._predict_model(symbol, windows[m], rows[m], kept[m], as_of, limits[m], ensemble),
            computing={m for m in used if kept[m] is None},
        )
        recent = models[HOURLY_MODEL].recent_level if HOURLY_MODEL in models else None
        decision = decide({m: p.output() for m, p in models.items()}, ensemble, recent)
        return SymbolPrediction(symbol, models, decision)

    def _kept(self, symbol, window: OnlineWindow, rows: bytes, ensemble) -> _Computed | None:
        """The kept result for this window, if its run, rows (`rows`: its bytes) and context ask are the same."""
        done = self._computed.get((window.model, symbol))
        wanted = (self.runs.loaded[window.model].info.run_id, _recent_asked(window, ensemble), rows)
        return done if done is not None and (done.run_id, done.n_recent, done.rows) == wanted else None

    def _predict_model(
        self, symbol, window: OnlineWindow, rows: bytes, done, as_of, limit, ensemble
    ) -> ModelPrediction:
        """The model's prediction: `done` (the kept result) or a forward pass on the window."""
        run = self.runs.loaded[window.model]
        if done is None:
            done = _forward(run, window, rows, _recent_asked(window, ensemble))
            if self.cache:
                self._computed[(window.model, symbol)] = done
        return ModelPrediction(
            model=window.model,
            run_id=run.info.run_id,
            window_end=window.end,
            age=as_of - window.end,
            max_staleness=limit,
            p_up=done.p_up,
            predicted_return=done.ret,
            embedding=done.embedding,
            recent_predictions=done.recent,
            context_rows=len(window.context),
        )


def _recent_asked(window: OnlineWindow, ensemble) -> int:
    return ensemble.recent_window if window.model == HOURLY_MODEL else 0


def _forward(run: LoadedRun, window: OnlineWindow, rows: bytes, n_recent: int) -> _Computed:
    """The current window's prediction (a batch of one: the offline recomputation's numbers) and, when the
    context holds `n_recent` earlier windows, their predicted returns (one batch, oldest first)."""
    import numpy as np

    last = len(window.rows) - 1
    now = run.model.predict(window.rows, np.array([last]))
    recent = None
    if n_recent and len(window.context) >= n_recent:
        earlier = run.model.predict(window.rows, np.arange(last - n_recent, last))
        recent = tuple(float(v) for v in earlier.ret)
    return _Computed(
        run.info.run_id,
        rows,
        n_recent,
        None if now.ret is None else float(now.ret[0]),
        float(now.p_up[0]),
        None if now.embedding is None else tuple(float(v) for v in now.embedding[0]),
        recent,
    )


def _refuse_stale(symbol: str, windows: Sequence[OnlineWindow], as_of: datetime, limits) -> None:
    """ModelUnavailable naming every window that is not current at `as_of`: older than its limit, or later."""
    problems = {}
    for w in windows:
        age = as_of - w.end
        if age < timedelta(0):
            problems[w.model] = f"{w.model} ends at {_iso(w.end)}, after the as-of time"
        elif age > limits[w.model]:
            problems[w.model] = (
                f"{w.model} ends at {_iso(w.end)}, {format_duration(age)} old (max {format_duration(limits[w.model])})"
            )
    if problems:
        raise ModelUnavailable(
            f"{symbol}: online windows not current at {_iso(as_of)}: {'; '.join(problems.values())}. Run `barstore "
            "materialize`; for historical data pass the time you mean as --as-of (the online store holds only the "
            "latest window) or a wider --max-staleness",
            list(problems),
            "stale_window",
        )


def open_predictor(
    ws: Workspace,
    online: str = "sqlite",
    pinned: Mapping[str, str] | None = None,
    models: Sequence[str] | None = None,
    cache: bool = True,
    serving: ServingSettings | None = None,
    ensemble: EnsembleSettings | None = None,
) -> Predictor:
    """A Predictor over the workspace's online store and runs, with the project's [serving] and [ensemble]
    settings. The Feast registry is read once and then kept (its definitions do not change while serving, and
    `materialize` rewrites the file in place, which a periodic re-read could catch half written)."""
    from barstore.feature_store import open_store

    serving = serving or ServingSettings.from_project(ws.project_dir)
    ensemble = ensemble or EnsembleSettings.from_project(ws.project_dir)
    store = open_store(ws, online)
    store.list_feature_views(allow_cache=True)  # fill the registry cache once
    registry = store.registry
    if hasattr(registry, "cached_registry_proto_ttl"):
        registry.cached_registry_proto_ttl = timedelta(0)  # Feast: 0 = never expires
    return Predictor(store, ModelSet(ws, models, pinned), serving, ensemble, cache)
