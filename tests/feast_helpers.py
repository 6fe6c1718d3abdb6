"""A small real workspace for the Feast tests: BTCUSDT hourly (2 years) and two Binance perpetuals (3 days of
minutes), ingested, built, and registered in a real Feast registry with a SQLite online store."""

from __future__ import annotations

from pathlib import Path

from barstore.feature_store import apply, open_store
from barstore.home import resolve_home

from .data_paths import need_data
from .feature_helpers import BINANCE_1M, BINANCE_OPTS, BTC_HOURLY, BTC_OPTS, real_file, warehouse, write_slice

BTC_WHERE = "ts_utc >= '2021-01-01' AND ts_utc < '2023-03-01'"
MINUTE_WHERE = "symbol IN ('ETHUSDT', 'SOLUSDT') AND ts_utc >= '2025-06-01' AND ts_utc < '2025-06-04'"


def feast_workspace(tmp: Path, btc_where: str = BTC_WHERE, minute_where: str = MINUTE_WHERE):
    """(workspace, warehouse connection, feature store) with every model built and feature_repo/ applied."""
    need_data(BTC_HOURLY, BINANCE_1M)
    tmp.mkdir(parents=True, exist_ok=True)
    btc = write_slice(real_file(BTC_HOURLY), tmp / "btc.csv", btc_where)
    minutes = write_slice(real_file(BINANCE_1M), tmp / "minutes.parquet", minute_where)
    con = warehouse(tmp / "warehouse.ducklake", [(btc, BTC_OPTS), (minutes, BINANCE_OPTS)])
    ws = resolve_home(tmp)
    apply(ws)
    return ws, con, open_store(ws)
