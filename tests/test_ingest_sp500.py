"""The S&P 500 daily file (Yahoo bars, a symbol and a date column, an extra adj_close column, one real bad row):
a slice of 20 symbols incl. DXC, ingested in one call with quarantine, raw and adjusted."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import duckdb
import numpy as np
import pytest

from barstore.errors import IngestError

from .ingest_helpers import ingest

SP500 = "sp500_daily_1999-2020.parquet"
SYMBOLS = ("AAPL", "MSFT", "DXC", "JPM", "XOM", "KO", "PG", "GE", "IBM", "T")


@pytest.fixture
def sp500_slice(data_dir, tmp_path):
    """SYMBOLS (DXC among them) and the 10 alphabetically first others: 20 symbols in their own Parquet file."""
    path = tmp_path / "sp500_slice.parquet"
    src = str(data_dir / SP500).replace("'", "''")
    with duckdb.connect() as con:
        con.execute(f"""
            COPY (SELECT * FROM read_parquet('{src}') WHERE symbol IN (
                SELECT symbol FROM (SELECT DISTINCT symbol FROM read_parquet('{src}'))
                ORDER BY list_contains({list(SYMBOLS)}, symbol) DESC, symbol LIMIT 20)
                ORDER BY symbol, date)
            TO '{path}' (FORMAT parquet)
        """)
        rows, symbols = con.execute(f"SELECT count(*), count(DISTINCT symbol) FROM '{path}'").fetchall()[0]
    assert symbols == 20
    return path, rows


def sp500(ws, path, prices):
    return ingest(ws, path, timeframe="1d", calendar="us_rth", on_bad_rows="quarantine", prices=prices)


def compare_with_file(ws, path) -> list[tuple]:
    """Stored bars beside the file's rows, matched on symbol and the trading day in New York."""
    return ws.execute(f"""
        SELECT f.open, f.high, f.low, f.close, f.adj_close, f.volume, b.open, b.high, b.low, b.close, b.volume
        FROM raw.bars b JOIN read_parquet('{path}') f
          ON f.symbol = b.symbol AND CAST(f.date AS DATE) = CAST(timezone('America/New_York', b.ts) AS DATE)
    """).fetchall()


def test_missing_adjustment_choice_is_refused(ws, sp500_slice):
    path, _ = sp500_slice
    with pytest.raises(IngestError) as info:
        ingest(ws, path, timeframe="1d", calendar="us_rth", on_bad_rows="quarantine")
    assert "adjusted close column ('adj_close')" in str(info.value)
    assert "--prices raw:" in str(info.value) and "--prices adjusted:" in str(info.value)
    assert ws.execute("SELECT count(*) FROM raw.bars").fetchall() == [(0,)]


def test_raw_prices_with_the_bad_row_quarantined(ws, sp500_slice):
    path, rows = sp500_slice
    report = sp500(ws, path, "raw")
    assert (report.total("read"), report.total("inserted"), report.total("rejected")) == (rows, rows - 1, 1)
    assert report.for_symbol("DXC").rejected == 1

    (row, reason, record, symbol), *others = ws.execute(
        "SELECT row_number, reason, record, symbol FROM raw.rejected_bars"
    ).fetchall()
    assert not others
    rejected = json.loads(record)
    assert (symbol, rejected["date"], round(rejected["close"], 2), round(rejected["low"], 2)) == (
        "DXC",
        "2018-06-01",
        79.68,
        80.05,
    )
    assert reason.startswith("low 80.05") and "is above min(open, close) = 79.68" in reason
    file_row = ws.execute(
        f"SELECT file_row_number + 1 FROM read_parquet('{path}', file_row_number = true) "
        "WHERE symbol = 'DXC' AND date = '2018-06-01'"
    ).fetchall()[0][0]
    assert row == file_row

    # Daily bars sit at their trading day's 09:30 New York session open (EST in winter, EDT in summer).
    ts = ws.execute("SELECT ts FROM raw.bars WHERE symbol = 'AAPL' ORDER BY ts LIMIT 1").fetchall()[0][0]
    assert ts == datetime(1999, 12, 31, 14, 30, tzinfo=UTC)
    summer = ws.execute("SELECT ts FROM raw.bars WHERE symbol = 'AAPL' AND ts::DATE = '2020-06-01'").fetchall()
    assert summer == [(datetime(2020, 6, 1, 13, 30, tzinfo=UTC),)]

    matched = compare_with_file(ws, path)
    assert len(matched) == rows - 1
    assert all(m[:4] == m[6:10] and m[5] == m[10] for m in matched)  # as the file has them, to the bit


def test_adjusted_prices_include_dividends(ws, sp500_slice):
    path, rows = sp500_slice
    report = sp500(ws, path, "adjusted")
    assert (report.total("inserted"), report.total("rejected")) == (rows - 1, 1)
    matched = np.array(compare_with_file(ws, path), dtype=float)
    assert len(matched) == rows - 1 and np.isfinite(matched).all()
    o, h, low, c, adj, v, bo, bh, bl, bc, bv = matched.T
    factor = adj / c
    stored, expected = np.stack([bo, bh, bl, bc]), np.stack([o * factor, h * factor, low * factor, adj])
    # pytest.approx(expected, rel=1e-12) row by row, vectorized: |stored - expected| <= max(1e-12 |expected|, 1e-12)
    off = np.abs(stored - expected) > np.maximum(1e-12 * np.abs(expected), 1e-12)
    assert not off.any(), matched[off.any(axis=0)][:5]
    assert np.array_equal(bv, v)
    # 20 years of dividends: KO's first close of 2000 is stored at 0.419x the file's close.
    ko_close = ws.execute(
        "SELECT close FROM raw.bars WHERE symbol = 'KO' AND ts = TIMESTAMPTZ '2000-01-03 14:30:00+00'"
    ).fetchall()[0][0]
    assert ko_close == pytest.approx(11.811604499816895, rel=1e-12)  # adj_close; the raw close is 28.1875
