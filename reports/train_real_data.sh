#!/usr/bin/env bash
# Train the five models on real bars, at a size a 2-core machine finishes in about 20 minutes:
#   bash reports/train_real_data.sh DATA_DIR [HOME]
# DATA_DIR holds the vendor files named below; HOME (default ./.barstore-real) receives the workspace, the runs
# and reports/training_results.md (the README's table is copied from it).
# Minute models: ES (RTH, 2020-01..04) and the 18 Binance USDT-M perpetuals (2025-05..06).
# Hourly and long-term models: the Lean hourly equities (SPY, AAPL, IBM, BAC, AIG, 1998-2021, split-adjusted here)
# and BTCUSDT spot hourly (2017-2024).
set -euo pipefail
DATA=${1:?usage: train_real_data.sh DATA_DIR [HOME]}
HOME_DIR=${2:-.barstore-real}
BARSTORE=${BARSTORE:-.venv/bin/barstore}
PY=${PY:-.venv/bin/python}
EPOCHS=${EPOCHS:-2}
mkdir -p "$HOME_DIR/inputs"
export BARSTORE_HOME=$HOME_DIR

$BARSTORE ingest "$DATA/es_1min_rth_2020-01_2020-04.csv" --symbol ES --timeframe 1m --tz America/New_York \
    --label end --calendar cme_rth
$BARSTORE ingest "$DATA/binance_usdm_perp_1min_2025-05_2025-06.parquet" --timeframe 1m --calendar crypto_24x7
source reports/ingest_lean_hourly.sh
$BARSTORE ingest "$DATA/binance_spot_BTCUSDT_1hour_2017-08_2024-04.csv" --symbol BTCUSDT_SPOT --timeframe 1h \
    --calendar crypto_24x7
$BARSTORE build
$BARSTORE apply

MINUTE="ES,BTCUSDT,ETHUSDT,BNBUSDT,SOLUSDT,XRPUSDT,LTCUSDT,ADAUSDT,DOGEUSDT,DOTUSDT,AVAXUSDT,BCHUSDT,ENAUSDT,ETCUSDT,LAYERUSDT,LINKUSDT,SUIUSDT,XLMUSDT,XMRUSDT"
HOURLY="SPY,AAPL,IBM,BAC,AIG,BTCUSDT_SPOT"
$BARSTORE train seq300_minute --symbols "$MINUTE" --max-samples 3000 --epochs "$EPOCHS" --seed 0
$BARSTORE train seq500_minute --symbols "$MINUTE" --max-samples 2500 --epochs "$EPOCHS" --seed 0
$BARSTORE train seq800_minute --symbols "$MINUTE" --max-samples 2000 --epochs "$EPOCHS" --seed 0
$BARSTORE train seq500_hourly --symbols "$HOURLY" --max-samples 3000 --epochs "$EPOCHS" --seed 0
$BARSTORE train longterm_multitf --symbols "$HOURLY" --max-samples 1200 --epochs "$EPOCHS" --seed 0
$BARSTORE models
