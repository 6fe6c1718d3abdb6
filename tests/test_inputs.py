"""Network inputs: each feature kind's stationary transform, recomputed here in float64 numpy; windows gathered by
index; normalization statistics fit batch by batch equal to one pass over all windows."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from barstore.inputs import (
    CVD,
    OSCILLATOR,
    PRICE,
    PRICE_UNITS,
    VOLUME,
    InputPipeline,
    Normalizer,
    feature_kind,
    gather_windows,
    stationary,
)
from barstore.specs import MODELS

HOURLY = MODELS["seq500_hourly"]
LONGTERM = MODELS["longterm_multitf"]

# The kinds written out by hand, so a change to the rules shows up here.
HOURLY_KINDS = {
    **{f"features_1h__{f}": PRICE for f in ("open", "high", "low", "close", "ma_20", "ma_50", "vwap_session")},
    **{f"features_1h__{f}": PRICE_UNITS for f in ("macd", "macd_signal", "macd_hist", "atr_14")},
    **{f"features_1h__{f}": CVD for f in ("cvd", "cvd_session", "cvd_ema_20")},
    **{f"features_1h__{f}": OSCILLATOR for f in ("log_return", "rsi_14", "bb_pctb_20", "close_vs_vwap", "volume_z_20")},
    "features_1h__volume": VOLUME,
    **{f"features_4h__{f}": PRICE for f in ("open", "high", "low", "close")},
    "features_4h__volume": VOLUME,
    "features_1d__rsi_14": OSCILLATOR,
    "features_1d__bb_pctb_20": OSCILLATOR,
    "features_1d__macd": PRICE_UNITS,
    "features_1d__atr_14": PRICE_UNITS,
    "features_1d__ma_20": PRICE,
    "features_1d__ma_50": PRICE,
}
LONGTERM_KINDS = {
    **{f"longterm_inputs__{p}_{f}": PRICE for p in ("d", "h4", "h1") for f in ("open", "high", "low", "close")},
    **{f"longterm_inputs__{p}_volume": VOLUME for p in ("d", "h4", "h1")},
    **{f"longterm_inputs__close_vs_{f}": OSCILLATOR for f in ("poc", "vah", "val")},
    "longterm_inputs__h1_cvd": CVD,
    "longterm_inputs__h1_cvd_ema_20": CVD,
    "longterm_inputs__rsi_14": OSCILLATOR,
    "longterm_inputs__bb_pctb_20": OSCILLATOR,
    "longterm_inputs__macd": PRICE_UNITS,
    "longterm_inputs__atr_14": PRICE_UNITS,
    "longterm_inputs__ma_20": PRICE,
    "longterm_inputs__ma_50": PRICE,
}


def test_every_feature_of_every_model_has_its_kind():
    assert {c: feature_kind(c) for c in HOURLY.columns} == HOURLY_KINDS
    assert {c: feature_kind(c) for c in LONGTERM.columns} == LONGTERM_KINDS
    for spec in MODELS.values():  # the minute models too: no feature is left without a rule
        assert all(feature_kind(c) for c in spec.columns)
    with pytest.raises(ValueError, match="no input transform"):
        feature_kind("features_1h__funding_rate")


def market_matrix(columns, rows: int, seed: int = 0) -> np.ndarray:
    """Plausible values per kind: prices around 30,000, volumes lognormal, CVD a running sum, oscillators small."""
    rng = np.random.default_rng(seed)
    close = 30_000 * np.exp(np.cumsum(rng.normal(0, 0.01, rows)))
    out = np.empty((rows, len(columns)))
    for j, column in enumerate(columns):
        kind = feature_kind(column)
        if kind == PRICE:
            out[:, j] = close * (1 + rng.normal(0, 0.005, rows))
        elif kind == PRICE_UNITS:
            out[:, j] = close * rng.normal(0, 0.01, rows)
        elif kind == VOLUME:
            out[:, j] = rng.lognormal(8, 0.5, rows)
        elif kind == CVD:
            out[:, j] = np.cumsum(rng.normal(0, 50, rows)) + 1e6
        else:
            out[:, j] = rng.normal(50, 10, rows)
    return out


def expected_transform(window: np.ndarray, columns, kinds: dict, close_column: str) -> np.ndarray:
    """The rules of barstore/inputs.py, one column at a time, in float64."""
    last_close = window[-1, columns.index(close_column)]
    out = np.empty_like(window)
    for j, column in enumerate(columns):
        x = window[:, j]
        kind = kinds[column]
        if kind == PRICE:
            out[:, j] = x / last_close - 1
        elif kind == PRICE_UNITS:
            out[:, j] = x / last_close
        elif kind == VOLUME:
            out[:, j] = np.log1p(x)
        elif kind == CVD:
            view, name = column.split("__")
            volume = window[:, columns.index(f"{view}__{name[: name.find('cvd')]}volume")]
            out[:, j] = (x - x[-1]) / volume.mean()
        else:
            out[:, j] = x
    return out


@pytest.mark.parametrize(
    ("spec", "kinds", "close"),
    [
        (HOURLY, HOURLY_KINDS, "features_1h__close"),
        (LONGTERM, LONGTERM_KINDS, "longterm_inputs__d_close"),
    ],
)
def test_stationary_applies_each_rule(spec, kinds, close):
    columns, steps = spec.columns, 40
    matrix = market_matrix(columns, 200)
    ends = np.array([39, 120, 199])
    got = stationary(gather_windows(matrix, ends, steps, dtype=torch.float64), columns)
    assert got.dtype == torch.float64 and got.shape == (3, steps, len(columns))
    for k, end in enumerate(ends):
        want = expected_transform(matrix[end - steps + 1 : end + 1], columns, kinds, close)
        np.testing.assert_allclose(got[k].numpy(), want, rtol=1e-12, atol=1e-12)


def test_cvd_differences_are_taken_before_the_float32_cast():
    """A running CVD of 1e12 with deltas of ~50: float32 alone (spacing 1e5 there) would return noise."""
    columns, steps = HOURLY.columns, 50
    matrix = market_matrix(columns, 80, seed=6)
    cvd = columns.index("features_1h__cvd")
    matrix[:, cvd] += 1e12
    norm = Normalizer(
        tuple(columns), torch.zeros(len(columns), dtype=torch.float64), torch.ones(len(columns), dtype=torch.float64)
    )
    x = InputPipeline(tuple(columns), steps, norm)(matrix, [79])
    assert x.dtype == torch.float32
    window = matrix[30:80]
    want = (window[:, cvd] - window[-1, cvd]) / window[:, columns.index("features_1h__volume")].mean()
    np.testing.assert_allclose(x[0, :, cvd].numpy(), want, rtol=1e-5, atol=1e-6)


def test_transformed_prices_do_not_depend_on_the_price_level():
    columns = HOURLY.columns
    matrix = market_matrix(columns, 120, seed=3)
    scaled = matrix.copy()
    for j, column in enumerate(columns):
        if feature_kind(column) in (PRICE, PRICE_UNITS):
            scaled[:, j] *= 7.3  # the same market at another price level
        elif feature_kind(column) in (VOLUME, CVD):
            scaled[:, j] *= 5.0  # and with five times the volume
    a = stationary(gather_windows(matrix, [119], 60, dtype=torch.float64), columns)
    b = stationary(gather_windows(scaled, [119], 60, dtype=torch.float64), columns)
    shifted = [j for j, c in enumerate(columns) if feature_kind(c) == VOLUME]
    same = [j for j in range(len(columns)) if j not in shifted]
    torch.testing.assert_close(a[..., same], b[..., same], rtol=1e-12, atol=1e-12)
    # log1p(5v) ~ log1p(v) + log 5: a level shift the normalizer removes
    torch.testing.assert_close(
        b[..., shifted] - a[..., shifted], torch.full_like(a[..., shifted], np.log(5.0)), atol=0.01, rtol=0
    )


def test_a_window_sees_only_its_own_rows():
    columns, steps, end = HOURLY.columns, 30, 60
    matrix = market_matrix(columns, 100, seed=4)
    before = stationary(gather_windows(matrix, [end, 90], steps), columns)[0]
    changed = matrix.copy()
    changed[: end - steps + 1] *= 3  # rows before the window
    changed[end + 1 :] *= 0.5  # rows after its decision step: the future
    alone = stationary(gather_windows(changed, [end], steps), columns)[0]  # and no other window in the batch
    assert torch.equal(before, alone)


def test_gather_windows_copies_only_the_batch():
    matrix = torch.arange(50 * 3, dtype=torch.float64).reshape(50, 3)
    x = gather_windows(matrix, torch.tensor([9, 49]), 10)
    assert x.dtype == torch.float32 and x.shape == (2, 10, 3)
    assert torch.equal(x[0], matrix[0:10].float()) and torch.equal(x[1], matrix[40:50].float())
    assert x.untyped_storage().data_ptr() != matrix.untyped_storage().data_ptr()
    assert torch.equal(gather_windows(matrix.numpy(), np.array([9]), 10), x[:1])  # numpy matrices too
    with pytest.raises(IndexError, match="starts before"):
        gather_windows(matrix, [8], 10)


def test_normalizer_fit_batch_by_batch_equals_one_pass():
    columns, steps = HOURLY.columns, 25
    matrix = market_matrix(columns, 300, seed=5)
    matrix[:, columns.index("features_1d__rsi_14")] = 55.0  # constant in training
    ends = np.arange(24, 300, 7)
    windows = gather_windows(matrix, ends, steps, dtype=torch.float64)
    every_step = stationary(windows, columns).reshape(-1, len(columns)).numpy()
    mean, std = every_step.mean(axis=0), every_step.std(axis=0)
    rsi = columns.index("features_1d__rsi_14")
    std[rsi] = 1.0  # a constant feature is centred, not divided by zero
    for batch_size in (1, 9, 1000):
        norm = Normalizer.fit(matrix, ends, steps, columns, batch_size=batch_size)
        np.testing.assert_allclose(norm.mean.numpy(), mean, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(norm.std.numpy(), std, rtol=1e-10, atol=1e-12)
    restored = Normalizer.from_dict(json.loads(json.dumps(norm.to_dict())))
    assert restored.columns == tuple(columns) and torch.equal(restored.mean, norm.mean)
    inputs = InputPipeline(tuple(columns), steps, restored)
    x = inputs(matrix, ends).double().reshape(-1, len(columns))
    np.testing.assert_allclose(x.mean(dim=0).numpy(), 0, atol=1e-4)
    np.testing.assert_allclose(np.delete(x.std(dim=0, correction=0).numpy(), rsi), 1, atol=1e-4)
    with pytest.raises(ValueError, match="other columns"):
        InputPipeline(tuple(reversed(columns)), steps, restored)
