#!/usr/bin/env bash
# The long-term model's "> 55%" claim across many instruments, walk-forward by year:
#   bash reports/longterm_by_year.sh DATA_DIR [HOME]      (about 20 minutes on 2 cores)
# Test years 2016-2021: every year whose history before it gives the model some training data (the first coins
# start in 2014, the equities in 1998); fewer years leave the pooled interval wider than +/-3 points.
# DATA_DIR holds the vendor files named below; HOME (default ./.barstore-longterm) receives the workspace; the
# report lands in reports/backtest_longterm/ (report.md, results.json, predictions.parquet, accuracy_by_period.png).
# Instruments with hourly bars (the model's inputs need 1h and 4h bars of the same instrument): the 22
# CryptoCompare coins (2014-2021), the Lean hourly equities (SPY, AAPL, IBM, BAC, AIG, 1998-2021, split-adjusted
# here) and BTCUSDT spot hourly (2017-2024, cut at 2021-03-21 so that every instrument covers the same years).
set -euo pipefail
DATA=${1:?usage: longterm_by_year.sh DATA_DIR [HOME]}
HOME_DIR=${2:-.barstore-longterm}
BARSTORE=${BARSTORE:-.venv/bin/barstore}
PY=${PY:-.venv/bin/python}
EPOCHS=${EPOCHS:-2}
MAX_SAMPLES=${MAX_SAMPLES:-2000}
OUT=${OUT:-reports/backtest_longterm}
mkdir -p "$HOME_DIR/inputs"
export BARSTORE_HOME=$HOME_DIR

$PY - "$DATA" "$HOME_DIR/inputs" <<'PYEOF'
import sys, duckdb
data, out = sys.argv[1], sys.argv[2]
duckdb.sql(f"""COPY (SELECT * FROM read_csv('{data}/binance_spot_BTCUSDT_1hour_2017-08_2024-04.csv')
    WHERE ts_utc < TIMESTAMPTZ '2021-03-21 00:00:00+00') TO '{out}/btcusdt_hourly_to_2021-03.parquet'""")
PYEOF
$BARSTORE ingest "$DATA/cryptocompare_22coins_1hour_2014-2021.parquet" --timeframe 1h --calendar crypto_24x7
source reports/ingest_lean_hourly.sh
$BARSTORE ingest "$HOME_DIR/inputs/btcusdt_hourly_to_2021-03.parquet" --symbol BTCUSDT_SPOT --timeframe 1h \
    --calendar crypto_24x7
$BARSTORE build
$BARSTORE apply

COINS="ADAUSD,BCHUSD,BNBUSD,BSVUSD,BTCUSD,CROUSD,DASHUSD,DOGEUSD,EOSUSD,ETCUSD,ETHUSD,HTUSD,LINKUSD,LTCUSD,MIOTAUSD,NEOUSD,TRXUSD,XEMUSD,XLMUSD,XMRUSD,XRPUSD,XTZUSD"
EQUITIES="SPY,AAPL,IBM,BAC,AIG"
$BARSTORE backtest-model longterm_multitf --years 2016,2017,2018,2019,2020,2021 --symbols "$COINS,$EQUITIES,BTCUSDT_SPOT" \
    --group "22 coins=$COINS" --group "Lean equities=$EQUITIES" --group "BTCUSDT spot=BTCUSDT_SPOT" \
    --epochs "$EPOCHS" --max-samples "$MAX_SAMPLES" --seed 0 --out "$OUT"
