"""Training windows: point-in-time features through Feast, cut by index, gaps and missing values dropped."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from barstore.specs import MODELS
from barstore.windows.index import AlignedMatrix, window_ends
from training import training_dataset

from .feast_helpers import feast_workspace


@pytest.fixture(scope="module")
def fs(tmp_path_factory):
    return feast_workspace(tmp_path_factory.mktemp("feast"))


def _dataset(fs, model, **kw):
    ws, con, store = fs
    return training_dataset(MODELS[model], home=str(ws.home), store=store, con=con, **kw)


@pytest.mark.parametrize("model", list(MODELS))
def test_every_model_has_a_dataset(fs, model):
    spec = MODELS[model]
    ds = _dataset(fs, model)
    if model == "seq800_minute":  # 3 days of minutes: no 3-trading-day label before the data ends
        assert len(ds) == 0 and ds.dropped["no label"] > 0
        return
    assert len(ds) > 100
    window, label = ds[len(ds) // 2]
    assert window.shape == (spec.steps, spec.n_features) and window.dtype.is_floating_point
    assert not window.isnan().any() and np.isfinite(float(label))
    # memory: the shared matrix plus small per-sample arrays, never steps x the matrix
    assert ds.nbytes() <= 1.2 * ds.matrix.numel() * ds.matrix.element_size()
    assert window.data_ptr() >= ds.matrix.data_ptr()  # a view into the matrix, not a copy


def test_window_rows_are_the_features_at_each_step(fs):
    ws, con, _ = fs
    ds = _dataset(fs, "seq300_minute")
    k = len(ds) // 3
    symbol, end = ds.symbol(k), pd.Timestamp(ds.timestamps[k], tz="UTC")
    expected = con.execute(
        "SELECT open, high, low, close, volume, log_return, rsi_14, macd, macd_signal, macd_hist, atr_14, bb_pctb_20,"
        " ma_20, ma_50, cvd, cvd_session, cvd_ema_20, vwap_session, close_vs_vwap, volume_z_20 FROM features_1m "
        "WHERE symbol = ? AND ts_close <= ? ORDER BY ts_close DESC LIMIT 300",
        [symbol, end],
    ).fetchnumpy()
    matrix = np.column_stack([expected[c] for c in expected])[::-1]
    assert np.array_equal(ds[k][0].numpy(), matrix)


def test_labels_are_forward_returns_from_future_bars(fs):
    _, con, _ = fs
    ds = _dataset(fs, "seq300_minute")
    k = 100
    symbol, end = ds.symbol(k), pd.Timestamp(ds.timestamps[k], tz="UTC")
    now, later = con.execute(
        "SELECT close, lead(close, 60) OVER (ORDER BY ts_close) FROM bars_1m WHERE symbol = ? AND is_complete "
        "QUALIFY ts_close = ?",
        [symbol, end],
    ).fetchall()[0]
    assert float(ds[k][1]) == pytest.approx(later / now - 1, rel=1e-15)
    # the label's bars lie after the window: its last row closes at the decision time
    assert float(ds[k][0][-1, 3]) == now


def test_hourly_steps_see_only_completed_4h_and_daily_bars(fs):
    """At every hourly step the 4h and 1d context is the last bar CLOSED at or before the step."""
    _, con, _ = fs
    ds = _dataset(fs, "seq500_hourly")
    cols = ds.columns
    h4_close, d_rsi = cols.index("features_4h__close"), cols.index("features_1d__rsi_14")
    for k in np.linspace(0, len(ds) - 1, 25).astype(int):
        symbol, end = ds.symbol(k), pd.Timestamp(ds.timestamps[k], tz="UTC")
        last = ds[int(k)][0][-1]
        four, daily = con.execute(
            "SELECT (SELECT close FROM features_4h WHERE symbol = $s AND ts_close <= $t "
            "ORDER BY ts_close DESC LIMIT 1),"
            " (SELECT rsi_14 FROM features_1d WHERE symbol = $s AND ts_close <= $t ORDER BY ts_close DESC LIMIT 1)",
            {"s": symbol, "t": end},
        ).fetchall()[0]
        assert float(last[h4_close]) == four and float(last[d_rsi]) == daily


def test_gaps_and_missing_values_are_dropped_and_counted():
    """Synthetic aligned matrix: a break and a NaN knock out exactly the windows that contain them."""
    n, steps = 40, 5
    values = np.arange(n * 2, dtype=float).reshape(n, 2)
    values[12, 1] = np.nan
    breaks = np.zeros(n, dtype=bool)
    breaks[25] = True  # link 24 -> 25 broken
    codes = np.array([0] * 30 + [1] * 10, dtype=np.int32)
    m = AlignedMatrix(values, codes, ["A", "B"], np.arange(n).astype("datetime64[us]"), breaks, ["x", "y"])
    labels = np.ones(n)
    labels[38] = np.nan
    index = window_ends(m, steps, labels)
    expected = [
        i
        for i in range(n)
        if (i < 30 and i >= 4 or i >= 34)  # whole window inside one symbol
        and not (i - 4 <= 12 <= i)  # no NaN row
        and not (i < 30 and i - 3 <= 25 <= i)  # no break between rows inside
        and i != 38
    ]
    assert index.ends.tolist() == expected
    assert index.dropped == {"gap": 4, "missing values": 5, "no label": 1}


def test_real_gaps_drop_windows(fs):
    ds = _dataset(fs, "seq500_hourly")
    assert ds.dropped["gap"] > 0  # BTCUSDT hourly has real exchange outages in 2021-2023
    assert len(ds) > 0


def test_stride_and_start(fs):
    full = _dataset(fs, "longterm_multitf")
    start = pd.Timestamp(full.timestamps[len(full) // 2]).to_pydatetime()
    later = _dataset(fs, "longterm_multitf", start=start, stride=2)
    assert 0 < len(later) <= len(full) // 2 // 2 + 2
    assert (later.timestamps >= np.datetime64(start.replace(tzinfo=None), "us")).all()
    # stride counts steps of each symbol: consecutive samples of a symbol are 2 days apart (crypto, no gaps)
    gaps = np.diff(later.timestamps[later.symbol_codes == later.symbol_codes[0]]).astype("timedelta64[h]")
    assert (gaps % np.timedelta64(48, "h") == np.timedelta64(0, "h")).all()


def test_dataset_opens_the_workspace_itself(fs):
    """No connection or store passed: the dataset opens them (here beside the test's own connection)."""
    ws, _, _ = fs
    ds = training_dataset(MODELS["longterm_multitf"], home=str(ws.home))
    assert len(ds) > 0 and ds[0][0].shape == (365, 26)


def test_a_connection_with_an_unread_result_can_be_passed(fs):
    """DuckDB 2.x refuses con.sql() while an execute() result is not read to its end; the training path must not
    fail on a connection the caller has just used that way."""
    ws, con, store = fs
    con.execute("SELECT symbol FROM features_1m").fetchone()  # rows left unread
    ds = _dataset(fs, "seq300_minute")
    assert len(ds) > 100


def test_a_selection_without_steps_is_a_plain_error(fs):
    """BTCUSDT has hourly bars only: the minute models have no step for it, which is the user's selection to fix
    (it used to surface as an offline-store ordering error)."""
    from barstore.errors import BarstoreError

    with pytest.raises(BarstoreError, match="seq300_minute has no 1m steps for this selection"):
        _dataset(fs, "seq300_minute", symbols=["BTCUSDT"])


def test_max_samples_retrieves_only_the_rows_of_the_chosen_windows(fs):
    """The bounded path: the same windows and labels as the whole dataset holds at those steps, spread over
    its span, from a matrix of at most max_samples x steps rows."""
    from barstore.windows.selection import Selection, select_dataset

    ws, con, store = fs
    full = _dataset(fs, "seq300_minute")
    ds = select_dataset(ws, MODELS["seq300_minute"], Selection(max_samples=10), store=store, con=con)
    assert len(ds) == 10
    assert len(ds.aligned.values) <= 10 * 300 < len(full.aligned.values)
    for k in range(len(ds)):
        hit = np.flatnonzero(
            (full.timestamps == ds.timestamps[k]) & (full.symbol_codes == full.symbol_names.index(ds.symbol(k)))
        )
        assert len(hit) == 1, k  # a window the whole dataset keeps too
        window, label = full[int(hit[0])]
        assert np.array_equal(ds[k][0].numpy(), window.numpy()) and float(ds[k][1]) == float(label)
    span = full.timestamps.max() - full.timestamps.min()
    assert ds.timestamps.max() - ds.timestamps.min() >= 0.9 * span
    assert ds.dropped["not sampled"] >= len(full) - 10


def test_a_spine_retrieved_in_chunks_gives_the_same_matrix(fs):
    from barstore.specs import model as model_spec
    from barstore.windows.retrieval import aligned_matrix
    from barstore.windows.spine import step_spine

    _, con, store = fs
    spec = model_spec("seq500_hourly")
    spine = step_spine(con, spec)
    whole = aligned_matrix(store, spec, spine)
    chunked = aligned_matrix(store, spec, spine, chunk_rows=spine.num_rows // 3 + 1)
    assert np.array_equal(whole.values, chunked.values, equal_nan=True)
    assert np.array_equal(whole.times, chunked.times) and whole.symbol_names == chunked.symbol_names
    assert np.array_equal(whole.symbol_codes, chunked.symbol_codes)
    assert np.array_equal(whole.break_before, chunked.break_before)
    assert whole.event_times.keys() == chunked.event_times.keys()
    for view in whole.event_times:
        assert np.array_equal(whole.event_times[view], chunked.event_times[view], equal_nan=True), view  # NaT: no row
    assert (~np.isnat(whole.event_times[view])).any()
