"""Which symbol(s) a file's bars belong to, and registering them with a session calendar."""

from __future__ import annotations

import duckdb

from ..contracts import register_contract
from ..errors import IngestError
from ..warehouse import calendar_names, quote_ident
from .options import IngestOptions
from .timestamps import sql_literal


def given_symbol(opts: IngestOptions) -> str | None:
    """The symbol named on the command line: the contract when loading a futures contract."""
    return opts.contract.strip() if opts.contract else opts.symbol


def symbol_sql(symbol_col: str | None, given: str | None, source: str) -> str:
    """SQL for each row's symbol; rows with an empty symbol cell fall back to --symbol."""
    if symbol_col is None:
        if given is None:
            raise IngestError(f"{source}: the file has no symbol column; pass --symbol")
        return sql_literal(given)
    cell = f"nullif(trim(CAST({quote_ident(symbol_col)} AS VARCHAR)), '')"
    return f"coalesce({cell}, {sql_literal(given)})" if given else cell


def _listed(symbols: list[str]) -> str:
    return ", ".join(symbols[:10]) + (" ..." if len(symbols) > 10 else "")


def check_file_symbols(found: list[str], given: str | None, source: str) -> None:
    others = sorted(s for s in found if s != given) if given is not None else []
    if others:
        raise IngestError(
            f"{source}: the symbol column holds {_listed(others)}, which does not match --symbol/--contract {given}; "
            "drop the option to load every symbol of the file, or filter the file"
        )


def register_symbols(con: duckdb.DuckDBPyConnection, symbols: list[str], opts: IngestOptions, source: str) -> None:
    """Give each symbol a calendar: --calendar registers or updates it, known symbols keep theirs."""
    if opts.contract:
        _register_contract(con, opts)
        symbols = [s for s in symbols if s != given_symbol(opts)]
    if not symbols:
        return
    if opts.calendar:
        con.execute("UPDATE raw.symbols SET calendar = ? WHERE list_contains(?, symbol)", [opts.calendar, symbols])
        con.execute(
            "INSERT INTO raw.symbols (symbol, calendar, created_at) SELECT s, ?, current_timestamp "
            "FROM unnest(?::VARCHAR[]) AS t(s) WHERE s NOT IN (SELECT symbol FROM raw.symbols)",
            [opts.calendar, symbols],
        )
        return
    known = {
        r[0] for r in con.execute("SELECT symbol FROM raw.symbols WHERE list_contains(?, symbol)", [symbols]).fetchall()
    }
    new = [s for s in symbols if s not in known]
    if new:
        raise IngestError(
            f"{source}: new symbol(s) {_listed(new)}: pass --calendar to register them "
            f"(one of {', '.join(calendar_names(con))})"
        )


def _register_contract(con: duckdb.DuckDBPyConnection, opts: IngestOptions) -> None:
    contract = given_symbol(opts)
    calendar = opts.calendar or _known_calendar(con, contract) or _known_calendar(con, opts.root)
    if calendar is None:
        raise IngestError(
            f"new contract {contract}: pass --calendar to register it (one of {', '.join(calendar_names(con))})"
        )
    register_contract(con, contract, opts.root, calendar)


def _known_calendar(con: duckdb.DuckDBPyConnection, symbol: str | None) -> str | None:
    rows = con.execute("SELECT calendar FROM raw.symbols WHERE symbol = ?", [symbol]).fetchall()
    return rows[0][0] if rows else None
