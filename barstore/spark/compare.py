"""Whether two warehouses hold the same tables, row for row and value for value (a distributed build against a
local one): EXCEPT ALL both ways, which counts duplicates and compares every value exactly (NULL with NULL)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from .. import lake
from ..warehouse import quote_ident


def differing_tables(con: duckdb.DuckDBPyConnection, other: Path) -> dict[str, tuple[int, int]]:
    """'table' -> (rows either side lacks, rows here) for every model table of `con`'s warehouse (schema main)
    compared with the warehouse whose catalog is `other`; a table missing there counts all its rows."""
    found = lake.lake_of(con)
    name = "compared_lake"
    con.execute(lake.attach_statement(Path(other), name, found[1], read_only=True))
    try:
        theirs = lake.committed_relations(con, name)
        out = {}
        for relation, kind in sorted(lake.committed_relations(con).items()):
            schema, table = relation.split(".", 1)
            if schema != "main" or kind != "BASE TABLE":
                continue
            here = f"SELECT * FROM {quote_ident(table)}"
            n = con.execute(f"SELECT count(*) FROM ({here})").fetchone()[0]
            if theirs.get(relation) != "BASE TABLE":
                out[table] = (n, n)
                continue
            there = f"SELECT * FROM {name}.main.{quote_ident(table)}"
            diff = con.execute(
                f"SELECT count(*) FROM (({here} EXCEPT ALL {there}) UNION ALL ({there} EXCEPT ALL {here}))"
            ).fetchone()[0]
            out[table] = (diff, n)
        return out
    finally:
        con.execute(f"DETACH {name}")
