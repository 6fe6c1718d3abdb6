"""A home of the single-file layout (warehouse.duckdb) is refused with the command that migrates it, and
`barstore migrate` moves its raw tables into the snapshot store unchanged."""

from __future__ import annotations

import duckdb

from .process_helpers import run_cli

# the raw tables as the single-file layout declared them (keys and a sequence, which the snapshot store has not)
OLD_SCHEMA = """
CREATE SCHEMA raw; CREATE SCHEMA meta;
CREATE SEQUENCE raw.batch_seq;
CREATE TABLE raw.symbols (symbol VARCHAR PRIMARY KEY, calendar VARCHAR NOT NULL, root VARCHAR, expiry DATE,
                          created_at TIMESTAMPTZ DEFAULT current_timestamp);
CREATE TABLE raw.bars (symbol VARCHAR NOT NULL, timeframe VARCHAR NOT NULL, ts TIMESTAMPTZ NOT NULL,
    open DOUBLE NOT NULL, high DOUBLE NOT NULL, low DOUBLE NOT NULL, close DOUBLE NOT NULL, volume DOUBLE NOT NULL,
    source VARCHAR, ingested_at TIMESTAMPTZ NOT NULL);
CREATE TABLE meta.model_runs (model VARCHAR PRIMARY KEY, sql_hash VARCHAR NOT NULL, last_batch_id BIGINT,
    mode VARCHAR NOT NULL, rows BIGINT, seconds DOUBLE, built_at TIMESTAMPTZ NOT NULL);
"""
BARS = """
INSERT INTO raw.symbols (symbol, calendar) VALUES ('OLD', 'crypto_24x7');
INSERT INTO raw.bars SELECT 'OLD', '1m', TIMESTAMPTZ '2024-01-01 00:00:00+00' + i * INTERVAL 1 MINUTE,
    100 + i, 101 + i, 99 + i, 100.5 + i, i, 'old.csv', now() FROM range(1000) AS r(i);
INSERT INTO meta.model_runs VALUES ('bars_1m', 'x', 1, 'full', 1000, 0.1, now());
"""
QUERY = "SELECT count(*) AS n, sum(close) AS total, min(ts), max(ts) FROM raw.bars WHERE symbol = 'OLD'"


def test_an_old_home_is_refused_with_the_command_then_migrated(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    with duckdb.connect(str(home / "warehouse.duckdb")) as con:
        con.execute(OLD_SCHEMA + BARS)
        expected = con.execute(QUERY).fetchall()[0]

    refused = run_cli(home, "sql", "SELECT 1")
    assert refused.returncode == 1
    assert "single-file layout" in refused.stderr and f"barstore migrate --home {home}" in refused.stderr

    done = run_cli(home, "migrate")
    assert done.returncode == 0, done.stderr
    assert "raw.bars: 1,000 rows" in done.stdout and "barstore build" in done.stdout
    assert (home / "warehouse.duckdb.migrated").exists() and not (home / "warehouse.duckdb").exists()

    result = run_cli(home, "sql", QUERY, "--format", "json")
    assert result.returncode == 0, result.stderr
    assert '"n":1000' in result.stdout.replace(" ", "")
    assert f'"total":{expected[1]}' in result.stdout.replace(" ", "")
    runs = run_cli(home, "sql", "SELECT count(*) AS n FROM meta.model_runs", "--format", "csv")
    assert runs.stdout.split() == ["n", "0"]  # the models rebuild in full
    again = run_cli(home, "migrate")
    assert again.returncode == 1 and "nothing to migrate" in again.stderr
