"""Walk-forward test folds over the decision times, and each model's training cutoff (embargo) before a fold.

- Test span: the decision times in [since, until] (`--since`/`--until`); without `since`, the later
  `DEFAULT_TEST_SHARE` of them, so the first fold trains on at least the earlier half of the data. The span is cut
  into K contiguous folds holding (nearly) equal numbers of distinct decision times, so a fold over a weekend of
  a weekday market is not a fold with no decisions. Fold k is [start_k, end_k): end_k is the next fold's start.
- Training cutoff: a model trained for fold k learns only from samples whose label is known before start_k. Its
  selection ends (`Selection.until`, inclusive) just before the first decision time whose label time is at or
  after start_k, and never later than start_k minus the horizon's nominal length (bars x bar length, or trading
  days x 24 h): an embargo of at least the horizon. The first bound is measured on which bars exist (their
  times, never their values), so weekends, holidays and overnight gaps lengthen the embargo exactly as they
  lengthen the label; the purged splits of training (barstore.splits) then keep its validation and test labels
  inside the training data. Training windows may reach back to the start of the data: the window is expanding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import numpy as np

from barstore.errors import BarstoreError

if TYPE_CHECKING:
    import duckdb

    from barstore.specs import ModelSpec

DEFAULT_TEST_SHARE = 0.5
MICROSECOND = timedelta(microseconds=1)


@dataclass(frozen=True)
class Fold:
    number: int  # 1-based, in time order
    start: datetime  # first decision time (UTC, inclusive)
    end: datetime  # exclusive: the next fold's first decision time, or just after the span's last one
    last_decision: datetime  # the fold's last decision time
    decisions: int  # distinct decision times in the fold

    @property
    def last(self) -> datetime:
        """The inclusive upper bound (queries such as step_spine take `ts_close <= end`)."""
        return self.end - MICROSECOND

    def describe(self) -> dict:
        return {
            "fold": self.number,
            "start": _iso(self.start),
            "end": _iso(self.end),
            "last_decision": _iso(self.last_decision),
            "decision_times": self.decisions,
        }


def to_datetime(stamp: np.datetime64) -> datetime:
    """A naive-UTC numpy time as an aware UTC datetime (microseconds kept)."""
    micros = int(np.datetime64(stamp, "us").astype(np.int64))
    return datetime(1970, 1, 1, tzinfo=UTC) + timedelta(microseconds=micros)


def to_numpy(value: datetime) -> np.datetime64:
    return np.datetime64(value.astimezone(UTC).replace(tzinfo=None), "us")


def plan_folds(
    times: np.ndarray,
    k: int,
    since: datetime | None = None,
    until: datetime | None = None,
    test_share: float = DEFAULT_TEST_SHARE,
) -> list[Fold]:
    """K folds over the distinct decision `times` (datetime64, naive UTC) of the test span (module docstring)."""
    if k < 1:
        raise BarstoreError(f"--folds must be at least 1 (got {k})")
    times = np.unique(np.asarray(times, dtype="datetime64[us]"))
    if len(times) == 0:
        raise BarstoreError("no decision times: no symbol has complete hourly bars in the selection")
    keep = np.ones(len(times), dtype=bool)
    if since is not None:
        keep &= times >= to_numpy(since)
    else:
        keep &= np.arange(len(times)) >= int(np.floor(len(times) * (1 - test_share)))
    if until is not None:
        keep &= times <= to_numpy(until)
    span = times[keep]
    if len(span) < k:
        raise BarstoreError(f"--folds {k} needs at least {k} decision times in the test span; it has {len(span)}")
    cuts = np.round(np.linspace(0, len(span), k + 1)).astype(int)
    folds = []
    for i in range(k):
        start = span[cuts[i]]
        end = span[cuts[i + 1]] if i < k - 1 else span[-1] + np.timedelta64(1, "us")
        last = span[cuts[i + 1] - 1]
        folds.append(Fold(i + 1, to_datetime(start), to_datetime(end), to_datetime(last), int(cuts[i + 1] - cuts[i])))
    return folds


def horizon_length(spec: ModelSpec) -> timedelta:
    """The horizon's nominal length: what the embargo is at least, whatever the calendar adds to it."""
    from barstore.timeframes import seconds

    if spec.horizon.bars:
        return timedelta(seconds=spec.horizon.bars * seconds(spec.timeframe))
    return timedelta(days=spec.horizon.trading_days)


FIRST_UNKNOWN_SQL = """
SELECT min(event_timestamp) FROM __labels
WHERE label_time >= $start AND ($symbols IS NULL OR list_contains($symbols, symbol))
"""


def training_cutoffs(
    con: duckdb.DuckDBPyConnection, spec: ModelSpec, starts: list[datetime], symbols: list[str] | None = None
) -> list[datetime]:
    """For each fold start, the last decision time `spec` may train on (module docstring)."""
    from barstore.warehouse import query_arrow
    from barstore.windows.labels import forward_returns

    labels = forward_returns(con, spec)
    out = []
    for start in starts:
        first = query_arrow(con, FIRST_UNKNOWN_SQL, {"start": start, "symbols": symbols}, __labels=labels)
        first = first.column(0)[0].as_py()
        nominal = start - horizon_length(spec)
        out.append(min(nominal, first - MICROSECOND) if first is not None else nominal)
    return out


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
