"""A small real workspace for the Feast tests: BTCUSDT hourly (2 years) and two Binance perpetuals (3 days of
minutes), ingested, built, and registered in a real Feast registry with a SQLite online store."""

from __future__ import annotations

import shutil
from pathlib import Path

from barstore.feature_store import apply, open_store
from barstore.home import resolve_home
from barstore.lake import copy_lake
from barstore.warehouse import connect

from .data_paths import need_data
from .feature_helpers import BINANCE_1M, BINANCE_OPTS, BTC_HOURLY, BTC_OPTS, real_file, warehouse, write_slice

BTC_WHERE = "ts_utc >= '2021-01-01' AND ts_utc < '2023-03-01'"
MINUTE_WHERE = "symbol IN ('ETHUSDT', 'SOLUSDT') AND ts_utc >= '2025-06-01' AND ts_utc < '2025-06-04'"

_BUILT: dict[tuple[str, str], Path] = {}  # (btc_where, minute_where) -> a home built and registered once


def feast_workspace(tmp: Path, btc_where: str = BTC_WHERE, minute_where: str = MINUTE_WHERE):
    """(workspace, warehouse connection, feature store) with every model built and feature_repo/ applied, in tmp.

    Each pair of slices is ingested, built and registered once per test session; every caller gets a copy of its
    own (the warehouse and the Feast registry and online store), as the modules write runs, reports, verdicts and
    online windows into their homes."""
    need_data(BTC_HOURLY, BINANCE_1M)
    key = (btc_where, minute_where)
    if key not in _BUILT:
        built = tmp.parent / f"{tmp.name}_built"
        built.mkdir(parents=True)
        btc = write_slice(real_file(BTC_HOURLY), built / "btc.csv", btc_where)
        minutes = write_slice(real_file(BINANCE_1M), built / "minutes.parquet", minute_where)
        warehouse(built / "warehouse.ducklake", [(btc, BTC_OPTS), (minutes, BINANCE_OPTS)]).close()
        apply(resolve_home(built))
        _BUILT[key] = built
    built = _BUILT[key]
    tmp.mkdir(parents=True, exist_ok=True)
    copy_lake(built / "warehouse.ducklake", tmp / "warehouse.ducklake")
    for stamp in built.glob("warehouse.ducklake.*"):  # the build's compaction stamp: dated now, as if just built
        shutil.copyfile(stamp, tmp / stamp.name)
    shutil.copytree(built / "feast", tmp / "feast")
    con = connect(tmp / "warehouse.ducklake")
    ws = resolve_home(tmp)
    return ws, con, open_store(ws)
