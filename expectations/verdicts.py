"""The raw bars' verdicts: a symbol whose bars passed the raw_bars suite is not checked again until they change.

The raw_bars suite checks every stored bar of the selected symbols (all history: features read all of it), ~20 µs
a bar, so at the users' scale it is most of a gate run, and `train` runs the gate every time. Every expectation of
that suite is per row or per (symbol, timeframe, ts), so a symbol's verdict depends on its bars alone: the gate
records, per symbol, a fingerprint of the bars that passed and, on later runs, checks only the symbols whose
fingerprint is new. The fingerprint is the count and the sum of one 64-bit hash per bar (every column the suite
reads), so any changed, added or removed bar changes it; a different suite file or GX version voids every verdict.

The book is a JSON file in the home, replaced atomically; readers may run at once (a lost update only means a
symbol is checked again). `barstore validate --recheck-bars` ignores it.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

FINGERPRINT_SQL = """
SELECT symbol, count(*) AS bars,
       sum(hash(timeframe, ts, open, high, low, close, volume)::HUGEINT)::VARCHAR AS digest
FROM raw.bars WHERE list_contains($symbols, symbol) GROUP BY symbol
"""


def book_path(home: Path) -> Path:
    return home / "validation" / "raw_bars_passed.json"


def suite_key(suite_file: Path) -> str:
    """What a verdict was reached under: the suite's text and the GX version."""
    from importlib.metadata import version

    return hashlib.sha256(suite_file.read_bytes() + version("great_expectations").encode()).hexdigest()[:16]


def fingerprints(con, symbols: list[str]) -> dict[str, tuple[int, str]]:
    """symbol -> (bars, digest) of its stored bars, every timeframe; symbols without bars are absent."""
    rows = con.execute(FINGERPRINT_SQL, {"symbols": list(symbols)}).fetchall()
    return {symbol: (int(bars), digest) for symbol, bars, digest in rows}


class VerdictBook:
    def __init__(self, path: Path, key: str):
        self.path, self.key = path, key

    def _read(self) -> dict[str, str]:
        try:
            data = json.loads(self.path.read_text())
        except (FileNotFoundError, json.JSONDecodeError):  # none yet, or unreadable: check everything again
            return {}
        return data.get("symbols", {}) if data.get("suite") == self.key else {}

    def passed(self, prints: dict[str, tuple[int, str]]) -> set[str]:
        """The symbols whose bars, as they are now, passed before."""
        book = self._read()
        return {s for s, (bars, digest) in prints.items() if book.get(s) == f"{bars}:{digest}"}

    def record(self, prints: dict[str, tuple[int, str]]) -> None:
        """Record that these symbols' bars (as fingerprinted) passed."""
        if not prints:
            return
        book = self._read() | {s: f"{bars}:{digest}" for s, (bars, digest) in prints.items()}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        scratch = self.path.with_name(f".{self.path.name}.{os.getpid()}")
        scratch.write_text(json.dumps({"suite": self.key, "symbols": dict(sorted(book.items()))}))
        os.replace(scratch, self.path)
