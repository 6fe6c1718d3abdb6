# Sourced by the report scripts (needs PY, BARSTORE, DATA, HOME_DIR): the Lean hourly equities (SPY, AAPL, IBM, BAC,
# AIG, 1998-2021), split-adjusted (their prices are raw), ingested on the US regular-hours calendar.
mkdir -p "$HOME_DIR/inputs"
$PY reports/lean_hourly_adjusted.py "$DATA" "$HOME_DIR/inputs"
# Lean has hourly bars after the 13:00 close on 23 half days; its daily bars include them, so keep them too
$BARSTORE ingest "$HOME_DIR/inputs/lean_hourly_adjusted.parquet" --timeframe 1h --tz America/New_York \
    --calendar us_rth --outside-session keep
