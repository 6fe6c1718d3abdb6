"""A small synthetic workspace for the backtest tests, and the scrambling of its future bars.

One crypto symbol (24/7, so no calendar gap shortens anything) with DAYS of 1-minute bars; nothing in the specs is
shortened. Why 120 days: seq500_hourly's first window needs 50 daily bars (the daily context's ma_50) plus 500
hourly steps, ~71 days; its 5-trading-day labels and the gate's purged 70/15/15 splits need ~35 days of hourly
samples before a fold's cutoff, or the purge empties its validation split; then the 5-day embargo and two 2-day
test folds. The minute models have windows from the first day. The long-term model (a year of daily steps after
50 days of indicator warm-up) never has one, so the trend-filtered strategies are reported as not available.
"""

from __future__ import annotations

import shutil
from datetime import UTC, date, datetime
from pathlib import Path

from barstore.home import Workspace, resolve_home
from barstore.specs import MODELS

from .data_paths import PROJECT_DIR

SYMBOL = "SYN_BTC"
DAYS = 120  # 2024-01-01 .. 2024-04-29
SEED = 7
TEST_SINCE = datetime(2024, 4, 26, tzinfo=UTC)  # two folds of 2 days: 04-26 .. 04-27, 04-28 .. 04-29
FOLDS = 2
# The gate's minimums lowered to what MAX_SAMPLES leaves; the long-term model keeps a minimum it cannot meet.
GATE_MIN_SAMPLES = {name: 60 for name in MODELS} | {"longterm_multitf": 20}
MAX_SAMPLES = 120
TINY = {"hidden_size": 8, "num_layers": 1}


def build_workspace(home: Path) -> Workspace:
    """Synthetic bars -> raw.bars -> every SQL model -> Feast registry, in `home`; no connection left open."""
    import pyarrow.parquet as pq

    from barstore.feature_store import apply
    from barstore.ingest import IngestOptions, ingest_files
    from barstore.synthetic import generate_minute_bars
    from barstore.transform.runner import build_models
    from barstore.warehouse import connect

    home.mkdir(parents=True, exist_ok=True)
    bars = home / f"{SYMBOL}_1m.parquet"
    pq.write_table(generate_minute_bars(SYMBOL, "crypto_24x7", date(2024, 1, 1), DAYS, SEED, 42_000.0), bars)
    con = connect(home / "warehouse.ducklake")
    try:
        ingest_files(con, [bars], IngestOptions(symbol=SYMBOL, timeframe="1m", calendar="crypto_24x7"), progress=False)
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
