"""Ingest of the real market bars in ../shared/data (skipped when that folder is absent)."""

from __future__ import annotations

from datetime import UTC, datetime

import duckdb

from barstore.ingest import IngestOptions, ingest_files

UTC = UTC


def ingest(ws, path, **opts):
    return ingest_files(ws, [path], IngestOptions(**opts), progress=False)


def span(ws, symbol):
    return ws.execute(
        "SELECT min(ts), max(ts), count(*), count(DISTINCT ts) FROM raw.bars WHERE symbol = ?", [symbol]
    ).fetchall()[0]


def test_es_end_labelled_minutes(ws, data_dir):
    report = ingest(
        ws,
        data_dir / "es_1min_rth_2020-01_2020-04.csv",
        symbol="ES",
        timeframe="1m",
        tz="America/New_York",
        label="end",
        calendar="cme_rth",  # ES trades on NYSE holidays (to 13:00 New York): CME's days, regular hours
    )
    assert report.total("inserted") == 30_397
    first, last, n, distinct = span(ws, "ES")
    assert first == datetime(2020, 1, 2, 14, 30, tzinfo=UTC)  # 09:31 end label -> 09:30 EST start
    assert last == datetime(2020, 4, 22, 19, 59, tzinfo=UTC)  # 16:00 EDT end -> 15:59 EDT start
    assert n == distinct == 30_397
    first_bar = ws.execute("SELECT open, high, low, close, volume FROM raw.bars ORDER BY ts LIMIT 1").fetchall()
    assert first_bar == [(3235.25, 3237.0, 3234.75, 3237.0, 16808.0)]


def test_nq_globex_minutes(ws, data_dir):
    ingest(
        ws,
        data_dir / "nq_1min_2023-11-19_2023-12-04.csv",
        symbol="NQ",
        timeframe="1m",
        tz="America/New_York",
        calendar="cme_globex",
        outside_session="keep",  # 15 bars after exchange_calendars' 12:00 Chicago close on 2023-11-24 (NQ: 12:15)
    )
    assert span(ws, "NQ") == (
        datetime(2023, 11, 19, 23, 0, tzinfo=UTC),
        datetime(2023, 12, 4, 21, 59, tzinfo=UTC),
        14_714,
        14_714,
    )
    assert ws.execute("SELECT calendar FROM raw.symbols WHERE symbol = 'NQ'").fetchall() == [("cme_globex",)]


def test_binance_perpetuals_slice(ws, data_dir, tmp_path):
    # Two symbols, one week: the scale file's shape (symbol column, ns timestamps) at test speed.
    sliced = tmp_path / "perp_week.parquet"
    src = str(data_dir / "binance_usdm_perp_1min_2025-05_2025-06.parquet").replace("'", "''")
    with duckdb.connect() as con:
        con.execute(
            f"COPY (SELECT * FROM read_parquet('{src}') WHERE symbol IN ('BTCUSDT', 'ETHUSDT') "
            "AND CAST(ts_utc AS TIMESTAMPTZ) >= TIMESTAMPTZ '2025-05-12 00:00:00+00' "
            "AND CAST(ts_utc AS TIMESTAMPTZ) < TIMESTAMPTZ '2025-05-19 00:00:00+00') "
            f"TO '{sliced}' (FORMAT parquet)"
        )
    report = ingest(ws, sliced, timeframe="1m", calendar="crypto_24x7")
    assert {c.symbol: c.inserted for c in report.counts} == {"BTCUSDT": 7 * 1440, "ETHUSDT": 7 * 1440}
    assert span(ws, "BTCUSDT")[:2] == (datetime(2025, 5, 12, tzinfo=UTC), datetime(2025, 5, 18, 23, 59, tzinfo=UTC))
    again = ingest(ws, sliced, timeframe="1m")
    assert (again.total("inserted"), again.total("unchanged")) == (0, 2 * 7 * 1440)


def test_btcusdt_hourly_aware_strings(ws, data_dir):
    report = ingest(
        ws,
        data_dir / "binance_spot_BTCUSDT_1hour_2017-08_2024-04.csv",
        symbol="BTCUSDT",
        timeframe="1h",
        calendar="crypto_24x7",
    )
    assert report.total("inserted") == 58_419
    assert span(ws, "BTCUSDT")[:2] == (datetime(2017, 8, 17, 4, tzinfo=UTC), datetime(2024, 4, 21, 14, tzinfo=UTC))
    assert ws.execute("SELECT count(*) FROM raw.bars WHERE volume = 0").fetchall() == [(4,)]


def test_lean_daily_bars_start_at_the_open(ws, data_dir):
    report = ingest(
        ws,
        data_dir / "lean_us_equity_daily_1998-2021.parquet",
        timeframe="1d",
        tz="America/New_York",
        calendar="us_rth",
    )
    assert report.total("inserted") == 48_507 and len(report.counts) == 10
    spy = ws.execute("SELECT ts FROM raw.bars WHERE symbol = 'SPY' ORDER BY ts").fetchall()
    assert spy[0][0] == datetime(1998, 1, 2, 14, 30, tzinfo=UTC)  # 09:30 EST
    assert spy[-1][0] == datetime(2021, 3, 31, 13, 30, tzinfo=UTC)  # 09:30 EDT
    local_times = ws.execute("SELECT DISTINCT CAST(timezone('America/New_York', ts) AS TIME) FROM raw.bars").fetchall()
    assert [str(t[0]) for t in local_times] == ["09:30:00"]
