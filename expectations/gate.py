"""The validation gate: before a model trains (and alone, `barstore validate MODEL`), its raw bars, training set,
point-in-time alignment, step spacing and splits must pass the suites in expectations/suites/.

    with selected_data(ws, spec, Selection(symbols=("BTCUSDT",))) as data:  # barstore.windows.selection
        report = validate_model(ws, spec, data)
    report.raise_if_failed()          # ValidationFailed: the failed expectations and the Data Docs page
    console.print(report.table())

The gate builds no data: `validate_model` checks a model's data as training builds it (`selected_data`: the
selection's dataset and walk-forward splits, read from one snapshot, which the report records);
`validate_dataset` checks any dataset and splits in hand. Either writes the Data Docs of the run to
<home>/reports/validation/<model>/index.html and returns the report; neither raises on a failed expectation (the
caller decides), only on errors such as a missing suite or a bad [validation] setting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import frames
from .docs import site_dir
from .report import Example, Outcome, ValidationFailed, ValidationReport
from .settings import ValidationSettings
from .suites import suites_dir
from .verdicts import VerdictBook, book_path, fingerprints, suite_key

if TYPE_CHECKING:
    from barstore.home import Workspace
    from barstore.specs import ModelSpec
    from barstore.splits import Splits
    from barstore.windows.dataset import WindowDataset
    from barstore.windows.selection import SelectedData, Selection

__all__ = [
    "Example",
    "Outcome",
    "ValidationFailed",
    "ValidationReport",
    "ValidationSettings",
    "validate_dataset",
    "validate_model",
]


def validate_dataset(
    ws: Workspace,
    spec: ModelSpec,
    dataset: WindowDataset,
    splits: Splits,
    con,
    selection: Selection | None = None,
    settings: ValidationSettings | None = None,
    raw_bars_chunk_rows: int = frames.RAW_BARS_CHUNK_ROWS,
    recheck_bars: bool = False,
) -> ValidationReport:
    """Run every suite on this dataset and its splits; raw bars are those of the selection's symbols (all the
    dataset's symbols when it names none), read through `con` in chunks of whole symbols. A symbol whose bars
    passed before, unchanged, is not checked again (expectations/verdicts.py) unless `recheck_bars`."""
    from .runner import run_suites

    settings = settings or ValidationSettings.for_model(ws, spec)
    symbols = list(selection.symbols) if selection is not None and selection.symbols else list(dataset.symbol_names)
    book = VerdictBook(book_path(ws.home), suite_key(suites_dir(ws) / "raw_bars.json"))
    prints = fingerprints(con, symbols)
    reused = set() if recheck_bars else book.passed(prints)
    raw_bars = frames.RawBarChunks(con, [s for s in symbols if s not in reused], raw_bars_chunk_rows)
    checked = {
        "raw_bars": raw_bars,
        "training_set": frames.training_set(dataset, splits),
        "alignment": frames.alignment(con, spec, dataset),
        "step_spacing": frames.step_spacing(con, spec, dataset),
        "splits": frames.split_boundaries(dataset, splits),
    }
    results, docs = run_suites(
        checked, suites_dir(ws), settings.parameters(), site_dir(ws, spec.name), spec.name, settings.examples
    )
    counts = {
        "samples": len(dataset),
        **{name: len(p) for name, p in splits.named().items()},
        "purged": splits.purged,
        "raw_bars": raw_bars.rows,
        "raw_bars_reused": sum(prints[s][0] for s in reused),
        "steps_checked": int((checked["alignment"]["scope"] == spec.step_view).sum()),
        "links_checked": len(checked["step_spacing"]),
    }
    chunk_results = [r for r in results if r.suite_name == "raw_bars"]  # one per chunk, in the chunks' order
    passed = [s for group, r in zip(raw_bars.groups, chunk_results, strict=True) if r.success for s in group]
    book.record({s: prints[s] for s in passed if s in prints})
    return ValidationReport.from_results(spec.name, results, docs, counts, settings.examples)


def validate_model(
    ws: Workspace,
    spec: ModelSpec,
    data: SelectedData,
    settings: ValidationSettings | None = None,
    recheck_bars: bool = False,
) -> ValidationReport:
    """Validate `spec`'s data as training holds it (inside `selected_data`'s block, whose connection it reads the
    raw bars through); the report records the warehouse snapshot the data was read from."""
    report = validate_dataset(
        ws, spec, data.dataset, data.splits, data.con, data.selection, settings, recheck_bars=recheck_bars
    )
    report.snapshot = data.selection.snapshot
    return report
