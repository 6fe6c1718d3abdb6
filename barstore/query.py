"""`barstore sql`: a read-only query on the warehouse, shown as a table or written as CSV/JSON/Parquet."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import duckdb

from .errors import BarstoreError
from .warehouse import connect

MAX_TABLE_ROWS = 50
# DuckDB COPY options per format; JSON is one array so that the output is a single JSON document.
COPY_OPTIONS = {"csv": "FORMAT csv, HEADER true", "json": "FORMAT json, ARRAY true", "parquet": "FORMAT parquet"}


def run_query(warehouse_path: Path, query: str, fmt: str, output: Path | None = None,
              max_rows: int = MAX_TABLE_ROWS) -> None:
    if fmt not in ("table", *COPY_OPTIONS):
        raise BarstoreError(f"unknown format {fmt!r}; use table, csv, json or parquet")
    if fmt == "parquet" and output is None:
        raise BarstoreError("--format parquet writes a binary file: give it one with --output FILE")
    query = query.strip().rstrip(";").strip()
    if not query:
        raise BarstoreError("empty query")
    output = Path(output) if output is not None else None
    con = connect(warehouse_path, read_only=True)
    try:
        if fmt == "table":
            _show_table(con, query, output, max_rows)
        elif output is not None:
            _copy(con, query, fmt, output)
        else:
            with tempfile.TemporaryDirectory() as tmp:
                path = Path(tmp) / f"out.{fmt}"
                _copy(con, query, fmt, path)
                text = path.read_text(encoding="utf-8")
                sys.stdout.write(text if text.endswith("\n") else text + "\n")
    except duckdb.Error as err:
        raise BarstoreError(f"query failed: {err}") from None
    finally:
        con.close()


def _copy(con: duckdb.DuckDBPyConnection, query: str, fmt: str, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    target = str(path).replace("'", "''")
    con.execute(f"COPY (\n{query}\n) TO '{target}' ({COPY_OPTIONS[fmt]})")


def _show_table(con: duckdb.DuckDBPyConnection, query: str, output: Path | None, max_rows: int) -> None:
    from rich.console import Console
    from rich.table import Table

    relation = con.sql(query)
    if relation is None:  # a statement without a result set
        Console().print("OK")
        return
    columns = relation.columns
    # Stream Arrow batches: keep the first rows to display and only count the rest.
    shown, total = [], 0
    for batch in relation.to_arrow_reader(10_000):
        if len(shown) < max_rows:
            shown.extend(batch.slice(0, max_rows - len(shown)).to_pylist())
        total += batch.num_rows
    table = Table(*columns)
    for row in shown:
        table.add_row(*("NULL" if v is None else str(v) for v in row.values()))
    if output is None:
        _print_table(Console(), table, len(shown), total)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "w", encoding="utf-8") as fh:
            _print_table(Console(file=fh, width=200), table, len(shown), total)


def _print_table(console, table, shown: int, total: int) -> None:
    console.print(table)
    console.print(_caption(shown, total), highlight=False)


def _caption(shown: int, total: int) -> str:
    noun = "row" if total == 1 else "rows"
    return f"{total:,} {noun}" if shown == total else f"showing {shown:,} of {total:,} rows"
