"""`ingest_files`: validate bar files and load them into raw.bars in one transaction."""

from __future__ import annotations

from pathlib import Path
from time import perf_counter

import duckdb

from ..errors import BarstoreError, IngestError, WarehouseLocked
from ..warehouse import write_transaction
from ..writer_lock import say_waiting
from .checks import STAGE, Grid, stage_sql
from .duplicates import resolve_duplicates
from .load import Changes, log_changes, write_bars
from .mapping import Field, resolve_fields
from .options import PRICES_CHOICES, IngestOptions, apply_preset, validate
from .presets import Preset
from .progress import file_progress
from .readers import ROW, SOURCE_VIEW, Source, close_source, open_source
from .rejects import quarantine_bad_rows, refuse_bad_rows
from .report import IngestReport, SymbolCounts
from .sessions import place_in_sessions
from .symbols import check_file_symbols, given_symbol, register_symbols, symbol_sql
from .timestamps import text_sql

# batch ids grow by one per ingest; taken under the write lock, so no two ingests share one
NEXT_BATCH = "SELECT coalesce(max(batch_id), 0) + 1, current_timestamp FROM raw.ingest_log"


def ingest_files(
    con: duckdb.DuckDBPyConnection, paths: list[Path], opts: IngestOptions, progress: bool = True
) -> IngestReport:
    """Load `paths` as `opts.timeframe` bars. All files form one transaction: any error (raised as
    IngestError naming the file, row and reason) rolls back every file of the invocation."""
    started = perf_counter()
    opts, preset = apply_preset(opts)
    validate(con, opts)
    if not paths:
        raise IngestError("no files to ingest")
    report = IngestReport(timeframe=opts.timeframe)
    try:
        with write_transaction(con, on_wait=say_waiting if progress else None):
            report.batch_id, now = con.execute(NEXT_BATCH).fetchall()[0]
            with file_progress(progress, len(paths)) as shown:
                for path in map(Path, paths):
                    shown.file(path)
                    report.counts += _ingest_file(con, path, opts, preset, report, now, shown)
                    shown.done()
    except WarehouseLocked:
        raise
    except BarstoreError as err:
        raise type(err)(
            f"{err}\nNothing was written: the ingest of all {len(paths)} file(s) of this command was rolled back."
        ) from None
    report.elapsed = perf_counter() - started
    return report


def _ingest_file(
    con, path: Path, opts: IngestOptions, preset: Preset | None, report: IngestReport, now, shown
) -> list[SymbolCounts]:
    src = open_source(con, path, opts.header, opts.names)
    try:
        return _load_source(con, src, opts, preset, report, now, shown)
    except duckdb.Error as err:
        raise IngestError(f"{src.path}: the database refused the data: {err}") from None
    finally:
        _drop_scratch(con, src)


def _load_source(
    con, src: Source, opts: IngestOptions, preset: Preset | None, report: IngestReport, now, shown
) -> list[SymbolCounts]:
    path, source, types = src.path, str(src.path), src.columns
    columns = list(types)
    fields = resolve_fields(types, opts.columns, preset, source)
    adjust = _adjustment(fields, opts, source)
    if opts.prices == "adjusted":
        report.notes.append(f"{source}: prices adjusted by {fields['adj_close'].name} / {fields['close'].name}")

    given = given_symbol(opts)
    symbol_expr = symbol_sql(fields["symbol"].name if "symbol" in fields else None, given, source)
    if "symbol" in fields:
        symbols = sorted(
            r[0]
            for r in con.execute(f"SELECT DISTINCT {symbol_expr} FROM {SOURCE_VIEW}").fetchall()
            if r[0] is not None
        )
    else:  # every row gets the given symbol: no need to scan the file for it
        symbols = [given]
    check_file_symbols(symbols, given, source)
    register_symbols(con, symbols, opts, source)

    # A column literally named ts_utc holds UTC even when its values carry no offset.
    zone = "UTC" if fields["ts"].name.lower() == "ts_utc" else opts.tz
    grid = Grid(opts.timeframe, opts.label, alt_zone=opts.tz or "UTC")
    # A preset's timestamp format belongs to its own ts columns, not to one the user mapped instead.
    preset_formats = preset.ts_formats if preset and "ts" not in opts.columns else ()
    ts_formats = (opts.ts_format,) if opts.ts_format else preset_formats
    shown.stage(path, "checking")
    sql, has_naive_flag = stage_sql(fields, symbol_expr, zone, grid, ts_formats, adjust)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {STAGE} AS {sql}")
    if has_naive_flag:
        _refuse_naive(con, source, fields["ts"])
    kept = place_in_sessions(con, grid, opts.outside_session)
    if kept:
        report.notes.append(f"{source}: {kept:,} bar(s) outside the calendar's sessions kept (--outside-session keep)")

    dropped = resolve_duplicates(con)
    stats = con.execute(
        f"SELECT symbol, count(*), count(reason), min(ts) FILTER (reason IS NULL), "
        f"max(ts) FILTER (reason IS NULL) FROM {STAGE} GROUP BY symbol ORDER BY symbol"
    ).fetchall()
    read = {s: n + dropped.get(s, 0) for s, n, *_ in stats}
    bad = sum(r[2] for r in stats)
    if bad and opts.on_bad_rows == "fail":
        refuse_bad_rows(con, source, src.fmt, bad, src.rows, src.header)
    if bad:
        quarantine_bad_rows(con, source, columns, opts.timeframe, now)
    if dropped:
        report.notes.append(f"{source}: {sum(dropped.values()):,} repeated identical row(s) loaded once")

    shown.stage(path, "writing")
    valid = {s: (n - rejected, first, last) for s, n, rejected, first, last in stats if s is not None and n > rejected}
    changes = write_bars(con, source, opts.timeframe, opts.replace, now, valid)
    log_changes(con, report.batch_id, source, opts.timeframe, now, read, changes)
    counts = []
    for s, _, rejected, _, _ in stats:
        c = changes.get(s) or Changes()
        counts.append(
            SymbolCounts(
                source=source,
                symbol=s if s is not None else "(missing)",
                read=read[s],
                inserted=c.inserted,
                unchanged=c.unchanged,
                replaced=c.replaced,
                rejected=rejected,
                duplicates=dropped.get(s, 0),
            )
        )
    return counts


def _drop_scratch(con, src: Source) -> None:
    try:
        close_source(con, src.arrow)
        con.execute(f"DROP TABLE IF EXISTS {STAGE}")
    except duckdb.TransactionException:
        pass  # the transaction failed: the caller's rollback drops the table, and a view name is reused


def _adjustment(fields: dict[str, Field], opts: IngestOptions, source: str) -> Field | None:
    """The adj_close field when prices are to be adjusted; a file with adj_close needs the choice spelt out,
    because raw and adjusted prices differ by every dividend since and neither is a safe default."""
    choices = "; ".join(f"--prices {k}: {v}" for k, v in PRICES_CHOICES.items())
    if "adj_close" not in fields:
        if opts.prices == "adjusted":
            raise IngestError(
                f"{source}: --prices adjusted needs an adj_close column (or --column adj_close=COLUMN); "
                "the file has none"
            )
        return None
    if opts.prices is None:
        raise IngestError(
            f"{source}: the file has an adjusted close column ({fields['adj_close'].name!r}), so say which prices "
            f"to store: {choices}"
        )
    return fields["adj_close"] if opts.prices == "adjusted" else None


def _refuse_naive(con, source: str, ts: Field) -> None:
    n, first = con.execute(f"SELECT count(*), min({ROW}) FROM {STAGE} WHERE naive").fetchall()[0]
    if not n:
        return
    sql = f"SELECT {text_sql(ts.sql, ts.type)} FROM {SOURCE_VIEW} WHERE {ROW} = ?"
    value = con.execute(sql, [first]).fetchall()[0][0]
    raise IngestError(
        f"{source}: row {first}: timestamp {value!r} in column {ts.name!r} has no time zone "
        f"({n:,} such row(s)); pass --tz with the zone the file is written in, e.g. --tz America/New_York "
        "(a column named ts_utc is read as UTC)"
    )
