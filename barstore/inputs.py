"""What a network sees of a window: rows gathered from the aligned matrix, made stationary, then normalized.

Used by training and by prediction alike, so both feed a network exactly the same numbers:

    inputs = InputPipeline(columns, steps, Normalizer.fit(matrix, train_ends, steps, columns))
    x = inputs(matrix, ends, device)        # (batch, steps, features) float32, ready for the LSTM

Raw prices drift over years, so a network trained on 2021 levels would meet unseen numbers in 2023. Each feature
is therefore turned into a number comparable across time by a rule chosen from its name (`feature_kind`):

- price levels (open/high/low/close, ma_*, vwap_*, poc/vah/val, and the d_/h4_/h1_ OHLC of the long-term
  inputs): ratio to the window's last close, minus 1, so the window reads "where prices stood relative to now";
- price differences (macd*, atr_*): divided by the window's last close (a fraction of the price);
- volumes: log1p (volumes span orders of magnitude; log makes a 2x move the same size at any level);
- cumulative CVD series (cvd, cvd_session, cvd_ema_20, h1_cvd, ...): change relative to the window's last value,
  divided by the mean volume of the same bar series in the window (net buying in units of a typical bar);
- oscillators (rsi_*, bb_pctb_*, close_vs_*, log_return, volume_z_*): already stationary, as they are.

Every rule reads only the window's own rows (the last row is the decision step), never a later row or another
window, so the transform adds no lookahead. The `Normalizer` then centres and scales each transformed feature
with statistics fit on the training split only and stored in the checkpoint.

The shared float64 matrix is never copied whole: `gather_windows` copies one batch of rows. The pipeline gathers
that batch in float64, transforms and normalizes it, and only then hands the network a float32 copy: CVD is a
running sum over the whole history, whose level can exceed one bar's delta a million times over (years of
minutes, volume counted in coins of a cheap asset), beyond float32's 7 digits, so its differences are taken first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

PRICE, PRICE_UNITS, VOLUME, CVD, OSCILLATOR = "price", "price_units", "volume", "cvd", "oscillator"
_CONTEXT_PREFIX = re.compile(r"^(d|h4|h1)_")  # the long-term inputs' daily / 4h / 1h bar fields
_PRICE_LEVELS = {"open", "high", "low", "close", "poc", "vah", "val"}


def feature_kind(column: str) -> str:
    """The transform rule of a window column ("view__feature" or a bare feature name); a ValueError for a
    feature no rule covers, so a new feature cannot reach a network untransformed."""
    name = column.split("__", 1)[-1]
    if name == "log_return" or name.startswith(("rsi_", "bb_pctb_", "close_vs_", "volume_z_")):
        return OSCILLATOR
    if "cvd" in name.split("_"):
        return CVD
    if name == "volume" or name.endswith("_volume"):
        return VOLUME
    if name.startswith(("macd", "atr_")):
        return PRICE_UNITS
    base = _CONTEXT_PREFIX.sub("", name)
    if base in _PRICE_LEVELS or base.startswith(("ma_", "vwap_")):
        return PRICE
    raise ValueError(f"no input transform is defined for feature {column!r}; add its kind to barstore/inputs.py")


@dataclass(frozen=True)
class _Plan:
    """Column positions of each kind, the reference close, and each CVD column's volume column."""

    close: int
    price: list[int]
    price_units: list[int]
    volume: list[int]
    cvd: list[int]
    cvd_volume: list[int]
    oscillator: list[int]


@lru_cache(maxsize=32)
def _plan(columns: tuple[str, ...]) -> _Plan:
    kinds = [feature_kind(c) for c in columns]
    by_kind = {
        k: [j for j, kind in enumerate(kinds) if kind == k] for k in (PRICE, PRICE_UNITS, VOLUME, CVD, OSCILLATOR)
    }
    # The step's own close comes first in window order (features_1h__close, longterm_inputs__d_close).
    closes = [j for j in by_kind[PRICE] if _CONTEXT_PREFIX.sub("", columns[j].split("__", 1)[-1]) == "close"]
    if not closes and (by_kind[PRICE] or by_kind[PRICE_UNITS]):
        raise ValueError(f"prices need a close column to be relative to; the columns are {list(columns)}")
    return _Plan(
        closes[0] if closes else -1,
        by_kind[PRICE],
        by_kind[PRICE_UNITS],
        by_kind[VOLUME],
        by_kind[CVD],
        [_volume_of(columns, j) for j in by_kind[CVD]],
        by_kind[OSCILLATOR],
    )


def _volume_of(columns: tuple[str, ...], j: int) -> int:
    """The volume column of the bar series a CVD column accumulates (features_1m__cvd -> features_1m__volume,
    longterm_inputs__h1_cvd_ema_20 -> longterm_inputs__h1_volume)."""
    view, _, name = columns[j].rpartition("__")
    prefix = name[: name.find("cvd")]
    wanted = f"{view}__{prefix}volume" if view else f"{prefix}volume"
    if wanted not in columns:
        raise ValueError(f"CVD column {columns[j]!r} needs its volume column {wanted!r} to be scaled by")
    return columns.index(wanted)


def stationary(x: torch.Tensor, columns: Sequence[str]) -> torch.Tensor:
    """The transform of a (batch, steps, features) float tensor whose columns are `columns` (see the module
    docstring); a new tensor of the same shape and dtype. Give it float64 windows (as `InputPipeline` does)
    where CVD values are large."""
    plan = _plan(tuple(columns))
    last = x[:, -1:, :]  # the decision step of each window: (batch, 1, features)
    out = torch.empty_like(x)

    def at(cols: list[int]) -> torch.Tensor:
        return torch.tensor(cols, dtype=torch.long, device=x.device)

    if plan.price or plan.price_units:
        close = last[..., plan.close : plan.close + 1]
        if plan.price:
            out[..., at(plan.price)] = x[..., at(plan.price)] / close - 1
        if plan.price_units:
            out[..., at(plan.price_units)] = x[..., at(plan.price_units)] / close
    if plan.volume:
        out[..., at(plan.volume)] = torch.log1p(x[..., at(plan.volume)].clamp_min(0))
    if plan.cvd:
        cvd, volume = at(plan.cvd), at(plan.cvd_volume)
        scale = x[..., volume].mean(dim=1, keepdim=True).clamp_min(1e-12)  # zero volume means no CVD change
        out[..., cvd] = (x[..., cvd] - last[..., cvd]) / scale
    if plan.oscillator:
        out[..., at(plan.oscillator)] = x[..., at(plan.oscillator)]
    return out


def gather_windows(
    matrix: torch.Tensor | np.ndarray,
    ends,
    steps: int,
    device: str | torch.device = "cpu",
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The windows ending at rows `ends` of the (rows, features) matrix as a (len(ends), steps, features) tensor
    of `dtype` on `device`: only these rows are copied, never the whole matrix. `matrix` may also be rows kept
    elsewhere that read their own windows (`windows(ends, steps)`: memory-mapped shards, barstore.windows.shards)."""
    if hasattr(matrix, "windows"):
        ends = torch.as_tensor(ends, dtype=torch.int64).numpy()
        return torch.from_numpy(matrix.windows(ends, steps)).to(device=device, dtype=dtype)
    matrix = torch.as_tensor(matrix)  # a numpy matrix is shared, not copied
    ends = torch.as_tensor(ends, dtype=torch.int64)
    rows = ends[:, None] - (steps - 1) + torch.arange(steps)
    if len(ends) and int(rows[:, 0].min()) < 0:
        raise IndexError(f"a window of {steps} steps ending at row {int(ends.min())} starts before the matrix")
    return matrix[rows].to(device=device, dtype=dtype)


@dataclass(frozen=True)
class Normalizer:
    """Per-feature mean and standard deviation of the transformed inputs, fit on training samples only."""

    columns: tuple[str, ...]
    mean: torch.Tensor  # (features,) float64
    std: torch.Tensor

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean.to(x.device)) / self.std.to(x.device)

    @classmethod
    def fit(cls, matrix, ends, steps: int, columns: Sequence[str], batch_size: int = 256) -> Normalizer:
        """Statistics over every step of the windows ending at `ends`, accumulated batch by batch in float64
        (Chan's pairwise update), so memory stays one batch whatever the number of samples. A feature that is
        constant in training gets std 1: it is centred, not blown up."""
        columns = tuple(columns)
        count, mean, m2 = (
            0,
            torch.zeros(len(columns), dtype=torch.float64),
            torch.zeros(len(columns), dtype=torch.float64),
        )
        for batch in torch.as_tensor(ends, dtype=torch.int64).split(batch_size):
            x = stationary(gather_windows(matrix, batch, steps, dtype=torch.float64), columns).reshape(-1, len(columns))
            n = len(x)
            batch_mean = x.mean(dim=0)
            delta = batch_mean - mean
            total = count + n
            mean = mean + delta * (n / total)
            m2 = m2 + ((x - batch_mean) ** 2).sum(dim=0) + delta**2 * (count * n / total)
            count = total
        if count == 0:
            raise ValueError("cannot fit a normalizer on no samples")
        std = (m2 / count).sqrt()
        std = torch.where(std > 1e-8, std, torch.ones_like(std))
        return cls(columns, mean, std)

    def to_dict(self) -> dict:
        """Plain lists, for the checkpoint (loads with torch.load(weights_only=True))."""
        return {"columns": list(self.columns), "mean": self.mean.tolist(), "std": self.std.tolist()}

    @classmethod
    def from_dict(cls, state: dict) -> Normalizer:
        return cls(
            tuple(state["columns"]),
            torch.tensor(state["mean"], dtype=torch.float64),
            torch.tensor(state["std"], dtype=torch.float64),
        )


@dataclass(frozen=True)
class InputPipeline:
    """gather (float64) -> stationary -> normalize -> float32 on `device`, for windows of `steps` rows of
    `columns`."""

    columns: tuple[str, ...]
    steps: int
    normalizer: Normalizer

    def __post_init__(self):
        if tuple(self.normalizer.columns) != tuple(self.columns):
            raise ValueError("the normalizer was fit on other columns than the pipeline's")

    def __call__(self, matrix, ends, device: str | torch.device = "cpu") -> torch.Tensor:
        return self.prepare(gather_windows(matrix, ends, self.steps, dtype=torch.float64), device)

    def prepare(self, windows: torch.Tensor, device: str | torch.device = "cpu") -> torch.Tensor:
        """The network's input from windows already gathered in float64 ((batch, steps, features))."""
        return self.normalizer(stationary(windows, self.columns)).to(device=device, dtype=torch.float32)
