"""Open a bar file as the relation `_ingest_src`: its columns as read plus a 1-based `__row`.

Row numbers are what a person opening the file sees: in CSV the header is row 1, so the first
data row is row 2 (as in a spreadsheet); in a headerless CSV and in Parquet and JSON the first record is row 1.
The format is chosen by the file extension and checked, so a mislabelled file fails clearly.
Parquet is scanned in place by DuckDB (fast, parallel); CSV (all text, so that bad cells reach the
row checks instead of aborting the parse) and JSON are read into Arrow first."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from ..errors import IngestError
from ..warehouse import quote_ident
from .timestamps import sql_literal

if TYPE_CHECKING:
    import pyarrow as pa

ROW = "__row"
SOURCE_VIEW = "_ingest_src"

FORMATS = {
    ".csv": "csv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
}

_SNIFF_BYTES = 8192


@dataclass(frozen=True)
class Source:
    path: Path
    fmt: str
    rows: int
    columns: dict[str, str]  # name -> DuckDB type, without __row
    arrow: bool  # registered Arrow table (else a temp view over the file)
    header: bool = True  # CSV: the first line names the columns (row 1)

    @property
    def first_row(self) -> int:
        return 2 if self.fmt == "csv" and self.header else 1


def file_format(path: Path) -> str:
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise IngestError(
            f"{path}: unknown file type {path.suffix or '(no extension)'!r}; use one of {', '.join(FORMATS)}"
        ) from None


def open_source(
    con: duckdb.DuckDBPyConnection, path: Path, header: bool = True, names: tuple[str, ...] | None = None
) -> Source:
    """Expose the file as SOURCE_VIEW; raise IngestError for a missing, empty or mislabelled file.

    CSV only: `header=False` reads the first line as a bar; `names` name the columns (replacing the header's)."""
    path = Path(path)
    fmt = file_format(path)
    if fmt != "csv" and (not header or names):
        raise IngestError(f"{path}: --no-header and --names apply to CSV files only ({fmt} files name their columns)")
    if not path.is_file():
        raise IngestError(f"{path}: no such file")
    head = _head(path)
    if not head.strip():
        raise IngestError(f"{path}: empty file (no bars)")
    if fmt == "parquet":
        _open_parquet(con, path, head)
        arrow = False
    else:
        table = _read_csv(con, path, head, header, names) if fmt == "csv" else _read_json(con, path, head, fmt)
        if ROW in table.column_names:
            raise IngestError(f"{path}: column name {ROW!r} is reserved")
        import numpy as np  # only CSV and JSON need these (Parquet stays inside DuckDB)
        import pyarrow as pa

        first_row = 2 if fmt == "csv" and header else 1
        rows = pa.array(np.arange(first_row, first_row + table.num_rows, dtype=np.int64))
        con.register(SOURCE_VIEW, table.append_column(ROW, rows))
        arrow = True
    try:
        described = con.execute(f"DESCRIBE SELECT * FROM {SOURCE_VIEW}").fetchall()
        n = con.execute(f"SELECT count(*) FROM {SOURCE_VIEW}").fetchall()[0][0]
    except duckdb.Error as err:
        close_source(con, arrow)
        raise IngestError(f"{path}: cannot read as {fmt}: {_first_line(err)}") from None
    source = Source(path, fmt, n, {name: kind for name, kind, *_ in described if name != ROW}, arrow, header)
    if n == 0:
        close_source(con, arrow)
        raise IngestError(f"{path}: empty file (no bars)")
    return source


def close_source(con: duckdb.DuckDBPyConnection, arrow: bool) -> None:
    if arrow:
        con.unregister(SOURCE_VIEW)
    else:
        con.execute(f"DROP VIEW IF EXISTS {SOURCE_VIEW}")


def _head(path: Path) -> bytes:
    with open(path, "rb") as f:
        return f.read(_SNIFF_BYTES)


def _looks_binary(head: bytes) -> bool:
    return b"\x00" in head or head.startswith(b"PAR1")


def _open_parquet(con: duckdb.DuckDBPyConnection, path: Path, head: bytes) -> None:
    if not head.startswith(b"PAR1"):
        kind = "binary data" if _looks_binary(head) else "text"
        raise IngestError(f"{path}: not a Parquet file (it holds {kind}, not Parquet); check the file type")
    literal = sql_literal(str(path))
    try:
        con.execute(
            f"CREATE OR REPLACE TEMP VIEW {SOURCE_VIEW} AS "
            f"SELECT * EXCLUDE (file_row_number), file_row_number + 1 AS {ROW} "
            f"FROM read_parquet({literal}, file_row_number = true)"
        )
    except duckdb.Error as err:
        raise IngestError(f"{path}: cannot read as Parquet: {_first_line(err)}") from None


def _read_csv(
    con: duckdb.DuckDBPyConnection, path: Path, head: bytes, header: bool, names: tuple[str, ...] | None
) -> pa.Table:
    if _looks_binary(head):
        raise IngestError(f"{path}: not a CSV file (it holds binary data); check the file type")
    try:
        with con.cursor() as cur:  # reads no warehouse state; a cursor keeps it off the open transaction
            table = cur.sql(
                "SELECT * FROM read_csv($1, all_varchar = true, header = $2, auto_detect = true)",
                params=[str(path), header],
            ).to_arrow_table()
    except duckdb.Error as err:
        raise IngestError(f"{path}: cannot read as CSV: {_first_line(err)}") from None
    if names:
        # Renamed here rather than by read_csv(names=...), which pads or fails obscurely on a count mismatch.
        if len(names) != table.num_columns:
            raise IngestError(
                f"{path}: --names gives {len(names)} name(s) ({', '.join(names)}) but the file has "
                f"{table.num_columns} column(s)"
            )
        table = table.rename_columns(list(names))
    return table


def _read_json(con: duckdb.DuckDBPyConnection, path: Path, head: bytes, fmt: str) -> pa.Table:
    if _looks_binary(head):
        raise IngestError(f"{path}: not a JSON file (it holds binary data); check the file type")
    layout = "newline_delimited" if fmt == "jsonl" else "auto"
    try:
        # sample_size=-1: infer types from every record, so a stray string makes the column text
        # instead of failing half-way. Times stay text (parsed as CSV times are): DuckDB 1.5 would read
        # '09:30:00-05:00' as a naive TIMESTAMP in UTC, losing that it had a zone.
        with con.cursor() as cur:
            rel = cur.sql(
                "SELECT * FROM read_json($1, format = $2, sample_size = -1, timestampformat = 'ISO', "
                "dateformat = 'ISO')",
                params=[str(path), layout],
            )
            # Columns mixing strings and numbers come back as JSON values; unquote them to plain text.
            table = rel.select(
                ", ".join(
                    f"{quote_ident(name)} ->> '$' AS {quote_ident(name)}" if str(kind) == "JSON" else quote_ident(name)
                    for name, kind in zip(rel.columns, rel.types)
                )
            ).to_arrow_table()
    except duckdb.Error as err:
        raise IngestError(f"{path}: cannot read as JSON: {_first_line(err)}") from None
    if table.num_rows and table.column_names == ["json"]:
        raise IngestError(
            f'{path}: JSON records must be objects like {{"t": ..., "o": ..., "h": ..., "l": ..., "c": ..., "v": ...}}'
        )
    return table


def _first_line(err: Exception) -> str:
    return str(err).strip().splitlines()[0]
