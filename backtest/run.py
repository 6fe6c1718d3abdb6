"""`barstore backtest`: walk-forward folds; in each, every model trained through the validation gate on data that
ends an embargo before the fold, its checkpoint predicting the fold's decision times; the strategies' decisions,
positions, metrics and intervals; the report.

    result = run_backtest(ws, BacktestSettings(folds=3, epochs=2, max_samples=3000))
    result.out / "report.md", result.results["strategies"]["four_model"]["pooled"]["sharpe"]

Per fold (backtest.folds for the fold dates and cutoffs, backtest.decisions for the decision times):
1. each model: `training.run.train_model` on `Selection(symbols, until=cutoff, max_samples)` (the gate runs
   inside it; a refused selection leaves the model out of the fold, with the gate's reason in the report), the
   run saved under `<out>/folds/<k>/models/` and reloaded from its checkpoint (barstore.checkpoints.load_model)
   to predict the fold's decision windows;
2. the baselines fit on the hourly steps before their own cutoff (backtest.baseline: logistic, LightGBM with and
   without the fold's long-term embedding, momentum);
3. every strategy's action at every decision time (backtest.strategies).
Then, over all folds (backtest.report): positions and costs (backtest.positions), metrics (backtest.metrics),
paired stationary-bootstrap intervals (backtest.bootstrap), report.md, results.json and the equity curves.

Written to `out`: decisions.parquet (one row per strategy, symbol and decision time: action, reason, price,
horizon), predictions.parquet (one row per symbol and decision time: every model's step, P(up), predicted
return, the trend scores, the baseline's P(up)), results.json, report.md, equity_<symbol>.png, folds/.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from barstore.errors import BarstoreError
from barstore.home import Workspace
from barstore.specs import MODELS, Horizon, ModelSpec

from .decisions import Grid, StepPredictions
from .strategies import STRATEGIES

if TYPE_CHECKING:
    from rich.console import Console
    from rich.progress import Progress

    from expectations.settings import ValidationSettings

    from .folds import Fold


@dataclass(frozen=True)
class BacktestSettings:
    folds: int = 3
    epochs: int | None = 2  # None: [training] max_epochs
    max_samples: int | None = 3000  # training samples per model and fold, spread evenly over its history
    seed: int = 0
    symbols: tuple[str, ...] | None = None
    since: datetime | None = None  # first decision time of the test span (default: backtest.folds)
    until: datetime | None = None  # last decision time of the test span
    hold_days: int = 1  # trading days a sizing decision holds (0: until the next decision changes it)
    device: str = "auto"
    models: tuple[str, ...] = tuple(MODELS)  # the models trained (a left-out one is missing everywhere)
    gate: Mapping[str, ValidationSettings] | None = None  # per model; None or absent: the project's [validation]
    bootstrap_reps: int = 2000
    cost_bps: float | None = None  # per side for instruments without a futures entry; None: [backtest] cost_bps
    # hidden_size / num_layers of the sequence models (never the long-term one, whose architecture is fixed), for
    # quick runs and tests; None: the models' own sizes (barstore.networks)
    network_sizes: Mapping[str, int] | None = None

    def __post_init__(self):
        if self.hold_days < 0:
            raise BarstoreError(f"--hold-days must be >= 0 (got {self.hold_days})")
        unknown = sorted(set(self.models) - set(MODELS))
        if unknown:
            raise BarstoreError(f"unknown model(s) {', '.join(unknown)}; the models are {', '.join(MODELS)}")

    def describe(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "gate"}
        out["network_sizes"] = dict(self.network_sizes) if self.network_sizes else None
        out["symbols"] = list(self.symbols) if self.symbols else None
        out["models"] = list(self.models)
        for name in ("since", "until"):
            out[name] = out[name].isoformat() if out[name] else None
        return out


def holding_spec(hold_days: int) -> ModelSpec:
    """The horizon the strategies hold a sizing decision and the baseline is labelled over, on hourly bars."""
    horizon = Horizon(trading_days=hold_days) if hold_days else Horizon(bars=1)
    return ModelSpec("holding", "1h", 1, horizon, (), "the strategies' holding horizon")


@dataclass(frozen=True)
class FoldWorkspace(Workspace):
    """The workspace as training sees it during a fold: the same warehouse, Feast registry and project, but runs
    and validation reports saved under the backtest's folder, so `latest_run` (prediction, `barstore models`)
    never picks a model trained on a fold's past."""

    root: Path | None = None

    @property
    def models_dir(self) -> Path:
        return self.root / "models"

    @property
    def reports_dir(self) -> Path:
        return self.root / "reports"


@dataclass
class FoldModel:
    """What one model did in one fold: trained (run, sizes) or not (reason)."""

    model: str
    until: datetime
    run: str | None = None
    samples: dict | None = None
    periods: dict | None = None
    majority_up: bool | None = None
    seconds: float = 0.0
    reason: str | None = None

    def describe(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["until"] = self.until.isoformat()
        out["seconds"] = round(self.seconds, 1)
        return out


@dataclass
class BacktestResult:
    out: Path
    results: dict  # what results.json holds
    decisions: pd.DataFrame
    predictions: pd.DataFrame
    folds: list[Fold] = field(default_factory=list)


@dataclass
class _Context:
    ws: Workspace
    settings: BacktestSettings
    store: object
    con: object
    console: Console
    out: Path
    symbols: list[str] | None
    device: object
    gate: dict
    ensemble: object
    max_staleness: dict  # model -> timedelta: [serving] max_staleness, so decisions see what serving would


def run_backtest(
    ws: Workspace,
    settings: BacktestSettings | None = None,
    out: str | Path | None = None,
    console: Console | None = None,
    folds: list[Fold] | None = None,
    command: str | None = None,
) -> BacktestResult:
    """The whole backtest (module docstring); `folds` runs only these (e.g. a plan's first fold), not the plan's;
    `command`: the command line that ran it, printed in the report so that it can be run again."""
    from rich.console import Console

    from barstore.feature_store import open_store
    from barstore.warehouse import connect
    from expectations.settings import ValidationSettings
    from inference.ensemble import EnsembleSettings
    from inference.serving_settings import ServingSettings
    from training.run import resolve_device

    from .decisions import decision_times
    from .folds import plan_folds, training_cutoffs
    from .outputs import write_outputs
    from .positions import PositionRules

    settings = settings or BacktestSettings()
    console = console or Console()
    out = Path(out) if out else ws.reports_dir / "backtest"
    out.mkdir(parents=True, exist_ok=True)
    gate = {
        name: (settings.gate or {}).get(name) or ValidationSettings.for_model(ws, MODELS[name])
        for name in settings.models
    }
    rules = PositionRules.from_project(ws.project_dir)  # bad settings fail before anything is trained
    if settings.cost_bps is not None:
        rules = replace(rules, cost_bps=settings.cost_bps)
    ctx = _Context(
        ws,
        settings,
        open_store(ws),
        connect(ws.warehouse, read_only=True),
        console,
        out,
        list(settings.symbols) if settings.symbols else None,
        resolve_device(settings.device),
        gate,
        EnsembleSettings.from_project(ws.project_dir),
        dict(ServingSettings.from_project(ws.project_dir).max_staleness),
    )
    plan = folds or plan_folds(decision_times(ctx.con, ctx.symbols), settings.folds, settings.since, settings.until)
    starts = [f.start for f in plan]
    cutoffs = {name: training_cutoffs(ctx.con, MODELS[name], starts, ctx.symbols) for name in settings.models}
    hold = holding_spec(settings.hold_days)
    baseline_cutoffs = training_cutoffs(ctx.con, hold, starts, ctx.symbols)

    started = time.perf_counter()
    frames, records = [], []
    with _progress(console) as progress:
        task = progress.add_task("backtest", total=len(plan) * (len(settings.models) + 1))
        for i, fold in enumerate(plan):
            frame, record = _run_fold(
                ctx, fold, {m: c[i] for m, c in cutoffs.items()}, baseline_cutoffs[i], hold, progress, task, len(plan)
            )
            frames.append(frame)
            records.append(record)
    predictions = pd.concat(frames, ignore_index=True)
    decisions = _decisions(ctx, predictions, hold)
    results = {
        "command": command,
        "settings": settings.describe() | {"out": str(out)},
        "position_rules": _rules_dict(rules),
        "ensemble_settings": {f.name: _plain(getattr(ctx.ensemble, f.name)) for f in fields(ctx.ensemble)},
        "folds": records,
        "models": _model_accuracy(ctx, predictions, records),
        "seconds": round(time.perf_counter() - started, 1),
    }
    results = write_outputs(out, results, decisions, predictions, rules, _calendars(ctx), plan, settings)
    console.print(f"backtest report: {out / 'report.md'}", highlight=False, soft_wrap=True)
    return BacktestResult(out, results, decisions, predictions, list(plan))


def _progress(console: Console) -> Progress:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        disable=not console.is_terminal,
    )


def _run_fold(
    ctx: _Context,
    fold: Fold,
    cutoffs: dict,
    baseline_cutoff: datetime,
    hold: ModelSpec,
    progress: Progress,
    task,
    n_folds: int,
) -> tuple[pd.DataFrame, dict]:
    """The fold's prediction frame (one row per decision) and its record for the report."""
    from inference.ensemble import TREND_MODEL

    from .baseline import fold_baselines
    from .decisions import decision_grid, prediction_columns

    where = f"fold {fold.number}/{n_folds} ({fold.start:%Y-%m-%d %H:%M} .. {fold.last_decision:%Y-%m-%d %H:%M} UTC)"
    ctx.console.rule(where)
    grid = decision_grid(ctx.store, ctx.con, ctx.symbols, fold)
    fold_ws = FoldWorkspace(ctx.ws.home, str(ctx.ws.project_dir), root=ctx.out / "folds" / str(fold.number))
    models, predictions, trained = [], {}, {}
    for name in ctx.settings.models:
        progress.update(task, description=f"{where}: {name}")
        record, model = _train(ctx, fold_ws, name, cutoffs[name])
        models.append(record)
        if model is not None:
            trained[name] = model
            predictions[name] = _predict(ctx, grid, model, name, fold)
        progress.advance(task)

    progress.update(task, description=f"{where}: baselines")
    frame = prediction_columns(grid, predictions, ctx.ensemble.recent_window)
    trend = trained.get(TREND_MODEL)
    columns, baselines = fold_baselines(
        ctx.store,
        ctx.con,
        ctx.symbols,
        baseline_cutoff,
        hold,
        grid,
        frame,
        trend,
        ctx.max_staleness.get(TREND_MODEL),
        ctx.device,
        ctx.settings.seed,
    )
    for column, values in columns.items():
        frame[column] = values
    progress.advance(task)
    frame.insert(0, "fold", fold.number)
    record = fold.describe() | {"models": [m.describe() for m in models], "baselines": baselines}
    return frame, record


def _train(ctx: _Context, fold_ws: FoldWorkspace, name: str, until: datetime):
    """(FoldModel, the checkpoint's TrainedModel or None) of one model in one fold."""
    from barstore.checkpoints import load_model
    from barstore.windows.selection import Selection
    from expectations.report import ValidationFailed

    record = FoldModel(name, until)
    selection = Selection(ctx.symbols and tuple(ctx.symbols), until=until, max_samples=ctx.settings.max_samples)
    started = time.perf_counter()
    if not _has_steps(ctx, MODELS[name], until):
        # an empty spine would reach Feast with no entity rows, which barstore.windows.retrieval refuses
        record.reason = f"no {MODELS[name].step_view} step of the selected symbols before {until:%Y-%m-%d %H:%M}"
    else:
        try:
            result = _fit(ctx, fold_ws, name, selection)
        except ValidationFailed as failed:
            record.reason = failed.report.summary().splitlines()[0]
        except BarstoreError as err:  # e.g. a split left empty by the purge
            record.reason = str(err)
    record.seconds = time.perf_counter() - started
    if record.reason:
        ctx.console.print(f"[yellow]{name} not trained for this fold[/]: {record.reason}", soft_wrap=True)
        return record, None
    metrics = result.metrics
    record.run, record.samples, record.periods = str(result.run.path), metrics["samples"], metrics["periods"]
    record.majority_up = metrics["majority_class"] == "up"
    return record, load_model(result.run, ctx.device.type)


def _has_steps(ctx: _Context, spec: ModelSpec, until: datetime) -> bool:
    from barstore.warehouse import query_arrow

    query = (
        f"SELECT count(*) FROM {spec.step_view} WHERE ts_close <= $until "
        "AND ($symbols IS NULL OR list_contains($symbols, symbol))"
    )
    return query_arrow(ctx.con, query, {"until": until, "symbols": ctx.symbols}).column(0)[0].as_py() > 0


def _fit(ctx: _Context, fold_ws: FoldWorkspace, name: str, selection):
    """`training.run.train_model` (the gate, then the fit) on the fold's selection, with the settings' network
    sizes for the sequence models."""
    from training.run import train_model

    s = ctx.settings
    sizes = dict(s.network_sizes) if s.network_sizes and name != "longterm_multitf" else None
    return train_model(
        fold_ws,
        name,
        selection,
        epochs=s.epochs,
        seed=s.seed,
        device=ctx.device.type,
        console=ctx.console,
        store=ctx.store,
        con=ctx.con,
        settings=ctx.gate[name],
        network_sizes=sizes,
    )


def _predict(ctx: _Context, grid: Grid, model, name: str, fold: Fold) -> StepPredictions:
    from .decisions import predictions_at

    staleness = ctx.max_staleness[name]
    return predictions_at(grid, model, MODELS[name], ctx.store, ctx.con, ctx.symbols, fold, staleness, ctx.device)


def _decisions(ctx: _Context, predictions: pd.DataFrame, hold: ModelSpec) -> pd.DataFrame:
    """One row per strategy, symbol and decision time, in that order: what backtest.positions simulates."""
    from .decisions import forward_at

    base = predictions[["fold", "symbol", "time", "price"]]
    if ctx.settings.hold_days:
        label, label_time = forward_at(ctx.con, hold, predictions)
        horizon_time, horizon_price = label_time.to_numpy(), predictions["price"].to_numpy() * (1 + label)
    else:
        horizon_time, horizon_price = pd.NaT, np.nan
    parts = []
    for strategy in STRATEGIES:
        acted = strategy.actions(predictions, ctx.ensemble)
        part = base.assign(strategy=strategy.name, action=acted["action"].to_numpy(), reason=acted["reason"].to_numpy())
        part["horizon_time"] = pd.NaT if strategy.holds_to_end else horizon_time
        part["horizon_price"] = np.nan if strategy.holds_to_end else horizon_price
        parts.append(part)
    columns = ["strategy", "fold", "symbol", "time", "action", "reason", "price", "horizon_time", "horizon_price"]
    out = pd.concat(parts, ignore_index=True)[columns]
    out["horizon_time"] = pd.to_datetime(out["horizon_time"], utc=True)
    return out


def _model_accuracy(ctx: _Context, predictions: pd.DataFrame, records: list[dict]) -> dict:
    """Each model's direction accuracy on the distinct steps it predicted in the test folds (a long-term step
    serves many hourly decisions but counts once), per fold and pooled, with the training majority's accuracy."""
    from training.dependence import label_periods
    from training.metrics import accuracy, majority_accuracy

    from .decisions import forward_at

    out = {}
    for name in ctx.settings.models:
        steps = predictions[["fold", "symbol", f"{name}__step_time", f"{name}__p_up"]].dropna()
        steps = steps.drop_duplicates(["symbol", f"{name}__step_time"]).rename(
            columns={f"{name}__step_time": "step", f"{name}__p_up": "p_up"}
        )
        known = (np.array([]), np.array([], "datetime64[us]"))
        label, label_time = forward_at(ctx.con, MODELS[name], steps, time_column="step") if len(steps) else known
        steps = steps.assign(label=label, label_time=label_time).dropna(subset=["label"])
        periods = label_periods(*(_naive_utc(steps[c]) for c in ("step", "label_time")))
        per_fold, majority_hits = [], 0
        for record in records:
            model = next(m for m in record["models"] if m["model"] == name)
            mine = (steps["fold"] == record["fold"]).to_numpy()
            if model["majority_up"] is None or not mine.any():
                continue
            labels, fold_periods = steps["label"].to_numpy()[mine], np.unique(periods[mine], return_inverse=True)[1]
            fold_acc = accuracy(steps["p_up"].to_numpy()[mine], labels, fold_periods)
            base = majority_accuracy(model["majority_up"], labels, fold_periods)
            majority_hits += round(base["value"] * base["n"]) if base["value"] is not None else 0
            per_fold.append({"fold": record["fold"], "accuracy": fold_acc, "majority_accuracy": base})
        pooled = accuracy(steps["p_up"].to_numpy(), steps["label"].to_numpy(), periods)
        majority = majority_hits / len(steps) if len(steps) else None
        out[name] = {"pooled": pooled, "pooled_majority_accuracy": majority, "folds": per_fold}
    return out


def _naive_utc(column: pd.Series) -> np.ndarray:
    return pd.to_datetime(column, utc=True).dt.tz_convert(None).to_numpy()


def _calendars(ctx: _Context) -> dict[str, str]:
    from barstore.warehouse import query_arrow

    table = query_arrow(ctx.con, "SELECT symbol, calendar FROM raw.symbols")
    return dict(zip(table["symbol"].to_pylist(), table["calendar"].to_pylist()))


def _rules_dict(rules) -> dict:
    return {
        "sizes": dict(rules.sizes),
        "wait": rules.wait,
        "missing": rules.missing,
        "reduce_factor": rules.reduce_factor,
        "cost_bps": rules.cost_bps,
        "futures": {s: {f.name: getattr(c, f.name) for f in fields(c)} for s, c in rules.futures.items()},
    }


def _plain(value):
    """JSON-ready: enums as their values, NaN as None."""
    value = getattr(value, "value", value)
    return None if isinstance(value, float) and math.isnan(value) else value


def load_results(out: str | Path) -> dict:
    return json.loads((Path(out) / "results.json").read_text(encoding="utf-8"))
