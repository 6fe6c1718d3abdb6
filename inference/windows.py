"""Online windows: what a prediction needs, in one lookup.

Feast keeps only the latest row per entity and has no sequence features (feast issues 1592, 2978), so
`materialize_windows` builds each model's latest window per symbol with the SAME code the training path uses
(spine -> Feast point-in-time retrieval -> window by index) and writes it to the online store as one
flattened Float64 array in the view `<model>_window`. `get_window` reads it back and reshapes it: the tensor is
the one the offline path builds for the same as-of time, bit for bit.

Context rows: the ensemble's REDUCE rule compares the hourly prediction with its recent level, the mean of the
hourly model's previous N predictions (`EnsembleSettings.recent_window`). Only the latest window is online, so
the hourly array holds N more rows before it (`CONTEXT_ROWS`): the windows ending 1..N steps earlier are its
sub-arrays. `get_window(s)` still return exactly the last `steps` rows; `get_context` / `OnlineWindow.context`
return the rows before them. Fewer than N are stored when a gap or a missing value lies that close before the
window (the earlier sub-windows would not be valid windows), so the recent level is then unknown, as it is
offline until N predictions exist. The stored `steps` field stays the window length; the row count is the
array's length over `n_features`, so arrays written before context rows existed still read back.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import pandas as pd
import torch

from barstore.errors import BarstoreError
from barstore.specs import MODELS, ModelSpec
from barstore.windows.index import why_no_window, window_ends
from barstore.windows.retrieval import aligned_matrix
from barstore.windows.spine import step_spine

from .ensemble import HOURLY_MODEL, EnsembleSettings

# N = the ensemble's default recent_window (6 hourly steps, about one RTH session): a project that raises
# [ensemble] recent_window gets an unknown recent level until windows are materialized with more context.
CONTEXT_ROWS: dict[str, int] = {HOURLY_MODEL: EnsembleSettings().recent_window}
WINDOW_FIELDS = ("window", "window_end_us", "steps", "n_features")  # each <model>_window view's fields


@dataclass
class LatestWindow:
    symbol: str
    end: np.datetime64  # the window's last step (decision time), UTC
    values: np.ndarray  # (context + steps, features) float64: the window, after `context` earlier rows
    context: int = 0


def latest_windows(
    store,
    con,
    spec: ModelSpec,
    as_of: datetime | None = None,
    symbols: list[str] | None = None,
    context: int | None = None,
) -> tuple[list[LatestWindow], dict[str, str]]:
    """Each symbol's window ending at its last step at or before `as_of`, with up to `context` rows before it
    (default CONTEXT_ROWS); and why other symbols have none."""
    context = CONTEXT_ROWS.get(spec.name, 0) if context is None else context
    matrix = _latest_matrix(store, con, spec, spec.steps + context, as_of, symbols)
    return ([], {}) if matrix is None else _cut_latest(matrix, spec, context)


def _latest_matrix(store, con, spec: ModelSpec, rows: int, as_of=None, symbols=None):
    """The aligned matrix of each symbol's last `rows` steps at or before `as_of` (None: no steps)."""
    spine = step_spine(con, spec, symbols=symbols, end=as_of, last=rows)
    return None if spine.num_rows == 0 else aligned_matrix(store, spec, spine)


def _cut_latest(matrix, spec: ModelSpec, context: int) -> tuple[list[LatestWindow], dict[str, str]]:
    """Each symbol's latest window of `spec.steps` rows (and up to `context` rows before it) in a matrix of its
    latest steps, which may hold more rows than that: the same spine's last rows are the same rows."""
    index = window_ends(matrix, spec.steps)
    valid = np.zeros(len(matrix.values), dtype=bool)
    valid[index.ends] = True
    windows, missing = [], {}
    starts = matrix.symbol_start()
    last_rows = np.flatnonzero(np.r_[starts[1:] != starts[:-1], True])  # each symbol's latest step
    for row in last_rows:
        name = matrix.symbol_names[matrix.symbol_codes[row]]
        if valid[row]:
            k = _valid_run_before(valid, row, context, int(starts[row]))
            values = np.ascontiguousarray(matrix.values[row - spec.steps - k + 1 : row + 1])
            windows.append(LatestWindow(name, matrix.times[row], values, k))
        else:
            missing[name] = why_no_window(matrix, row, spec.steps, int(starts[row]))
    return windows, missing


def _valid_run_before(valid: np.ndarray, row: int, most: int, first: int) -> int:
    """How many rows just before `row` (at most `most`, none before its symbol's first row `first`) end valid
    windows without interruption: then the rows from the earliest of those windows' start to `row` hold no
    break and no missing value, and every sub-window of them is one the offline path would keep."""
    k = 0
    while k < most and row - k - 1 >= first and valid[row - k - 1]:
        k += 1
    return k


def materialize_windows(
    store, con, as_of: datetime | None = None, models: list[str] | None = None, context: dict[str, int] | None = None
) -> dict:
    """Write every model's latest window per symbol (with its context rows, `CONTEXT_ROWS` unless `context`
    says otherwise) to the online store; returns counts per model. Models with the same inputs (the three
    minute models) share one spine and one retrieval of the longest one's rows: the freshness path's main cost."""
    names = models or list(MODELS)
    contexts = {m: (CONTEXT_ROWS if context is None else context).get(m, 0) for m in names}
    groups: dict[tuple, list[str]] = {}
    for name in names:
        groups.setdefault(MODELS[name].inputs, []).append(name)
    report = {}
    for group in groups.values():
        rows = {m: MODELS[m].steps + contexts[m] for m in group}
        longest = max(group, key=rows.get)
        matrix = _latest_matrix(store, con, MODELS[longest], rows[longest], as_of)
        for name in group:
            windows, missing = ([], {}) if matrix is None else _cut_latest(matrix, MODELS[name], contexts[name])
            _write_windows(store, MODELS[name], windows)
            report[name] = {"windows": len(windows), "without": missing}
    return {m: report[m] for m in names}


def _write_windows(store, spec: ModelSpec, windows: list[LatestWindow]) -> None:
    if not windows:
        return
    frame = pd.DataFrame(
        {
            "symbol": [w.symbol for w in windows],
            "window": [w.values.ravel().tolist() for w in windows],
            "window_end_us": [int(w.end.astype("datetime64[us]").astype(np.int64)) for w in windows],
            "steps": spec.steps,
            "n_features": spec.n_features,
            "event_timestamp": [pd.Timestamp(w.end, tz="UTC") for w in windows],
        }
    )
    store.write_to_online_store(f"{spec.name}_window", frame)


@dataclass(frozen=True)
class OnlineWindow:
    """One model's stored rows for one symbol: its latest window and the context rows before it."""

    model: str
    rows: torch.Tensor  # (context + steps, features) float64, oldest first
    steps: int
    end: datetime  # the window's last step (its bar close), UTC

    @property
    def window(self) -> torch.Tensor:
        """The latest window: the last `steps` rows, what the offline path builds for `end`."""
        return self.rows[-self.steps :]

    @property
    def context(self) -> torch.Tensor:
        """The rows before the window (row -1 is the step before the window's first)."""
        return self.rows[: len(self.rows) - self.steps]


def lookup_windows(store, symbol: str, models: list[str] | None = None) -> dict[str, OnlineWindow]:
    """Several models' stored rows for one symbol, one online-store read per window view; a model without an
    online window for the symbol is absent from the result (none at all: the symbol is not online).

    The reads go to the online store's own `online_read` (SQLite or Redis alike), not through
    `get_online_features`, whose reference parsing, registry walks and response building cost more than the
    five reads themselves; the values are Feast's protobufs all the same, read without turning ~57k doubles
    into Python floats."""
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    provider = store._get_provider()
    key = EntityKey(join_keys=["symbol"], entity_values=[Value(string_val=symbol)])
    views = _window_views(store)
    out = {}
    for m in models or list(MODELS):
        [(_, values)] = provider.online_read(config=store.config, table=views[m], entity_keys=[key],
                                             requested_features=list(WINDOW_FIELDS))  # fmt: skip
        if not values or len(values["window"].double_list_val.val) == 0:
            continue
        width = values["n_features"].int64_val
        rows = torch.from_numpy(np.array(values["window"].double_list_val.val, dtype=np.float64).reshape(-1, width))
        end = datetime.fromtimestamp(values["window_end_us"].int64_val / 1e6, tz=UTC)
        out[m] = OnlineWindow(m, rows, values["steps"].int64_val, end)
    return out


_views_of: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def _window_views(store) -> dict:
    """The window FeatureViews of this store, made once: Feast builds a view anew from the registry's protobuf on
    every get_feature_view (~0.4 ms each), and the window views' definitions never change (specs.py)."""
    views = _views_of.get(store)
    if views is None:
        views = {m: store.get_feature_view(f"{m}_window", allow_registry_cache=True) for m in MODELS}
        _views_of[store] = views
    return views


def get_window(store, symbol: str, model: str) -> torch.Tensor:
    """The latest materialized window of `model` for `symbol`: a (steps, features) float64 tensor."""
    return get_windows(store, symbol, [model])[model]


def get_windows(store, symbol: str, models: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Several models' windows for one symbol in one online lookup."""
    models = models or list(MODELS)
    found = lookup_windows(store, symbol, models)
    for m in models:
        if m not in found:
            raise BarstoreError(f"no online window of {m} for {symbol}: run `barstore materialize`")
    return {m: found[m].window for m in models}


def get_context(store, symbol: str, model: str) -> torch.Tensor:
    """The context rows stored before `model`'s latest window for `symbol` ((k, features), k <= CONTEXT_ROWS)."""
    found = lookup_windows(store, symbol, [model])
    if model not in found:
        raise BarstoreError(f"no online window of {model} for {symbol}: run `barstore materialize`")
    return found[model].context


def window_end(store, symbol: str, model: str) -> datetime:
    row = store.get_online_features(
        features=[f"{model}_window:window_end_us"], entity_rows=[{"symbol": symbol}]
    ).to_dict()
    return datetime.fromtimestamp(row["window_end_us"][0] / 1e6, tz=UTC)


def show_window(store, symbol: str, model: str) -> None:
    """Print a window's shape, end and its last three steps (the `barstore window` command)."""
    from rich.console import Console
    from rich.table import Table

    spec = MODELS.get(model)
    if spec is None:
        raise BarstoreError(f"unknown model {model!r}; the models are {', '.join(MODELS)}")
    values = get_window(store, symbol, model)
    console = Console()
    console.print(
        f"{model} window of {symbol}: {tuple(values.shape)} float64, "
        f"last step closed at {window_end(store, symbol, model):%Y-%m-%d %H:%M} UTC"
    )
    grid = Table(title="last 3 steps (raw values; models normalise them)", title_justify="left")
    grid.add_column("feature")
    for k in range(3, 0, -1):
        grid.add_column(f"t-{k - 1}" if k > 1 else "t", justify="right")
    for j, name in enumerate(spec.columns):
        grid.add_row(name, *(f"{float(values[-k, j]):.6g}" for k in range(3, 0, -1)))
    console.print(grid)
