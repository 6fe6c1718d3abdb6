"""One epoch's training batches as a torch IterableDataset: the windows of each batch, in the order the fit loop
shuffled the samples, read from wherever the matrix's rows are (held whole in memory, or memory-mapped shards
written by `barstore dataset`: barstore.windows.shards.ShardRows, which reads only the rows a batch needs).

The loop iterates it in its own process, so the batches come in exactly the order given and the numbers are
the same whatever the source: a run from shards fits the same weights as a local run of the same data and seed.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import torch
from torch.utils.data import IterableDataset

from barstore.inputs import gather_windows

if TYPE_CHECKING:
    from collections.abc import Iterator

    from .loop import Samples


class TrainingBatches(IterableDataset):
    """(windows, returns) per batch: windows (batch, steps, features) float64 on the CPU, returns float64."""

    def __init__(self, matrix, steps: int, samples: Samples, batches: list[torch.Tensor]):
        self.matrix, self.steps, self.samples, self.batches = matrix, steps, samples, batches

    def __len__(self) -> int:
        return len(self.batches)

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        for batch in self.batches:
            ends = self.samples.ends[batch]
            yield gather_windows(self.matrix, ends, self.steps, dtype=torch.float64), self.samples.returns[batch]
