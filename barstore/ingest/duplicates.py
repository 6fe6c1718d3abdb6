"""Repeated timestamps inside one file: identical copies collapse to one row, differing ones are bad rows."""

from __future__ import annotations

import duckdb

from .checks import STAGE

_KEYS = "_ingest_dup_keys"
_GROUPS = "_ingest_dup_groups"
_SHOWN_ROWS = 5


def resolve_duplicates(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Mark or drop repeated (symbol, ts) among the good rows of STAGE; return dropped copies per symbol."""
    # Cheap first pass: nearly every file has no repeats, so only their keys are examined further.
    con.execute(
        f"CREATE OR REPLACE TEMP TABLE {_KEYS} AS "
        f"SELECT symbol, ts FROM {STAGE} WHERE reason IS NULL GROUP BY symbol, ts HAVING count(*) > 1"
    )
    if not con.execute(f"SELECT count(*) FROM {_KEYS}").fetchall()[0][0]:
        con.execute(f"DROP TABLE {_KEYS}")
        return {}
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE {_GROUPS} AS
        SELECT symbol, ts, list(__row ORDER BY __row) AS rows,
               count(DISTINCT {{'o': open, 'h': high, 'l': low, 'c': close, 'v': volume}}) AS variants
        FROM {STAGE} SEMI JOIN {_KEYS} USING (symbol, ts)
        WHERE reason IS NULL
        GROUP BY symbol, ts
    """)
    con.execute(f"""
        UPDATE {STAGE} SET reason = d.reason
        FROM (
            SELECT unnest(rows) AS __row,
                   'timestamp repeated with different values (rows '
                   || array_to_string(rows[:{_SHOWN_ROWS}], ', ')
                   || CASE WHEN len(rows) > {_SHOWN_ROWS} THEN ', ...' ELSE '' END || ')' AS reason
            FROM {_GROUPS} WHERE variants > 1
        ) d
        WHERE {STAGE}.__row = d.__row
    """)
    con.execute(f"DELETE FROM {STAGE} WHERE __row IN (SELECT unnest(rows[2:]) FROM {_GROUPS} WHERE variants = 1)")
    dropped = con.execute(
        f"SELECT symbol, sum(len(rows) - 1) FROM {_GROUPS} WHERE variants = 1 GROUP BY symbol"
    ).fetchall()
    con.execute(f"DROP TABLE {_GROUPS}; DROP TABLE {_KEYS}")
    return {symbol: int(n) for symbol, n in dropped}
