"""One model's direction calls, walk-forward by calendar period: does it call its horizon's direction better than
chance and the naive rules, on periods it never trained on?

    result = run_by_period(ws, ByPeriodSettings("longterm_multitf", periods=(2018, 2019, 2020, 2021)))
    result["pooled"]["model"]["accuracy"]  # value, low, high, periods (backtest.by_period_report renders it)

Per period (a calendar year, UTC):
1. the model is trained through the validation gate (`training.run.train_model`) on samples whose labels are known
   before the period starts (backtest.folds.training_cutoffs: an embargo of at least the horizon), at most
   `max_samples` of them spread evenly over all the history before;
2. every sample of the period whose label is known (every `stride`-th step of each symbol) is predicted from the
   fold's checkpoint: P(up) > 0.5 calls "up";
3. the same samples are called by the naive rules: always up; the training split's majority class; momentum
   (the sign of the return over the last horizon that is known at the decision time, e.g. the last 5 trading days
   for a 5-day label; no call, counted as a miss-free gap, where none is known).
Accuracy intervals: the block bootstrap over label periods of training.dependence: every symbol decided inside one
label period falls in the same block, so co-moving instruments are not counted as independent calls; the number
of such periods is printed beside n. Paired differences (model minus each rule) use the same blocks.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from barstore.errors import BarstoreError
from barstore.specs import MODELS

from .strategies import LONGTERM_ACCURACY

if TYPE_CHECKING:
    from rich.console import Console

    from barstore.home import Workspace

RULES = ("model", "always_up", "majority", "momentum")
CLAIM = LONGTERM_ACCURACY


@dataclass(frozen=True)
class ByPeriodSettings:
    model: str
    periods: tuple[int, ...]  # calendar years tested, each [Jan 1, next Jan 1) UTC
    symbols: tuple[str, ...] | None = None
    epochs: int | None = 2
    max_samples: int | None = 3000
    stride: int = 1  # test samples: every stride-th step of each symbol
    seed: int = 0
    device: str = "auto"
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # name -> symbols, reported apart

    def __post_init__(self):
        if self.model not in MODELS:
            raise BarstoreError(f"unknown model {self.model!r}; the models are {', '.join(MODELS)}")
        if not self.periods or sorted(set(self.periods)) != list(self.periods):
            raise BarstoreError("--years must name at least one year, in increasing order, each once")
        if self.stride < 1:
            raise BarstoreError(f"--stride must be at least 1 (got {self.stride})")

    def describe(self) -> dict:
        return {
            "model": self.model,
            "periods": list(self.periods),
            "symbols": list(self.symbols) if self.symbols else None,
            "epochs": self.epochs,
            "max_samples": self.max_samples,
            "stride": self.stride,
            "seed": self.seed,
            "device": self.device,
            "groups": {k: list(v) for k, v in self.groups.items()},
        }


def year_bounds(year: int) -> tuple[datetime, datetime]:
    return datetime(year, 1, 1, tzinfo=UTC), datetime(year + 1, 1, 1, tzinfo=UTC)


def run_by_period(
    ws: Workspace, settings: ByPeriodSettings, out: Path, console: Console | None = None, command: str | None = None
) -> tuple[dict, pd.DataFrame]:
    """Train and test per period (module docstring): (the run's record, one row per call), the folds' runs saved
    under `out`/folds/<year>/; backtest.by_period_report evaluates and writes them."""
    from rich.console import Console

    from barstore.feature_store import open_store
    from barstore.warehouse import connect
    from training.run import resolve_device

    from .folds import training_cutoffs
    from .momentum import known_returns
    from .run import FoldWorkspace

    console = console or Console()
    spec = MODELS[settings.model]
    symbols = list(settings.symbols) if settings.symbols else None
    con, store = connect(ws.warehouse, read_only=True), open_store(ws)
    device = resolve_device(settings.device)
    bounds = [year_bounds(y) for y in settings.periods]
    cutoffs = training_cutoffs(con, spec, [start for start, _ in bounds], symbols)
    known = known_returns(con, spec, symbols)

    started = time.perf_counter()
    frames, folds = [], []
    for year, (start, end), cutoff in zip(settings.periods, bounds, cutoffs):
        console.rule(f"{settings.model}: test {year}, trained on labels known before {start:%Y-%m-%d}")
        fold_ws = FoldWorkspace(ws.home, str(ws.project_dir), root=out / "folds" / str(year))
        record, frame = _fold(ws, fold_ws, settings, year, start, end, cutoff, store, con, device, known, console)
        folds.append(record)
        if frame is not None:
            frames.append(frame)
    calls = pd.concat(frames, ignore_index=True) if frames else _empty_calls()
    results = {
        "command": command,
        "settings": settings.describe() | {"out": str(out)},
        "folds": folds,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return results, calls


def _fold(ws, fold_ws, settings, year, start, end, cutoff, store, con, device, known, console):
    """(the fold's record, its calls frame or None when the model could not be trained or tested)."""
    from barstore.windows.selection import Selection, select_dataset
    from expectations.report import ValidationFailed
    from training.run import train_model

    from .folds import MICROSECOND
    from .momentum import momentum_at

    symbols = settings.symbols
    record = {"period": year, "start": start.isoformat(), "end": end.isoformat(), "until": cutoff.isoformat()}
    began = time.perf_counter()
    try:
        result = train_model(
            fold_ws,
            settings.model,
            Selection(symbols, until=cutoff, max_samples=settings.max_samples),
            epochs=settings.epochs,
            seed=settings.seed,
            device=device.type,
            console=console,
            store=store,
            con=con,
        )
    except ValidationFailed as failed:
        return record | {"reason": failed.report.summary().splitlines()[0]}, None
    except BarstoreError as err:
        return record | {"reason": str(err)}, None
    record |= {
        "run": str(result.run.path),
        "samples": result.metrics["samples"],
        "train_periods": result.metrics["periods"],
        "majority_class": result.metrics["majority_class"],
        "train_seconds": round(time.perf_counter() - began, 1),
    }
    last = end - MICROSECOND
    try:
        test = select_dataset(
            ws, MODELS[settings.model], Selection(symbols, since=start, until=last, stride=settings.stride)
        )
    except BarstoreError as err:
        return record | {"reason": f"no test samples: {err}"}, None
    if len(test) == 0:
        return record | {"reason": f"no labelled test sample in {year}"}, None
    pred = result.model.predict(test.matrix, test.ends, device)
    frame = pd.DataFrame(
        {
            "period": year,
            "symbol": [test.symbol_names[c] for c in test.symbol_codes],
            "time": test.timestamps,
            "label_time": test.label_times,
            "label": test.labels.numpy(),
            "p_up": pred.p_up,
        }
    )
    frame["majority_up"] = result.metrics["majority_class"] == "up"
    frame["momentum"] = momentum_at(known, frame)
    record["test_samples"] = len(frame)
    console.print(f"{year}: {len(frame):,} test calls on {frame['symbol'].nunique()} symbols", highlight=False)
    return record, frame


def _empty_calls() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "period": pd.Series([], dtype=int),
            "symbol": pd.Series([], dtype=object),
            "time": pd.Series([], dtype="datetime64[us]"),
            "label_time": pd.Series([], dtype="datetime64[us]"),
            "label": pd.Series([], dtype=float),
            "p_up": pd.Series([], dtype=float),
            "majority_up": pd.Series([], dtype=bool),
            "momentum": pd.Series([], dtype=float),
        }
    )


def rule_calls(calls: pd.DataFrame) -> dict[str, np.ndarray]:
    """Each rule's "up" call per row (NaN: no call)."""
    p_up = calls["p_up"].to_numpy(float)
    momentum = calls["momentum"].to_numpy(float)
    return {
        "model": np.where(np.isfinite(p_up), p_up > 0.5, np.nan),
        "always_up": np.ones(len(calls)),
        "majority": calls["majority_up"].to_numpy(bool).astype(float),
        "momentum": np.where(np.isfinite(momentum), momentum > 0, np.nan),
    }


def evaluate(calls: pd.DataFrame, groups: dict[str, tuple[str, ...]] | None = None) -> dict:
    """Accuracy of every rule with its dependence-respecting interval, and the model minus each rule (paired on
    the calls both make), pooled, per period and per symbol group; label periods are counted over the calls
    evaluated together."""
    out = {"pooled": _figures(calls), "by_period": {}, "by_group": {}, "by_symbol": {}}
    for period, part in calls.groupby("period"):
        out["by_period"][str(period)] = _figures(part)
    for name, members in (groups or {}).items():
        out["by_group"][name] = _figures(calls[calls["symbol"].isin(members)])
    for symbol, part in calls.groupby("symbol"):
        out["by_symbol"][symbol] = _figures(part, differences=False)
    return out


def _figures(calls: pd.DataFrame, differences: bool = True) -> dict:
    from training.dependence import accuracy_interval, label_periods, unanswered

    calls = calls.reset_index(drop=True)
    up = calls["label"].to_numpy(float) > 0
    periods = label_periods(calls["time"].to_numpy(), calls["label_time"].to_numpy()) if len(calls) else np.array([])
    made = rule_calls(calls)
    out = {
        "samples": len(calls),
        "symbols": int(calls["symbol"].nunique()),
        "periods": int(periods.max()) + 1 if len(periods) else 0,
        "up_share": float(up.mean()) if len(up) else None,
        # how often the model called up: a model that always calls the majority is the majority rule
        "model_up_calls": float(np.nanmean(made["model"])) if np.isfinite(made["model"]).any() else None,
    }
    for rule, call in made.items():
        ok = np.isfinite(call)
        hits = (call[ok] > 0.5) == up[ok]
        figure = {"value": float(hits.mean()) if ok.any() else None, "n": int(ok.sum())}
        if ok.any():
            figure |= accuracy_interval(hits.astype(float), _renumber(periods[ok]))
        else:
            figure |= unanswered(periods[:0])
        out[rule] = {"accuracy": figure}
    if differences:
        model = made["model"]
        for rule in RULES[1:]:
            ok = np.isfinite(model) & np.isfinite(made[rule])
            diff = ((model[ok] > 0.5) == up[ok]).astype(float) - ((made[rule][ok] > 0.5) == up[ok]).astype(float)
            figure = {"value": float(diff.mean()) if ok.any() else None, "n": int(ok.sum())}
            figure |= accuracy_interval(diff, _renumber(periods[ok])) if ok.any() else unanswered(periods[:0])
            out[f"model_minus_{rule}"] = figure
    return out


def _renumber(periods: np.ndarray) -> np.ndarray:
    """Periods 0..K-1 of a subset (the bootstrap resamples K blocks)."""
    return np.unique(periods, return_inverse=True)[1]


def verdict(figure: dict, claim: float = CLAIM) -> str:
    """ "supported" (the interval lies above the claim), "ruled out" (below it), "not ruled out" (it straddles it)
    or why there is no reading."""
    if figure.get("value") is None:
        return "no calls"
    if figure.get("too_few"):
        return f"too few periods for an interval ({figure['periods']})"
    if figure.get("low") is None:
        return "no interval"
    if figure["low"] > claim:
        return "supported"
    if figure["high"] < claim:
        return "ruled out"
    return "not ruled out"
