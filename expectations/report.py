"""What a gate run found: one outcome per expectation, a summary, a rich table, and the error training raises.

An outcome's examples are GX's first unexpected rows, each named by the frame's index (symbol, time, scope) and
carrying the checked column values; aggregate expectations (row count, mean) have none but an observed value
against the bounds, e.g. "observed 150, expected >= 1000".
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import pandas as pd

from barstore.errors import BarstoreError

from .frames import INDEX


@dataclass(frozen=True)
class Example:
    """One unexpected row: where it is and the values the expectation checked."""

    symbol: str | None
    time: str | None  # UTC, ISO to the minute (or second when it has them)
    scope: str | None  # timeframe, view, split or boundary
    value: str  # e.g. "high=9.0, body_top=10.0"

    def __str__(self) -> str:
        where = " ".join(part for part in (self.symbol, self.time, self.scope) if part)
        return f"{where}: {self.value}" if where else self.value


@dataclass(frozen=True)
class Outcome:
    suite: str
    name: str  # the expectation's description in the suite
    success: bool
    unexpected_count: int | None  # rows failing a row-wise expectation (None for aggregates)
    examples: list[Example] = field(default_factory=list)
    observed: str | None = None  # aggregates: "observed 150, expected >= 1000"; GX errors: the message
    expectation: str = ""  # the GX expectation type

    def detail(self) -> str:
        """What failed, in one line: the count of unexpected rows or the observed value."""
        if self.observed:
            return self.observed
        return f"{self.unexpected_count} unexpected" if self.unexpected_count else ""


class ValidationFailed(BarstoreError):
    """The gate failed: nothing may be trained on this dataset. `.report` holds every outcome."""

    exit_code = 5

    def __init__(self, report: ValidationReport):
        super().__init__(report.summary())
        self.report = report


@dataclass
class ValidationReport:
    model: str
    success: bool
    outcomes: list[Outcome]
    docs_path: Path
    counts: dict[str, int] = field(default_factory=dict)  # samples, per split, purged, rows checked per frame
    snapshot: int | None = None  # the warehouse snapshot the data was read from (validate_model)

    @classmethod
    def from_results(
        cls, model: str, results: list, docs_path: Path, counts: dict[str, int], examples: int | None = None
    ) -> ValidationReport:
        """One outcome per expectation; a suite run on several chunks (the raw bars) merges its chunks' outcomes:
        failed if any failed, unexpected rows summed, the first `examples` examples kept."""
        merged: dict[tuple[str, str], Outcome] = {}
        for result in results:
            for er in result.results:
                o = _outcome(result.suite_name, er)
                key = (o.suite, o.name)
                merged[key] = o if key not in merged else _merge(merged[key], o, examples)
        outcomes = list(merged.values())
        return cls(model, all(o.success for o in outcomes), outcomes, docs_path, counts)

    @property
    def failed(self) -> list[Outcome]:
        return [o for o in self.outcomes if not o.success]

    def outcome(self, suite: str, name: str) -> Outcome:
        """The outcome of the expectation described `name` in `suite`."""
        for o in self.outcomes:
            if o.suite == suite and o.name == name:
                return o
        raise KeyError(f"no expectation {name!r} in suite {suite!r}")

    def summary(self) -> str:
        if self.success:
            head = f"validation of {self.model} passed: {len(self.outcomes)} expectations"
        else:
            failures = "; ".join(f"{o.suite}: {o.name} ({o.detail()})" for o in self.failed)
            head = (
                f"validation of {self.model} failed {len(self.failed)} of {len(self.outcomes)} expectations: {failures}"
            )
        return f"{head}\nData Docs: {self.docs_path}"

    def counts_line(self) -> str:
        """e.g. "15,149 samples: train 10,484, validation 2,153, test 2,272, purged 240; checked 27,563 raw bars,
        17,145 steps, 17,141 links"."""
        c = self.counts
        splits = ", ".join(f"{name} {c.get(name, 0):,}" for name in ("train", "validation", "test", "purged"))
        reused = f" (and {c['raw_bars_reused']:,} unchanged since they passed)" if c.get("raw_bars_reused") else ""
        return (
            f"{c.get('samples', 0):,} samples: {splits}; checked {c.get('raw_bars', 0):,} raw bars{reused}, "
            f"{c.get('steps_checked', 0):,} steps, {c.get('links_checked', 0):,} links"
        )

    def raise_if_failed(self) -> None:
        if not self.success:
            raise ValidationFailed(self)

    def table(self, failed_only: bool | None = None):
        """A rich Table: the failed expectations when some failed (unless failed_only=False), else all passed."""
        from rich.table import Table

        failed_only = not self.success if failed_only is None else failed_only
        shown = self.failed if failed_only else self.outcomes
        title = f"{self.model}: {'failed expectations' if failed_only else 'expectations'}"
        table = Table(title=title, title_justify="left")
        table.add_column("suite")
        table.add_column("expectation")
        table.add_column("ok", justify="center")
        table.add_column("unexpected", justify="right")
        table.add_column("examples (symbol time scope: values) / observed")
        for o in shown:
            details = [str(e) for e in o.examples] or ([o.observed] if o.observed else [])
            count = "" if o.unexpected_count is None else f"{o.unexpected_count:,}"
            table.add_row(o.suite, o.name, "[green]✓[/]" if o.success else "[red]✗[/]", count, "\n".join(details))
        return table


def _merge(a: Outcome, b: Outcome, examples: int | None) -> Outcome:
    counts = (
        None if a.unexpected_count is None or b.unexpected_count is None else a.unexpected_count + b.unexpected_count
    )
    kept = (a.examples + b.examples)[:examples]
    return replace(a, success=a.success and b.success, unexpected_count=counts, examples=kept,
                   observed=a.observed if not a.success or b.success else b.observed)  # fmt: skip


def _outcome(suite: str, er) -> Outcome:
    config, result = er.expectation_config, er.result or {}
    name = config.description or config.type
    info = er.exception_info or {}
    if info.get("raised_exception"):  # a GX error (e.g. a column the frame lacks) fails the expectation
        return Outcome(suite, name, False, None, [], f"error: {info.get('exception_message')}", config.type)
    examples = [_example(row) for row in result.get("partial_unexpected_index_list") or []]
    observed = None
    if "observed_value" in result:
        observed = f"observed {_format(result['observed_value'])}, expected {_bounds(config.kwargs)}"
    return Outcome(suite, name, bool(er.success), result.get("unexpected_count"), examples, observed, config.type)


def _example(row: dict) -> Example:
    values = ", ".join(f"{k}={_format(v)}" for k, v in row.items() if k not in INDEX)
    return Example(*(_format(row.get(k)) if not _missing(row.get(k)) else None for k in INDEX), values)


def _missing(value) -> bool:
    return value is None or value is pd.NaT or (isinstance(value, float) and value != value)


def _bounds(kwargs: dict) -> str:
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if low is not None and high is not None:
        return f"in [{_format(low)}, {_format(high)}]"
    return f">= {_format(low)}" if low is not None else f"<= {_format(high)}"


def _format(value) -> str:
    """Times as UTC ISO to the minute (seconds when present), floats to 6 significant digits, NaN/None as null."""
    if _missing(value):
        return "null"
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d %H:%M:%S" if value.second or value.microsecond else "%Y-%m-%d %H:%M") + "Z"
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)
