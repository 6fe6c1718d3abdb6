"""Bad rows: refuse the file with the first few reasons, or quarantine them in raw.rejected_bars."""

from __future__ import annotations

import duckdb

from ..errors import IngestError
from ..warehouse import quote_ident
from .checks import STAGE
from .readers import ROW, SOURCE_VIEW

SHOWN = 5


def row_numbering(fmt: str, header: bool = True) -> str:
    if fmt == "csv" and header:
        return "rows numbered as in a spreadsheet: the header is row 1, the first bar row 2"
    return "rows numbered from 1 = the first record"


def refuse_bad_rows(
    con: duckdb.DuckDBPyConnection, source: str, fmt: str, bad: int, total: int, header: bool = True
) -> None:
    first = con.execute(
        f"SELECT {ROW}, reason FROM {STAGE} WHERE reason IS NOT NULL ORDER BY {ROW} LIMIT {SHOWN}"
    ).fetchall()
    lines = "\n".join(f"  row {row}: {reason}" for row, reason in first)
    more = f"\n  ... and {bad - len(first):,} more" if bad > len(first) else ""
    raise IngestError(
        f"{source}: {bad:,} bad row(s) out of {total:,} ({row_numbering(fmt, header)}):\n{lines}{more}\n"
        "Fix the file, or pass --on-bad-rows quarantine to load the good rows and keep the bad ones "
        "in raw.rejected_bars."
    )


def quarantine_bad_rows(con: duckdb.DuckDBPyConnection, source: str, columns: list[str], timeframe: str, now) -> None:
    """Store each bad row as read (JSON of its original columns) with its reason."""
    record = "to_json(struct_pack(" + ", ".join(f"{quote_ident(c)} := {quote_ident(c)}" for c in columns) + "))"
    con.execute(
        f"""
        INSERT INTO raw.rejected_bars (source, row_number, reason, record, symbol, timeframe, rejected_at)
        SELECT ?, s.{ROW}, s.reason, r.record, s.symbol, ?, ?
        FROM {STAGE} s
        JOIN (SELECT {ROW}, {record} AS record FROM {SOURCE_VIEW}
              WHERE {ROW} IN (SELECT {ROW} FROM {STAGE} WHERE reason IS NOT NULL)) r USING ({ROW})
        WHERE s.reason IS NOT NULL
        """,
        [source, timeframe, now],
    )
