"""Labels and the embargo on an exchange calendar: US regular hours around Juneteenth, the early close of
2024-07-03, Independence Day and weekends. Each model's training cutoff equals one derived here from
exchange_calendars' XNYS sessions alone (not from the warehouse's labels), no label of a training sample is
known at or after the fold's start, and no label reaches across a session close."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import numpy as np
import pytest

from backtest.folds import MICROSECOND, horizon_length, training_cutoffs
from barstore.specs import MODELS

from .data_paths import PROJECT_DIR

FIRST, DAYS = date(2024, 6, 14), 28  # 2024-06-14 (Fri) .. 07-11
STARTS = [
    datetime(2024, 6, 20, 14, 30, tzinfo=UTC),  # the first hourly close after Juneteenth (Wed 06-19, closed)
    datetime(2024, 7, 5, 14, 30, tzinfo=UTC),  # after the early close of 07-03 and the holiday of 07-04
    datetime(2024, 7, 8, 14, 30, tzinfo=UTC),  # a Monday after all of it
]


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    import pyarrow.parquet as pq

    from barstore.ingest import IngestOptions, ingest_files
    from barstore.synthetic import generate_minute_bars
    from barstore.transform.runner import build_models
    from barstore.warehouse import connect

    home = tmp_path_factory.mktemp("embargo")
    bars = home / "SPYX_1m.parquet"
    pq.write_table(generate_minute_bars("SPYX", "us_rth", FIRST, DAYS, 3, 500.0), bars)
    con = connect(home / "warehouse.ducklake")
    ingest_files(con, [bars], IngestOptions(symbol="SPYX", timeframe="1m", calendar="us_rth"), progress=False)
    build_models(con, PROJECT_DIR / "sql", show=False)
    yield con
    con.close()


def xnys_minute_closes() -> list[np.ndarray]:
    """Each XNYS session's one-minute bar closes (naive UTC), straight from exchange_calendars."""
    import exchange_calendars

    calendar = exchange_calendars.get_calendar("XNYS", start=FIRST.isoformat(), end="2024-07-31")
    sessions = calendar.schedule.loc[FIRST.isoformat() : (FIRST + timedelta(days=DAYS - 1)).isoformat()]
    minute = np.timedelta64(1, "m")
    out = []
    for opened, closed in zip(sessions["open"], sessions["close"], strict=True):
        first = np.datetime64(opened.tz_convert(None), "us") + minute
        last = np.datetime64(closed.tz_convert(None), "us")
        out.append(np.arange(first, last + minute, minute))
    return out


def expected_cutoff(model: str, start: datetime) -> datetime:
    """The last decision whose label is known before `start`, capped by the nominal horizon, derived from the
    XNYS minute closes: k bars ahead, or k sessions ahead at the same offset from the first close (the last
    close at or before it, an early close included)."""
    spec = MODELS[model]
    days = xnys_minute_closes()
    times = np.concatenate(days)
    if spec.horizon.bars:  # k bars ahead inside the same session (XNYS closes every evening)
        k = spec.horizon.bars
        label = np.concatenate(
            [np.r_[closes[k:], np.full(min(k, len(closes)), np.datetime64("NaT"), "datetime64[us]")] for closes in days]
        )
    else:
        k, label = spec.horizon.trading_days, []
        for d, closes in enumerate(days):
            for t in closes:
                if d + k >= len(days):
                    label.append(np.datetime64("NaT"))
                    continue
                later = days[d + k]
                target = later[0] + (t - closes[0])
                label.append(later[later <= target][-1])
        label = np.array(label, dtype="datetime64[us]")
    s = np.datetime64(start.replace(tzinfo=None), "us")
    unknown = times[~np.isnat(label) & (label >= s)]
    first = unknown.min().astype(datetime).replace(tzinfo=UTC)
    return min(start - horizon_length(spec), first - MICROSECOND)


@pytest.mark.parametrize("model", ["seq300_minute", "seq800_minute"])
def test_cutoffs_follow_the_exchange_calendar(con, model):
    got = training_cutoffs(con, MODELS[model], STARTS)
    assert got == [expected_cutoff(model, start) for start in STARTS]
    if model == "seq800_minute":  # 3 trading days back from Monday 07-08 (07-05, 07-03, 07-02): 6 calendar days
        assert got[2] == datetime(2024, 7, 2, 14, 30, tzinfo=UTC) - MICROSECOND
    else:  # no 60-bar label crosses the close of 07-03 (and the holiday): the nominal hour is the embargo
        assert got[1] == STARTS[1] - timedelta(hours=1)


def test_no_training_label_is_known_inside_the_fold(con):
    from barstore.windows.labels import forward_returns

    for name in ("seq300_minute", "seq500_minute", "seq800_minute", "seq500_hourly"):
        labels = forward_returns(con, MODELS[name]).to_pandas()
        labels = labels[labels["label_time"].notna()]
        for start, cutoff in zip(STARTS, training_cutoffs(con, MODELS[name], STARTS), strict=True):
            trained = labels[labels["event_timestamp"] <= cutoff]
            assert (trained["label_time"] < start).all(), (name, start)
            assert start - cutoff >= horizon_length(MODELS[name]), (name, start)


def test_labels_mean_one_horizon(con):
    """60-bar labels stay inside their session (the last hour of each has none); trading-day labels land on the
    k-th XNYS session after the decision's, at the same offset or that session's last bar."""
    from barstore.windows.labels import forward_returns

    days = xnys_minute_closes()
    session_of = {t: i for i, closes in enumerate(days) for t in closes.tolist()}

    def sessions(model: str) -> tuple[list[int], list[int]]:
        labels = forward_returns(con, MODELS[model]).to_pandas().dropna(subset=["label_time"])
        return tuple(
            [session_of[t] for t in labels[c].dt.tz_convert(None).to_numpy().astype("datetime64[us]").tolist()]
            for c in ("event_timestamp", "label_time")
        )

    decided, known = sessions("seq300_minute")
    assert decided == known
    assert len(decided) == sum(max(len(closes) - 60, 0) for closes in days)
    for model, k in (("seq500_minute", 1), ("seq800_minute", 3)):
        decided, known = sessions(model)
        assert [b - a for a, b in zip(decided, known, strict=True)] == [k] * len(decided), model
