#!/usr/bin/env bash
# The plan's ensemble claims on one real instrument with every model: the Bitfinex BTC/USD minutes (2019-01 .. 2021-03),
# walk-forward over 2020-02 .. 2021-03 in 4 folds, every model retrained per fold through the gate:
#   bash reports/backtest_bitfinex.sh DATA_DIR [HOME]      (about 40 minutes on 2 cores)
# DATA_DIR holds bitfinex_BTCUSD_1min_2019-01_2021-03.parquet; HOME (default ./.barstore-bitfinex) receives the
# workspace; the report lands in reports/backtest_bitfinex/ (report.md, results.json, decisions, predictions, PNG).
# Costs: 15 bps a side (Bitfinex's spot taker fee is 10-20 bps by volume tier). The long-term model needs a year of
# daily windows; the data starts 2019-01, so it has 0 samples before fold 2 and ~180 before fold 3: the gate's
# minimum for it is lowered to 100 here (200 in the project), and the strategies that read it are MISSING (flat)
# until it trains; their paired differences use only the periods both strategies could decide.
set -euo pipefail
DATA=${1:?usage: backtest_bitfinex.sh DATA_DIR [HOME]}
HOME_DIR=${2:-.barstore-bitfinex}
BARSTORE=${BARSTORE:-.venv/bin/barstore}
EPOCHS=${EPOCHS:-2}
MAX_SAMPLES=${MAX_SAMPLES:-1500}
OUT=${OUT:-reports/backtest_bitfinex}
export BARSTORE_HOME=$HOME_DIR

$BARSTORE ingest "$DATA/bitfinex_BTCUSD_1min_2019-01_2021-03.parquet" --symbol BTCUSD --timeframe 1m \
    --calendar crypto_24x7
$BARSTORE build
$BARSTORE apply
$BARSTORE backtest --symbols BTCUSD --since 2020-02-01 --until 2021-03-15 --folds 4 --epochs "$EPOCHS" \
    --max-samples "$MAX_SAMPLES" --cost-bps 15 --min-samples longterm_multitf=100 --seed 0 --out "$OUT"
