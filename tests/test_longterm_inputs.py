"""The long-term model's 26 inputs: documented order, values from the right rows, no lookahead."""

from __future__ import annotations

import pytest

from barstore.specs import LONGTERM_INPUTS

from .data_paths import need_data
from .feature_helpers import BTC_HOURLY, BTC_OPTS, real_file, rows_differing, warehouse, write_slice


@pytest.fixture(scope="module")
def btc(tmp_path_factory):
    need_data(BTC_HOURLY)
    tmp = tmp_path_factory.mktemp("longterm")
    path = write_slice(real_file(BTC_HOURLY), tmp / "btc.csv", "ts_utc < '2019-06-01'")
    return warehouse(tmp / "full.duckdb", [(path, BTC_OPTS)]), path, tmp


def test_the_26_columns_in_order(btc):
    con, _, _ = btc
    columns = [r[0] for r in con.execute("DESCRIBE longterm_inputs").fetchall()]
    assert columns[:4] == ["symbol", "ts", "ts_close", "trading_day"]
    assert tuple(columns[4:]) == LONGTERM_INPUTS and len(LONGTERM_INPUTS) == 26


def test_inputs_come_from_the_last_completed_bars(btc):
    con, _, _ = btc
    # 1h and 4h inputs are the bars that closed last at or before the day's close; daily ones are that day's
    bad = con.execute(
        """
        SELECT count(*) FROM longterm_inputs AS l
        JOIN features_1d AS d USING (symbol, ts)
        LEFT JOIN (SELECT * FROM bars_4h WHERE is_complete) AS h4
            ON h4.symbol = l.symbol AND h4.close = l.h4_close AND h4.open = l.h4_open
            AND h4.ts_close = (SELECT max(ts_close) FROM bars_4h x
                               WHERE x.symbol = l.symbol AND x.is_complete AND x.ts_close <= l.ts_close)
        LEFT JOIN features_1h AS h1
            ON h1.symbol = l.symbol AND h1.cvd = l.h1_cvd
            AND h1.ts_close = (SELECT max(ts_close) FROM features_1h y
                               WHERE y.symbol = l.symbol AND y.ts_close <= l.ts_close)
        WHERE h4.symbol IS NULL OR h1.symbol IS NULL
           OR l.d_close <> d.close OR l.rsi_14 IS DISTINCT FROM d.rsi_14 OR l.ma_50 IS DISTINCT FROM d.ma_50
        """
    ).fetchall()[0][0]
    total = con.execute("SELECT count(*) FROM longterm_inputs").fetchall()[0][0]
    assert total > 600 and bad == 0
    # crypto days close at 00:00 UTC, where the 20:00-24:00 bar and the 23:00 hour close too
    row = con.execute(
        "SELECT l.ts_close, h.ts_close FROM longterm_inputs l JOIN features_1h h "
        "ON h.symbol = l.symbol AND h.cvd = l.h1_cvd ORDER BY l.ts DESC LIMIT 1"
    ).fetchall()[0]
    assert row[0] == row[1]


def test_truncated_history_gives_the_same_rows(btc):
    con, path, tmp = btc
    cut = "2019-03-10 13:00"
    short = write_slice(path, tmp / "short.csv", f"ts_utc < '{cut}'")
    warehouse(tmp / "short.duckdb", [(short, BTC_OPTS)]).close()
    diff, n = rows_differing(con, tmp / "short.duckdb", "longterm_inputs", f"ts_close <= '{cut}:00+00'")
    assert n > 500 and diff == 0
