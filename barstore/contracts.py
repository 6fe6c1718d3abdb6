"""Futures contracts: parsing codes such as ENQ.H24, registering them under their root, and the
root's roll settings (read by sql/contracts/contract_roll.sql and continuous_bars.sql).

Expiry convention: the third Friday of the contract month, which is the last trading day of the
equity index futures (ES, NQ, YM, RTY). Other products expire on other days (CL, GC...); the expiry
only feeds the roll's fixed-date fallback (expiry - roll_offset_days), so pass `expiry=` when it
matters. The default offset of 8 days makes the fallback the Thursday before expiry week, the
CME's own roll date for the equity index futures.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

import duckdb

from .errors import BarstoreError
from .warehouse import write_transaction

MONTH_CODES = {
    "F": 1,
    "G": 2,
    "H": 3,
    "J": 4,
    "K": 5,
    "M": 6,
    "N": 7,
    "Q": 8,
    "U": 9,
    "V": 10,
    "X": 11,
    "Z": 12,
}

# root, optional '.' or blank, month letter, 2- or 4-digit year: ENQ.H24, ESZ2024, NQM24, ENQ H24
_CODE = re.compile(rf"^(?P<root>[A-Z0-9]+?)[.\s]?(?P<month>[{''.join(MONTH_CODES)}])(?P<year>\d{{4}}|\d{{2}})$")

# Two-digit years from 70 are 19xx: the oldest stored futures histories start in the 1980s-90s.
_CENTURY_PIVOT = 70


@dataclass(frozen=True)
class ContractCode:
    code: str  # as given, stripped: the symbol its bars are stored under
    root: str  # product prefix of the code (ENQ in ENQ.H24); not necessarily the --root chosen
    month: int
    year: int

    @property
    def expiry(self) -> date:
        return third_friday(self.year, self.month)


@dataclass(frozen=True)
class RollConfig:
    root: str
    back_adjust: bool
    roll_offset_days: int


def third_friday(year: int, month: int) -> date:
    first_weekday = date(year, month, 1).weekday()  # Monday = 0, Friday = 4
    return date(year, month, 1 + (4 - first_weekday) % 7 + 14)


def parse_contract(code: str) -> ContractCode:
    """Parse a futures contract code: root + month letter (F G H J K M N Q U V X Z) + 2/4-digit year."""
    text = (code or "").strip()
    match = _CODE.match(text.upper())
    if not match:
        raise BarstoreError(
            f"cannot read futures contract {code!r}: expected a root, a month letter "
            f"({' '.join(MONTH_CODES)}) and a 2- or 4-digit year, e.g. ENQ.H24, ESZ2024, NQM24 or 'ENQ H24'"
        )
    year = int(match["year"])
    if len(match["year"]) == 2:
        year += 1900 if year >= _CENTURY_PIVOT else 2000
    return ContractCode(code=text, root=match["root"], month=MONTH_CODES[match["month"]], year=year)


def _existing_symbol(con: duckdb.DuckDBPyConnection, symbol: str):
    return con.execute("SELECT calendar, root FROM raw.symbols WHERE symbol = ?", [symbol]).fetchone()


def _check_root(con: duckdb.DuckDBPyConnection, contract: str, root: str, calendar: str) -> None:
    """Refuse registrations that would give a root two meanings or two calendars."""
    if root.upper() == contract.upper():
        raise BarstoreError(f"--root {root!r} must differ from the contract code {contract!r}")
    existing = _existing_symbol(con, root)
    if existing is not None:
        if existing[1] is not None:
            raise BarstoreError(f"--root {root!r} is itself a contract of root {existing[1]!r}; choose the root symbol")
        if existing[0] != calendar:
            raise BarstoreError(
                f"root {root!r} uses calendar {existing[0]!r}, not {calendar!r}: "
                f"all contracts of a root share its calendar (ingest {contract} with --calendar {existing[0]})"
            )
        own_bars = con.execute("SELECT count(*) FROM raw.bars WHERE symbol = ?", [root]).fetchone()[0]
        if own_bars:
            raise BarstoreError(
                f"symbol {root!r} already has {own_bars} bars of its own in raw.bars; "
                f"its continuous series would clash with them: choose another --root for {contract}"
            )
    previous = _existing_symbol(con, contract)
    if previous is not None and previous[1] is not None and previous[1] != root:
        raise BarstoreError(f"contract {contract!r} is already registered under root {previous[1]!r}, not {root!r}")


def register_contract(
    con: duckdb.DuckDBPyConnection, contract: str, root: str, calendar: str, expiry: date | None = None
) -> None:
    """Record `contract` (expiry, root, calendar) and its root in raw.symbols, and the root in
    raw.futures_roots with default roll settings (kept when the root already exists).
    Runs inside the caller's transaction when there is one."""
    code = parse_contract(contract)
    root = (root or "").strip()
    if not root:
        raise BarstoreError(f"contract {contract!r} needs --root: the symbol of its continuous series, e.g. NQ")
    _check_root(con, code.code, root, calendar)
    for symbol, symbol_root, symbol_expiry in ((code.code, root, expiry or code.expiry), (root, None, None)):
        con.execute(
            "UPDATE raw.symbols SET calendar = ?, root = ?, expiry = ? WHERE symbol = ?",
            [calendar, symbol_root, symbol_expiry, symbol],
        )
        con.execute(
            "INSERT INTO raw.symbols (symbol, calendar, root, expiry, created_at) "
            "SELECT ?, ?, ?, ?, current_timestamp WHERE NOT EXISTS (FROM raw.symbols WHERE symbol = ?)",
            [symbol, calendar, symbol_root, symbol_expiry, symbol],
        )
    con.execute(
        "INSERT INTO raw.futures_roots (root, back_adjust, roll_offset_days) "
        "SELECT ?, false, 8 WHERE NOT EXISTS (FROM raw.futures_roots WHERE root = ?)",
        [root, root],
    )


def set_roll_config(
    con: duckdb.DuckDBPyConnection,
    root: str,
    back_adjust: bool | None = None,
    roll_offset_days: int | None = None,
) -> RollConfig:
    """Change a root's roll settings (None keeps a setting); returns the settings now in force."""
    if con.execute("SELECT 1 FROM raw.futures_roots WHERE root = ?", [root]).fetchone() is None:
        known = [r[0] for r in con.execute("SELECT root FROM raw.futures_roots ORDER BY root").fetchall()]
        listed = ", ".join(known) if known else "none yet"
        raise BarstoreError(
            f"unknown futures root {root!r} (known: {listed}); ingest a contract with --root {root} first"
        )
    if roll_offset_days is not None and not 0 <= roll_offset_days <= 365:
        raise BarstoreError(f"--offset-days must be between 0 and 365 calendar days, got {roll_offset_days}")
    with write_transaction(con):
        con.execute(
            "UPDATE raw.futures_roots SET back_adjust = coalesce(?, back_adjust), "
            "roll_offset_days = coalesce(?, roll_offset_days) WHERE root = ?",
            [back_adjust, roll_offset_days, root],
        )
    row = con.execute(
        "SELECT root, back_adjust, roll_offset_days FROM raw.futures_roots WHERE root = ?", [root]
    ).fetchone()
    return RollConfig(*row)
