"""A small synthetic workspace for the backtest tests, and the scrambling of its future bars.

One crypto symbol (24/7, so no calendar gap shortens anything) and one synthetic minute series of DAYS days; nothing
in the specs is shortened. Why 120 days: seq500_hourly's first window needs 50 daily bars (the daily context's ma_50)
plus 500 hourly steps, ~71 days; its 5-trading-day labels and the gate's purged 70/15/15 splits need ~35 days of
hourly samples before a fold's cutoff, or the purge empties its validation split; then the 5-day embargo and two
2-day test folds. The minute models have windows from their first day; they need MINUTE_DAYS of minutes (seq800's
3-day labels and the purge before its validation split: ~25 days before the cutoff), not 120. So the hourly, 4-hour
and daily bars of all DAYS days are ingested as such (the minutes aggregated into UTC buckets, as the resampler
would on this calendar), and the 1-minute bars of the last MINUTE_DAYS days alone: the minute tables (the bulk of
every build, label and gate query) hold 3/8 of the rows, and every model still has the bars it reads. The long-term
model (a year of daily steps after 50 days of indicator warm-up) never has a window, so the trend-filtered
strategies are reported as not available.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from barstore.home import Workspace, resolve_home
from barstore.specs import MODELS

from .data_paths import PROJECT_DIR

SYMBOL = "SYN_BTC"
DAYS = 120  # 2024-01-01 .. 2024-04-29
MINUTE_DAYS = 45  # 2024-03-16 .. 2024-04-29 in 1-minute bars
COARSER = {"1h": "1 hour", "4h": "4 hours", "1d": "1 day"}  # on a 24/7 calendar: UTC buckets from midnight
SEED = 7
TEST_SINCE = datetime(2024, 4, 26, tzinfo=UTC)  # two folds of 2 days: 04-26 .. 04-27, 04-28 .. 04-29
FOLDS = 2
# The gate's minimums lowered to what MAX_SAMPLES leaves; the long-term model keeps a minimum it cannot meet.
GATE_MIN_SAMPLES = {name: 60 for name in MODELS} | {"longterm_multitf": 20}
MAX_SAMPLES = 120
TINY = {"hidden_size": 8, "num_layers": 1}


def build_workspace(home: Path) -> Workspace:
    """Synthetic bars (the module docstring) -> raw.bars -> every SQL model -> Feast registry, in `home`; no
    connection left open."""
    import duckdb

    from barstore.feature_store import apply
    from barstore.ingest import IngestOptions, ingest_files
    from barstore.synthetic import generate_minute_bars
    from barstore.transform.runner import build_models
    from barstore.warehouse import connect

    home.mkdir(parents=True, exist_ok=True)
    minutes = generate_minute_bars(SYMBOL, "crypto_24x7", date(2024, 1, 1), DAYS, SEED, 42_000.0)
    first_minute = datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=DAYS - MINUTE_DAYS)
    files = {}
    with duckdb.connect() as agg:
        agg.execute("SET TimeZone = 'UTC'")
        agg.register("minutes", minutes)
        for timeframe, width in COARSER.items():
            files[timeframe] = home / f"{SYMBOL}_{timeframe}.parquet"
            agg.execute(
                f"COPY (SELECT time_bucket(INTERVAL '{width}', ts) AS ts, arg_min(open, ts) AS open, "
                "max(high) AS high, min(low) AS low, arg_max(close, ts) AS close, sum(volume) AS volume "
                f"FROM minutes GROUP BY 1 ORDER BY 1) TO '{files[timeframe]}' (FORMAT parquet)"
            )
        files["1m"] = home / f"{SYMBOL}_1m.parquet"
        agg.execute(
            f"COPY (SELECT * FROM minutes WHERE ts >= $first ORDER BY ts) TO '{files['1m']}' (FORMAT parquet)",
            {"first": first_minute},
        )
    con = connect(home / "warehouse.ducklake")
    try:
        for timeframe, path in files.items():
            options = IngestOptions(symbol=SYMBOL, timeframe=timeframe, calendar="crypto_24x7")
            ingest_files(con, [path], options, progress=False)
        build_models(con, PROJECT_DIR / "sql", show=False)
    finally:
        con.close()
    ws = resolve_home(home, PROJECT_DIR)
    apply(ws)
    return ws


def settings(**changes):
    """The tests' backtest settings: two folds at the end of the data, tiny networks, 1 epoch, lowered gate."""
    from backtest.run import BacktestSettings
    from expectations.settings import ValidationSettings

    values = {
        "folds": FOLDS,
        "epochs": 1,
        "max_samples": MAX_SAMPLES,
        "seed": 0,
        "since": TEST_SINCE,
        "device": "cpu",
        "gate": {name: ValidationSettings(min_samples=n) for name, n in GATE_MIN_SAMPLES.items()},
        "network_sizes": TINY,
        "bootstrap_reps": 200,
    }
    return BacktestSettings(**(values | changes))


def scrambled_copy(home: Path, into: Path, after: datetime) -> Workspace:
    """A copy of the workspace whose raw bars starting at or after `after` have other prices and volumes (each bar
    scaled by its own factor within +/-10%, so every bar stays valid OHLC), rebuilt from scratch."""
    from barstore.transform.runner import build_models
    from barstore.warehouse import connect

    shutil.copytree(home, into)
    con = connect(into / "warehouse.ducklake")
    try:
        changed = con.execute(
            """
            UPDATE raw.bars SET open = open * f, high = high * f, low = low * f, close = close * f, volume = volume * g
            FROM (SELECT ts AS t, 0.9 + (hash(ts) % 2001) / 10000.0 AS f, 0.5 + (hash(ts, 1) % 1001) / 1000.0 AS g
                  FROM raw.bars WHERE ts >= $after) AS k
            WHERE raw.bars.ts = k.t
            """,
            {"after": after},
        ).fetchone()[0]
        assert changed > 0
        build_models(con, PROJECT_DIR / "sql", full_refresh=True, show=False)
    finally:
        con.close()
    return resolve_home(into, PROJECT_DIR)
