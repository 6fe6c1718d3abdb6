"""Incremental resample builds give exactly the tables a full rebuild gives, on real Binance bars."""

from __future__ import annotations

import duckdb
import pytest

from barstore.ingest import IngestOptions, ingest_files
from barstore.transform.runner import build_models
from barstore.warehouse import connect

from .data_paths import DATA, PROJECT_DIR, need_data
from .feature_helpers import rows_differing

SQL = PROJECT_DIR / "sql"
OPTS = IngestOptions(timeframe="1m", calendar="crypto_24x7")
TABLE = "resampled_bars"


def _slice(tmp_path, name, lo, hi, symbols=("BTCUSDT", "SOLUSDT")):
    """A slice of the Binance file, [lo, hi) UTC, written with duckdb (microsecond timestamps)."""
    path = tmp_path / f"{name}.parquet"
    src = DATA / "binance_usdm_perp_1min_2025-05_2025-06.parquet"
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    con.execute(
        f"COPY (SELECT * REPLACE (CAST(ts_utc AS TIMESTAMPTZ) AS ts_utc) FROM '{src}' "
        f"WHERE symbol IN {tuple(symbols)} AND CAST(ts_utc AS TIMESTAMPTZ) >= TIMESTAMPTZ '{lo}:00+00' "
        f"AND CAST(ts_utc AS TIMESTAMPTZ) < TIMESTAMPTZ '{hi}:00+00' ORDER BY symbol, ts_utc) "
        f"TO '{path}' (FORMAT parquet)"
    )
    con.close()
    return path


def _build(con, **kw):
    return {r.model: r for r in build_models(con, SQL, show=False, select="staging/ contracts/ bars/", **kw)}


def _same_table(a, b, table=TABLE):
    return rows_differing(a, b, table)


@pytest.mark.parametrize(
    "cut,end",
    [
        ("2025-06-03 13:37", "2025-06-03 13:38"),  # one new minute for every symbol
        ("2025-06-02 10:00", "2025-06-03 13:38"),  # a day of new bars
    ],
)
def test_append_equals_full_rebuild(tmp_path, cut, end):
    need_data("binance_usdm_perp_1min_2025-05_2025-06.parquet")
    old = _slice(tmp_path, "old", "2025-05-28 00:00", cut)
    new = _slice(tmp_path, "new", cut, end)
    inc = connect(tmp_path / "inc.duckdb")
    ingest_files(inc, [old], OPTS, progress=False)
    _build(inc)
    ingest_files(inc, [new], OPTS, progress=False)
    second = _build(inc)
    assert second[TABLE].mode == "incremental"
    full = connect(tmp_path / "full.duckdb")
    ingest_files(full, [old, new], OPTS, progress=False)
    _build(full)
    full.close()
    diff, n = _same_table(inc, tmp_path / "full.duckdb")
    assert n > 0 and diff == 0
    for tf in ["1h", "1d"]:
        diff, _ = _same_table(inc, tmp_path / "full.duckdb", f"bars_{tf}")
        assert diff == 0


def test_append_after_gap_completes_the_forming_bar(tmp_path):
    """Data stops mid-day, resumes two days later: the old day's bar becomes complete in both builds."""
    need_data("binance_usdm_perp_1min_2025-05_2025-06.parquet")
    old = _slice(tmp_path, "old", "2025-05-28 00:00", "2025-05-30 12:00")
    new = _slice(tmp_path, "new", "2025-06-01 00:00", "2025-06-01 06:00")
    inc = connect(tmp_path / "inc.duckdb")
    ingest_files(inc, [old], OPTS, progress=False)
    _build(inc)
    forming = inc.execute("SELECT count(*) FROM bars_1d WHERE NOT is_complete").fetchall()[0][0]
    assert forming == 2  # 05-30 for both symbols
    ingest_files(inc, [new], OPTS, progress=False)
    _build(inc)
    full = connect(tmp_path / "full.duckdb")
    ingest_files(full, [old, new], OPTS, progress=False)
    _build(full)
    full.close()
    for table in [TABLE, "bars_1d", "bars_4h"]:
        diff, _ = _same_table(inc, tmp_path / "full.duckdb", table)
        assert diff == 0, table
    assert inc.execute(
        "SELECT is_complete FROM bars_1d WHERE symbol = 'BTCUSDT' AND ts = '2025-05-30 00:00:00+00'"
    ).fetchall() == [(True,)]
