"""Asking the warehouse offline store for each view's matched event time (Feast's API has no such option).

    with matched_event_times():
        frame = store.get_historical_features(...).to_arrow()   # + one `<view>__event_timestamp` per view

Inside the block the store adds, for every feature view joined, the event time of the row it matched (null when
none matched; timestamp[us, UTC], after Feast's columns): what the validation gate needs to prove that each step
saw only rows closed at or before it and not older than the view's ttl. Outside it the store returns exactly
Feast's frame. The store reads the flag when `get_historical_features` is called, so a job requested inside the
block returns the columns wherever it is run. A context variable, not a global: threads and tasks each ask for
themselves. This module imports no Feast.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar

SUFFIX = "__event_timestamp"
_wanted: ContextVar[bool] = ContextVar("barstore_matched_event_times", default=False)


@contextmanager
def matched_event_times() -> Iterator[None]:
    token = _wanted.set(True)
    try:
        yield
    finally:
        _wanted.reset(token)


def wanted() -> bool:
    return _wanted.get()


def column(view: str) -> str:
    return f"{view}{SUFFIX}"
