"""The validation gate: before a model trains (and alone, `barstore validate MODEL`), its raw bars, training set,
point-in-time alignment, step spacing and splits must pass the suites in expectations/suites/.

    report, ds, splits = validate_model(ws, "seq500_hourly", Selection(symbols=("BTCUSDT",)))
    report.raise_if_failed()          # ValidationFailed: the failed expectations and the Data Docs page
    console.print(report.table())

`validate_dataset` checks a dataset and splits already built (what training holds); `validate_model` builds
both the way training does (select_dataset, walk_forward) and checks them. Either writes the Data Docs of the
run to <home>/reports/validation/<model>/index.html and returns the report; neither raises on a failed
expectation (the caller decides), only on errors such as a missing suite or a bad [validation] setting.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from barstore.specs import ModelSpec
from barstore.specs import model as model_spec

from . import frames
from .docs import site_dir
from .report import Example, Outcome, ValidationFailed, ValidationReport
from .settings import ValidationSettings
from .suites import suites_dir
from .verdicts import VerdictBook, book_path, fingerprints, suite_key

if TYPE_CHECKING:
    from barstore.home import Workspace
    from barstore.splits import Splits
    from barstore.windows.dataset import WindowDataset
    from barstore.windows.selection import Selection

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
    spec: ModelSpec | str,
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

    spec = model_spec(spec) if isinstance(spec, str) else spec
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
    model: str,
    selection: Selection,
    store=None,
    con=None,
    settings: ValidationSettings | None = None,
    shares=None,
    recheck_bars: bool = False,
) -> tuple[ValidationReport, WindowDataset, Splits]:
    """Build the model's dataset (select_dataset) and walk-forward splits as training does, then validate them."""
    from barstore.feature_store import open_store
    from barstore.lake import snapshot_id
    from barstore.splits import project_shares, walk_forward
    from barstore.warehouse import connect, reading_snapshot
    from barstore.windows.selection import select_dataset

    spec = model_spec(model)
    settings = settings or ValidationSettings.for_model(ws, spec)  # a bad setting fails before the dataset is built
    own = con is None  # a connection opened here is closed here
    con = connect(ws.warehouse, read_only=True, snapshot=selection.snapshot) if own else con
    try:
        snapshot = snapshot_id(con)
        with reading_snapshot(ws.warehouse, snapshot):  # Feast's retrieval reads the same snapshot
            ds = select_dataset(ws, model, selection, store=open_store(ws) if store is None else store, con=con)
            splits = walk_forward(ds.timestamps, ds.label_times, shares or project_shares(ws.project_dir))
            report = validate_dataset(ws, spec, ds, splits, con, selection, settings, recheck_bars=recheck_bars)
        report.snapshot = snapshot
        return report, ds, splits
    finally:
        if own:
            con.close()
