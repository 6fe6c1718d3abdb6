"""`barstore sql`: a read-only query on the warehouse, shown as a table or written as CSV/JSON/Parquet."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import duckdb

from .errors import BarstoreError
from .warehouse import connect

MAX_TABLE_ROWS = 50
READABLE_WIDTH = 10  # a table column narrower than this (or than its text) is squeezed: show records instead
# DuckDB COPY options per format; JSON is one array so that the output is a single JSON document.
COPY_OPTIONS = {"csv": "FORMAT csv, HEADER true", "json": "FORMAT json, ARRAY true", "parquet": "FORMAT parquet"}


def run_query(
    warehouse_path: Path, query: str, fmt: str, output: Path | None = None, max_rows: int = MAX_TABLE_ROWS
) -> None:
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

    relation = con.sql(query)
    if relation is None:  # a statement without a result set
        Console().print("OK")
        return
    columns = relation.columns
    # Stream Arrow batches: keep the first rows to display and only count the rest.
    shown: list[tuple] = []
    total = 0
    for batch in relation.to_arrow_reader(10_000):
        if len(shown) < max_rows:
            head = batch.slice(0, max_rows - len(shown))
            shown.extend(zip(*(column.to_pylist() for column in head.columns)))
        total += batch.num_rows
    if output is None:
        _print_rows(Console(), columns, shown, total)
    else:
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "w", encoding="utf-8") as fh:
            _print_rows(Console(file=fh, width=200), columns, shown, total)


def _cell(value) -> str:
    return "NULL" if value is None else str(value)


def _print_rows(console, columns: list[str], rows: list[tuple], total: int) -> None:
    """One table; or, when it cannot fit the console without squeezing columns to nothing (a wide model such as
    longterm_inputs in 80 columns), one block of `column  value` lines per row, like psql's expanded display."""
    from rich.table import Table

    cells = [tuple(map(_cell, row)) for row in rows]
    # each column needs its natural width, up to READABLE_WIDTH, plus 3 characters of border and padding
    natural = [max([len(name), *(len(row[j]) for row in cells)]) for j, name in enumerate(columns)]
    if sum(min(w, READABLE_WIDTH) + 3 for w in natural) + 1 <= console.width:
        table = Table(*columns)
        for row in cells:
            table.add_row(*row)
        console.print(table)
    else:
        for k, row in enumerate(cells, start=1):
            record = Table(show_header=False, title=f"row {k}", title_justify="left", box=None, padding=(0, 1))
            record.add_column(style="bold", no_wrap=True)
            record.add_column(overflow="fold")
            for name, value in zip(columns, row):
                record.add_row(name, value)
            console.print(record)
    console.print(_caption(len(rows), total), highlight=False)


def _caption(shown: int, total: int) -> str:
    noun = "row" if total == 1 else "rows"
    return f"{total:,} {noun}" if shown == total else f"showing {shown:,} of {total:,} rows"
