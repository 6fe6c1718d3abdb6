"""No look-ahead: features known at a cut are the same whether or not later bars exist.

For each cut, a fresh warehouse gets only the bars that END at or before the cut; every indicator row it builds
must equal, bit for bit (NULL = NULL, NaN = NaN, every other value exactly), the full-history build's row, and
the full build must have no other row closing by the cut. Rows exist only for complete bars: the bar still
forming at the cut has none, and no row closes after the cut.
"""

from __future__ import annotations

import pandas as pd
import pytest

from .data_paths import need_data
from .feature_helpers import (
    BTC_HOURLY,
    BTC_OPTS,
    ES_FILE,
    ES_OPTS,
    LEAN_DAILY,
    LEAN_OPTS,
    LEAN_SUBSET,
    NY,
    column_differences,
    real_file,
    rows_differing,
    shared_warehouse,
    warehouse,
    write_slice,
)

TIMEFRAMES = ("1m", "1h", "1d")

# dataset: (file, options, SQL keeping the bars that end by the cut (cut = a naive literal in the file's clock),
#           the file's clock zone, extra filter for a small but varied history, timeframes built from it)
DATASETS = {
    # END-labelled ET minutes: a bar is before the cut when its label (its end) is
    "es": (ES_FILE, ES_OPTS, "ts_et <= TIMESTAMP '{cut}'", NY, "true", ("1m", "1h", "1d")),
    # START-labelled UTC hours
    "btc": (BTC_HOURLY, BTC_OPTS, "ts_utc + INTERVAL 1 HOUR <= TIMESTAMPTZ '{cut}:00+00'", "UTC", "true", ("1h", "1d")),
    # daily bars labelled by their date, stored at the 09:30 session start, complete at the 16:00 session end
    "lean": (
        LEAN_DAILY,
        LEAN_OPTS,
        "ts_et + INTERVAL '16 hours' <= TIMESTAMP '{cut}'",
        NY,
        LEAN_SUBSET,
        ("1d",),
    ),
}

CUTS = [
    ("es", "2020-01-03 10:07"),  # day 2, mid-hour: the 10:00 hour and the day are forming; < 8 blocks of history
    ("es", "2020-03-16 12:00"),  # the 11:00 hour completes exactly at the cut; the day is forming
    ("es", "2020-04-09 09:00"),  # before the open: the previous day is complete, nothing is forming
    ("es", "2020-04-21 15:43"),  # late in the file: reads start from a block far from 0
    ("btc", "2019-05-15 08:00"),  # inside an 11-hour outage: the last bar before it is the last row
    ("btc", "2021-01-01 00:00"),  # a day boundary: the 2020-12-31 daily bar completes exactly at the cut
    ("btc", "2023-06-14 17:00"),  # late: 1h reads start far from 0, the daily series past 2304 bars is not
    ("lean", "2008-09-15 12:00"),  # a Monday: bars up to Friday's
    ("lean", "2020-03-09 16:00"),  # 03-09's bar closes exactly at the cut
]


@pytest.fixture(scope="module")
def full_builds(tmp_path_factory):
    """dataset -> path of a warehouse built on the whole (filtered) file, built once per session (the TA-Lib
    tests read the same builds)."""

    def get(dataset):
        name, opts, _, _, subset, _ = DATASETS[dataset]
        need_data(name)
        return shared_warehouse(tmp_path_factory, name, opts, subset)

    return get


@pytest.mark.parametrize("dataset,cut", [pytest.param(d, c, id=f"{d}-{c}") for d, c in CUTS])
def test_features_at_cut_equal_full_history(tmp_path, full_builds, dataset, cut):
    name, opts, before_cut, zone, subset, timeframes = DATASETS[dataset]
    full_db = full_builds(dataset)
    cut_utc = pd.Timestamp(cut, tz=zone).tz_convert("UTC")
    path = write_slice(real_file(name), tmp_path / "bars.parquet", f"({subset}) AND {before_cut.format(cut=cut)}")
    con = warehouse(tmp_path / "w.duckdb", [(path, opts)])

    late = con.execute("SELECT count(*) FROM indicators WHERE ts_close > ?", [cut_utc]).fetchone()[0]
    assert late == 0, f"{late} feature rows close after the cut"

    for tf in TIMEFRAMES:
        in_tf = f"timeframe = '{tf}' AND ts_close <= TIMESTAMPTZ '{cut_utc.isoformat()}'"
        diff, n = rows_differing(con, full_db, "indicators", in_tf)
        assert diff == 0, (
            f"{tf}: {diff} rows differ between the truncated and the full build (of {n}): "
            f"{column_differences(con, full_db, in_tf)}"
        )
        assert n > 0 or tf not in timeframes, f"no {tf} rows before the cut"

    # the forming bars (the stored data has not reached their close) have no feature row
    for tf in TIMEFRAMES:
        forming = con.execute(
            f"SELECT count(*), count(i.ts) FROM bars_{tf} AS b LEFT JOIN indicators AS i "
            f"ON i.symbol = b.symbol AND i.timeframe = '{tf}' AND i.ts = b.ts WHERE NOT b.is_complete"
        ).fetchone()
        assert forming[1] == 0, f"{tf}: {forming[1]} forming bars have feature rows"
        complete = con.execute(
            f"SELECT count(*) FROM bars_{tf} AS b ANTI JOIN indicators AS i "
            f"ON i.symbol = b.symbol AND i.timeframe = '{tf}' AND i.ts = b.ts WHERE b.is_complete"
        ).fetchone()[0]
        assert complete == 0, f"{tf}: {complete} complete bars have no feature row"
    con.close()


def test_mid_hour_cut_leaves_the_hour_and_day_forming(tmp_path):
    """The ES cut at 10:07: the 10:00 hour and the 01-03 day exist as bars but are not complete, hence no row."""
    need_data(ES_FILE)
    path = write_slice(real_file(ES_FILE), tmp_path / "es.parquet", "ts_et <= TIMESTAMP '2020-01-03 10:07'")
    con = warehouse(tmp_path / "w.duckdb", [(path, ES_OPTS)])
    forming = con.execute(
        "SELECT 'bars_1h', ts FROM bars_1h WHERE NOT is_complete UNION ALL "
        "SELECT 'bars_1d', ts FROM bars_1d WHERE NOT is_complete ORDER BY 1"
    ).fetchall()
    assert [(t, str(ts.astimezone(pd.Timestamp(0, tz=NY).tzinfo))[:16]) for t, ts in forming] == [
        ("bars_1d", "2020-01-03 09:30"),
        ("bars_1h", "2020-01-03 10:00"),
    ]
    last = con.execute("SELECT timeframe, max(ts_close) FROM indicators GROUP BY 1 ORDER BY 1").fetchall()
    assert [(tf, str(pd.Timestamp(t).tz_convert(NY))[:16]) for tf, t in last] == [
        ("1d", "2020-01-02 16:00"),
        ("1h", "2020-01-03 10:00"),
        ("1m", "2020-01-03 10:07"),
    ]
    con.close()
