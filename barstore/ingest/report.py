"""What an ingest did, per file and symbol."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path


@dataclass
class SymbolCounts:
    source: str
    symbol: str
    read: int = 0  # rows of the file for this symbol
    inserted: int = 0  # new bars
    unchanged: int = 0  # bars already stored with the same values
    replaced: int = 0  # stored bars overwritten (replace=True)
    rejected: int = 0  # bad rows (quarantined; with on_bad_rows=fail the ingest stops instead)
    duplicates: int = 0  # identical repeated rows dropped (one copy kept)


_COUNTS = tuple(f.name for f in fields(SymbolCounts) if f.name not in ("source", "symbol"))


@dataclass
class IngestReport:
    timeframe: str
    batch_id: int | None = None
    counts: list[SymbolCounts] = field(default_factory=list)
    elapsed: float = 0.0
    notes: list[str] = field(default_factory=list)

    def total(self, what: str) -> int:
        return sum(getattr(c, what) for c in self.counts)

    def for_symbol(self, symbol: str) -> SymbolCounts:
        """Counts of one symbol summed over files."""
        rows = [c for c in self.counts if c.symbol == symbol]
        total = SymbolCounts(source=", ".join(sorted({c.source for c in rows})), symbol=symbol)
        for name in _COUNTS:
            setattr(total, name, sum(getattr(c, name) for c in rows))
        return total

    @property
    def rows_per_second(self) -> float:
        return self.total("read") / self.elapsed if self.elapsed > 0 else 0.0

    def print(self, console=None) -> None:
        from rich.console import Console
        from rich.table import Table

        console = console or Console()
        table = Table(title=f"ingest batch {self.batch_id} ({self.timeframe} bars)")
        table.add_column("file", overflow="fold")
        table.add_column("symbol", overflow="fold")
        # Rare counts get a column only when they happen, to keep the table narrow.
        names = ["read", "inserted", "unchanged"] + [n for n in ("replaced", "rejected", "duplicates") if self.total(n)]
        widest = max(len(f"{self.total(n):,}") for n in names)
        for name in names:  # counts never wrap; the file name folds instead
            table.add_column(name, justify="right", no_wrap=True, min_width=widest)
        for c in self.counts:
            table.add_row(Path(c.source).name, c.symbol, *(f"{getattr(c, n):,}" for n in names))
        if len(self.counts) > 1:
            table.add_row("total", "", *(f"{self.total(n):,}" for n in names), style="bold")
        console.print(table)
        for note in self.notes:
            console.print(f"note: {note}", highlight=False)
        console.print(
            f"{self.total('read'):,} rows in {self.elapsed:.2f} s ({self.rows_per_second:,.0f} rows/s)",
            highlight=False,
        )
