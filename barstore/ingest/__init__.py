"""Bar ingest: validate CSV/Parquet/JSON bar files and load them into raw.bars.

Modules: readers (file -> Arrow table with row numbers), columns (which column is what by name),
mapping (--column specs and combined columns such as Date+Time), presets (vendor layouts),
timestamps (parsing to UTC bar starts), checks (row rules as SQL), duplicates, rejects (bad rows),
symbols (symbols and calendars), load (the anti-join write and raw.ingest_log), pipeline (the transaction)."""

from .options import IngestOptions
from .pipeline import ingest_files
from .report import IngestReport, SymbolCounts

__all__ = ["IngestOptions", "IngestReport", "SymbolCounts", "ingest_files"]
