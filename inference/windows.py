"""Online windows: what a prediction needs, in one lookup.

Feast keeps only the latest row per entity and has no sequence features (feast issues 1592, 2978), so
`materialize_windows` builds each model's latest window per symbol with the SAME code the training path uses
(spine -> Feast point-in-time retrieval -> window by index) and writes it to the online store as one
flattened Float64 array in the view `<model>_window`. `get_window` reads it back and reshapes it: the tensor is
the one the offline path builds for the same as-of time, bit for bit.
"""

from __future__ import annotations

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


@dataclass
class LatestWindow:
    symbol: str
    end: np.datetime64  # the window's last step (decision time), UTC
    values: np.ndarray  # (steps, features) float64


def latest_windows(
    store, con, spec: ModelSpec, as_of: datetime | None = None, symbols: list[str] | None = None
) -> tuple[list[LatestWindow], dict[str, str]]:
    """Each symbol's window ending at its last step at or before `as_of`; and why other symbols have none."""
    spine = step_spine(con, spec, symbols=symbols, end=as_of, last=spec.steps)
    if spine.num_rows == 0:
        return [], {}
    matrix = aligned_matrix(store, spec, spine)
    index = window_ends(matrix, spec.steps)
    ends = set(index.ends.tolist())
    windows, missing = [], {}
    starts = matrix.symbol_start()
    last_rows = np.flatnonzero(np.r_[starts[1:] != starts[:-1], True])  # each symbol's latest step
    for row in last_rows:
        name = matrix.symbol_names[matrix.symbol_codes[row]]
        if row in ends:
            values = np.ascontiguousarray(matrix.values[row - spec.steps + 1 : row + 1])
            windows.append(LatestWindow(name, matrix.times[row], values))
        else:
            missing[name] = why_no_window(matrix, row, spec.steps, int(starts[row]))
    return windows, missing


def materialize_windows(store, con, as_of: datetime | None = None, models: list[str] | None = None) -> dict:
    """Write every model's latest window per symbol to the online store; returns counts per model."""
    report = {}
    for name in models or list(MODELS):
        spec = MODELS[name]
        windows, missing = latest_windows(store, con, spec, as_of)
        if windows:
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
            store.write_to_online_store(f"{name}_window", frame)
        report[name] = {"windows": len(windows), "without": missing}
    return report


def get_window(store, symbol: str, model: str) -> torch.Tensor:
    """The latest materialized window of `model` for `symbol`: a (steps, features) float64 tensor."""
    return get_windows(store, symbol, [model])[model]


def get_windows(store, symbol: str, models: list[str] | None = None) -> dict[str, torch.Tensor]:
    """Several models' windows for one symbol in one online lookup."""
    models = models or list(MODELS)
    refs = [f"{m}_window:{f}" for m in models for f in ("window", "steps", "n_features")]
    response = store.get_online_features(features=refs, entity_rows=[{"symbol": symbol}], full_feature_names=True)
    # read the protobuf values directly: to_dict() would turn ~57k doubles into Python floats first
    proto = response.proto
    values = {name: result.values[0] for name, result in zip(proto.metadata.feature_names.val, proto.results)}
    out = {}
    for m in models:
        flat = values[f"{m}_window__window"].double_list_val.val
        if len(flat) == 0:
            raise BarstoreError(f"no online window of {m} for {symbol}: run `barstore materialize`")
        steps, width = values[f"{m}_window__steps"].int64_val, values[f"{m}_window__n_features"].int64_val
        out[m] = torch.from_numpy(np.array(flat, dtype=np.float64).reshape(steps, width))
    return out


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
