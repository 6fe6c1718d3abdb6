"""Two lanes for one prediction's forward passes: the calling thread and one helper thread.

torch releases the GIL inside its operators, so two single-threaded forward passes run at once on two cores, where
one pass on two intra-op threads gains little at batch one (and stalls when another process holds a core). The
models are split so that the lanes' expected times are close: each model's cost is its last measured forward
time (0 when its result is kept and nothing will run), assigned greedily, slowest first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor


def balance(costs: dict[str, float]) -> tuple[list[str], list[str]]:
    """Models split into two lanes of close total cost (greedy, slowest first); the first lane is never the
    emptier one, so a single model stays on the calling thread."""
    lanes: tuple[list[str], list[str]] = ([], [])
    totals = [0.0, 0.0]
    for model in sorted(costs, key=lambda m: -costs[m]):
        i = 0 if totals[0] <= totals[1] else 1
        lanes[i].append(model)
        totals[i] += costs[model]
    if sum(costs[m] for m in lanes[1]) == 0:  # nothing to overlap: no thread hop
        return [*lanes[0], *lanes[1]], []
    return lanes


class Lanes:
    """Runs `work(model)` for several models on the calling thread and one helper thread, keeping each model's
    measured time for the next split. `threads_in_helper` is entered once in the helper (torch's intra-op
    threads there)."""

    def __init__(self, threads_in_helper: Callable[[], None]):
        self._setup = threads_in_helper
        self._pool: ThreadPoolExecutor | None = None
        self.cost: dict[str, float] = {}

    def run(self, models: Sequence[str], work: Callable[[str], object], computing: set[str]):
        """{model: work(model)} in `models`' order; `computing`: the models whose pass runs (the others' work
        returns a kept result)."""
        mine, theirs = balance({m: self.cost.get(m, 1.0) if m in computing else 0.0 for m in models})
        pending = self._helper().submit(self._lane, theirs, work, computing) if theirs else None
        done = self._lane(mine, work, computing)
        if pending is not None:
            done.update(pending.result())
        return {m: done[m] for m in models}

    def _lane(self, models: list[str], work, computing: set[str]) -> dict:
        out = {}
        for model in models:
            start = time.perf_counter()
            out[model] = work(model)
            if model in computing:
                self.cost[model] = time.perf_counter() - start
        return out

    def _helper(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(1, thread_name_prefix="barstore-forward", initializer=self._setup)
        return self._pool
