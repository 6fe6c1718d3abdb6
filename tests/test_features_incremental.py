"""Incremental feature builds give exactly the `indicators` table a full rebuild gives (bit for bit).

Bars are appended to a built warehouse (one new minute, a day, bars after a 2-day gap), the DAG is built again
(`indicators` must run incrementally), and the table is compared with a fresh warehouse that ingested the same
bars at once: EXCEPT ALL both ways, NULL = NULL and NaN = NaN, every other value exact.
"""

from __future__ import annotations

import duckdb
import pytest

from barstore.ingest import ingest_files

from .data_paths import need_data
from .feature_helpers import (
    BINANCE_1M,
    BINANCE_OPTS,
    BTC_HOURLY,
    BTC_OPTS,
    build,
    column_differences,
    real_file,
    rows_differing,
    shared_warehouse,
    warehouse,
    write_slice,
)

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT")


def _binance(lo, hi):
    ts = "CAST(ts_utc AS TIMESTAMPTZ)"  # the file's column is nanosecond TIMESTAMPTZ
    return f"symbol IN {SYMBOLS} AND {ts} >= TIMESTAMPTZ '{lo}:00+00' AND {ts} < TIMESTAMPTZ '{hi}:00+00'"


def _btc_hourly(lo, hi):
    return f"ts_utc >= TIMESTAMPTZ '{lo}:00+00' AND ts_utc < TIMESTAMPTZ '{hi}:00+00'"


def _binance_slice(tmp_path, name, lo, hi):
    return write_slice(real_file(BINANCE_1M), tmp_path / f"{name}.parquet", _binance(lo, hi))


CASES = {
    # ~10 days of 3 perpetuals: 1m reads start 8 blocks back from the new bars, far from row 0
    "one new minute": (
        _binance,
        BINANCE_1M,
        BINANCE_OPTS,
        ("2025-05-20 00:00", "2025-05-30 13:37"),
        ("2025-05-30 13:37", "2025-05-30 13:38"),
    ),
    # late in the UTC day: the session (1,430 minutes back) reaches further than the EMA blocks (<= 1,407 rows)
    "one new minute at 23:50": (
        _binance,
        BINANCE_1M,
        BINANCE_OPTS,
        ("2025-05-20 00:00", "2025-05-30 23:50"),
        ("2025-05-30 23:50", "2025-05-30 23:51"),
    ),
    # the same bars in the end as "one new minute" (its full rebuild serves both)
    "a day": (
        _binance,
        BINANCE_1M,
        BINANCE_OPTS,
        ("2025-05-20 00:00", "2025-05-29 10:00"),
        ("2025-05-29 10:00", "2025-05-30 13:38"),
    ),
    # data stops mid-day and resumes 2 days later: the old day's 1d bar and 12:00 hour become complete only now
    "after a 2-day gap": (
        _binance,
        BINANCE_1M,
        BINANCE_OPTS,
        ("2025-05-20 00:00", "2025-05-28 12:30"),
        ("2025-05-30 12:00", "2025-05-30 18:00"),
    ),
    # 6.7 years of hours: 1h and 1d series long enough that their reads too start from a block > 0; the new hour
    # is the file's last, so the full rebuild is the whole file's (the TA-Lib and look-ahead tests' build)
    "one new hour (BTCUSDT hourly)": (
        _btc_hourly,
        BTC_HOURLY,
        BTC_OPTS,
        ("2017-01-01 00:00", "2024-04-21 14:00"),
        ("2024-04-21 14:00", "2024-04-21 15:00"),
    ),
}


def _full_where(where, name, old_range, new_range) -> str:
    """The rows of old and new together, written as the shared full builds are keyed: one range when they touch,
    the whole file ('true') when they cover it."""
    if old_range[1] != new_range[0]:
        return f"({where(*old_range)}) OR ({where(*new_range)})"
    union = where(old_range[0], new_range[1])
    everything, covered = duckdb.sql(
        f"SELECT count(*), count(*) FILTER (WHERE {union}) FROM '{real_file(name)}'"
    ).fetchone()
    return "true" if covered == everything else union


@pytest.mark.parametrize("case", [pytest.param(c) for c in CASES])
def test_append_then_incremental_build_equals_full_rebuild(tmp_path, tmp_path_factory, case):
    where, name, opts, old_range, new_range = CASES[case]
    need_data(name)
    old = write_slice(real_file(name), tmp_path / "old.parquet", where(*old_range))
    new = write_slice(real_file(name), tmp_path / "new.parquet", where(*new_range))

    inc = warehouse(tmp_path / "inc.duckdb", [(old, opts)])
    before = inc.execute("SELECT count(*) FROM indicators").fetchone()[0]
    ingest_files(inc, [new], opts, progress=False)
    second = build(inc)
    assert second["indicators"].mode == "incremental", second["indicators"]
    assert inc.execute("SELECT mode FROM meta.model_runs WHERE model = 'indicators'").fetchall() == [("incremental",)]
    after = inc.execute("SELECT count(*) FROM indicators").fetchone()[0]
    assert after > before
    # an increment recomputes a tail, not the table
    assert second["indicators"].rows < 0.5 * after, second["indicators"]

    # a full build of the same bars, ingested at once (built once per session and shared where cases agree)
    full = shared_warehouse(tmp_path_factory, name, opts, _full_where(where, name, old_range, new_range))
    diff, n = rows_differing(inc, full, "indicators")
    assert n == after
    assert diff == 0, f"{diff} rows differ from a full rebuild (of {n}): {column_differences(inc, full)}"
    inc.close()


def test_nothing_new_is_up_to_date(tmp_path):
    need_data(BINANCE_1M)
    con = warehouse(
        tmp_path / "w.duckdb", [(_binance_slice(tmp_path, "old", "2025-05-28 00:00", "2025-05-29 00:00"), BINANCE_OPTS)]
    )
    rows = con.execute("SELECT count(*) FROM indicators").fetchone()[0]
    assert build(con)["indicators"].mode == "up to date"
    assert con.execute("SELECT count(*) FROM indicators").fetchone()[0] == rows


def test_revised_bar_mid_history_then_incremental_build_equals_full_rebuild(tmp_path):
    """A vendor correction: one stored minute, days back, re-ingested with other values (--replace). The increment
    recomputes from that minute on (CVD, EMAs, sessions, profiles after it all change) and must equal a full rebuild
    of the corrected data, for every feature table."""
    from barstore.ingest import IngestOptions

    need_data(BINANCE_1M)
    bars = _binance_slice(tmp_path, "bars", "2025-05-20 00:00", "2025-05-30 00:00")
    revised = tmp_path / "revised.parquet"
    con = duckdb.connect()
    con.execute(
        f"COPY (SELECT * REPLACE (high * 1.01 AS high, close * 1.005 AS close, volume * 3 AS volume) "
        f"FROM '{bars}' WHERE symbol = 'ETHUSDT' AND ts_utc = TIMESTAMPTZ '2025-05-24 09:17:00+00') "
        f"TO '{revised}' (FORMAT parquet)"
    )
    corrected = tmp_path / "corrected.parquet"
    con.execute(
        f"COPY (SELECT * FROM '{bars}' WHERE NOT (symbol = 'ETHUSDT' AND ts_utc = "
        f"TIMESTAMPTZ '2025-05-24 09:17:00+00') UNION ALL SELECT * FROM '{revised}' ORDER BY ALL) "
        f"TO '{corrected}' (FORMAT parquet)"
    )
    con.close()

    inc = warehouse(tmp_path / "inc.duckdb", [(bars, BINANCE_OPTS)])
    ingest_files(inc, [revised], IngestOptions(**{**BINANCE_OPTS.__dict__, "replace": True}), progress=False)
    second = build(inc)
    assert second["indicators"].mode == "incremental" and second["volume_profile_1d"].mode == "incremental"
    warehouse(tmp_path / "full.duckdb", [(corrected, BINANCE_OPTS)]).close()
    for table in ("indicators", "volume_profile_day", "volume_profile_1d", "longterm_inputs", "resampled_bars"):
        diff, n = rows_differing(inc, tmp_path / "full.duckdb", table)
        assert n > 0 and diff == 0, f"{table}: {diff} of {n} rows differ from a full rebuild"
    minute = "symbol = 'ETHUSDT' AND ts = TIMESTAMPTZ '2025-05-24 09:17:00+00'"
    stored = inc.execute(f"SELECT close, volume FROM indicators WHERE timeframe = '1m' AND {minute}").fetchall()
    assert (
        stored
        == duckdb.sql(
            f"SELECT close, volume FROM '{revised}' AS r WHERE {minute.replace('ts =', 'ts_utc =')}"
        ).fetchall()
    )  # the correction is in
    # the correction did change later features (the case is not trivial)
    changed = inc.execute(
        "SELECT count(*) FROM indicators WHERE symbol = 'ETHUSDT' AND timeframe = '1m' "
        "AND ts >= TIMESTAMPTZ '2025-05-24 09:17:00+00'"
    ).fetchone()[0]
    assert second["indicators"].rows >= changed > 5000
    inc.close()
