"""A full build in batches of symbols (bounded memory) writes exactly the tables of a build of all symbols at once."""

from __future__ import annotations

from dataclasses import replace

from barstore.ingest import IngestOptions, ingest_files
from barstore.transform.runner import build_models
from barstore.warehouse import connect
from barstore.warehouse_settings import warehouse_settings

from .data_paths import PROJECT_DIR, need_data
from .feature_helpers import rows_differing
from .test_resample_incremental import _slice

SYMBOLS = ("ADAUSDT", "BTCUSDT", "DOGEUSDT", "ETHUSDT", "SOLUSDT")
PER_SYMBOL = ("resampled_bars", "indicators", "volume_profile_day", "volume_profile_1d")


def _built(tmp_path, name: str, bars, batch: int):
    path = tmp_path / name / "warehouse.ducklake"
    path.parent.mkdir()
    settings = replace(warehouse_settings(home=path.parent), build_batch_symbols=batch)
    con = connect(path, settings=settings)
    ingest_files(con, [bars], IngestOptions(timeframe="1m", calendar="crypto_24x7"), progress=False)
    return con, {r.model: r for r in build_models(con, PROJECT_DIR / "sql", show=False)}


def test_batches_of_symbols_equal_one_batch(tmp_path):
    need_data("binance_usdm_perp_1min_2025-05_2025-06.parquet")
    bars = _slice(tmp_path, "bars", "2025-05-26 00:00", "2025-05-30 00:00", SYMBOLS)
    whole, _ = _built(tmp_path, "whole", bars, batch=0)
    whole.close()
    batched, results = _built(tmp_path, "batched", bars, batch=2)
    for model in PER_SYMBOL:
        assert results[model].mode == "full" and "in 3 batches of symbols" in results[model].reason
    tables = [r[0] for r in batched.execute("SELECT table_name FROM information_schema.tables "
                                            "WHERE table_catalog = current_database() AND table_schema = 'main' "
                                            "AND table_type = 'BASE TABLE'").fetchall()]  # fmt: skip
    assert set(PER_SYMBOL) <= set(tables)
    for table in tables:
        diff, n = rows_differing(batched, tmp_path / "whole" / "warehouse.ducklake", table)
        assert diff == 0, table
        if table in PER_SYMBOL:
            symbols = batched.execute(f"SELECT count(DISTINCT symbol) FROM {table}").fetchone()[0]
            assert n > 0 and symbols == len(SYMBOLS), table
