"""Split-adjust the Lean hourly equities (their prices are raw): price x split_factor, volume / split_factor.

python reports/lean_hourly_adjusted.py DATA_DIR OUT_DIR   # writes OUT_DIR/lean_hourly_adjusted.parquet
"""

import sys

import duckdb

data, out = sys.argv[1], sys.argv[2]
duckdb.sql(
    f"""COPY (SELECT symbol, ts_et, open * split_factor AS open, high * split_factor AS high,
    low * split_factor AS low, close * split_factor AS close, volume / split_factor AS volume
    FROM '{data}/lean_us_equity_1hour_1998-2021.parquet' ORDER BY symbol, ts_et)
    TO '{out}/lean_hourly_adjusted.parquet'"""
)
