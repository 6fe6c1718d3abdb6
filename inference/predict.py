"""Online prediction: a symbol's online windows -> each model's checkpoint -> the ensemble decision.

Shared by `barstore predict` (one shot) and `barstore serve` (a long-lived `Predictor`):

    predictor = open_predictor(ws)                       # the newest run of each model, loaded once
    report = predictor.predict(["SYN_BTC"], as_of=...)   # one online lookup per symbol
    report.to_dict()                                     # the JSON of `predict --json` and `POST /predict`

What a prediction reads: the online store (all five windows of a symbol in one lookup, `lookup_windows`) and the
checkpoints in use (inference/runs.py), never the warehouse, so ingest, build and materialize run while it
serves. Its settings: `[serving]` (inference/serving_settings.py: staleness, reload interval) and `[ensemble]`;
its answers and refusals: inference/results.py.

Models in use: the three minute models always, seq500_hourly in four-model mode, longterm_multitf when a trend
filter is on. Only those need a run and a window; a missing one is `ModelUnavailable` (HTTP 503) naming it, a
symbol with no online window at all is `UnknownSymbol` (404). A window older than its model's `max_staleness`
at `as_of`, or later than `as_of`, is refused (`ModelUnavailable`, "stale_window").

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

import threading
import time
from collections.abc import Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from barstore.errors import BarstoreError
from barstore.settings_tables import fill
from barstore.times import format_duration, parse_utc_or_now

from .ensemble import HOURLY_MODEL, MINUTE_MODELS, TREND_MODEL, EnsembleSettings, Mode, TrendFilter
from .ensemble import RULES as ENSEMBLE_RULES
from .lanes import Lanes
from .results import ModelPrediction, ModelUnavailable, PredictionReport, SymbolPrediction, UnknownSymbol, iso
from .runs import LoadedRun, ModelSet
from .serving_settings import ServingSettings

if TYPE_CHECKING:
    from barstore.home import Workspace

    from .windows import OnlineWindow

# Intra-op threads of a prediction's forward passes. Measured on 2 cores, batch-of-one windows at the real network
# sizes: one thread runs all five models in ~12 ms; two threads are slower even on an idle machine, and with
# another busy process on the cores a pass can take seconds (OpenMP threads waiting for a core).
INFERENCE_THREADS = 1


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
    """`base` with a request's mode / trend filter (checked by the [ensemble] rules: a BarstoreError if unknown)."""
    changes = {k: v for k, v in (("mode", mode), ("trend_filter", trend_filter)) if v is not None}
    return fill(EnsembleSettings, changes, ENSEMBLE_RULES, "", base=base) if changes else base


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
            problems[w.model] = f"{w.model} ends at {iso(w.end)}, after the as-of time"
        elif age > limits[w.model]:
            problems[w.model] = (
                f"{w.model} ends at {iso(w.end)}, {format_duration(age)} old (max {format_duration(limits[w.model])})"
            )
    if problems:
        raise ModelUnavailable(
            f"{symbol}: online windows not current at {iso(as_of)}: {'; '.join(problems.values())}. Run `barstore "
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
