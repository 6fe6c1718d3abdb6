"""A torch Dataset of (window, label) that slices one shared aligned matrix: memory stays ~1x the matrix."""

from __future__ import annotations

import numpy as np
import torch
from torch.utils.data import Dataset

from .index import AlignedMatrix, WindowIndex


class WindowDataset(Dataset):
    """Item k: (matrix rows ends[k]-steps+1 .. ends[k] as a (steps, features) float64 view, label).

    `timestamps[k]` and `symbol(k)` say which step (decision time) sample k is; `label_times[k]` when its label
    becomes known (the close of the bar it reads), which is what an embargo between splits must respect.
    `aligned` is the whole matrix (with each view's matched event times), for checks such as the validation gate."""

    def __init__(
        self,
        matrix: AlignedMatrix,
        index: WindowIndex,
        steps: int,
        labels: np.ndarray,
        label_times: np.ndarray | None = None,
    ):
        self.aligned = matrix
        self.matrix = torch.from_numpy(matrix.values)  # shares memory with the numpy matrix
        self.columns = matrix.columns
        self.ends = torch.from_numpy(index.ends.astype(np.int64))
        self.labels = torch.from_numpy(labels[index.ends].astype(np.float64))
        self.timestamps = matrix.times[index.ends]
        self.label_times = (
            np.full(len(index.ends), np.datetime64("NaT"), "datetime64[us]")
            if label_times is None
            else label_times[index.ends]
        )
        self.symbol_codes = matrix.symbol_codes[index.ends]
        self.symbol_names = matrix.symbol_names
        self.steps = steps
        self.dropped = index.dropped

    def subset(self, samples: np.ndarray) -> WindowDataset:
        """The samples at these positions, in this order; the matrix is shared, not copied."""
        samples = np.asarray(samples, dtype=np.int64)
        out = object.__new__(type(self))  # a subclass's (training.shards: rows read from disk) stays one
        out.__dict__.update(self.__dict__)
        out.ends = self.ends[torch.from_numpy(samples)]
        out.labels = self.labels[torch.from_numpy(samples)]
        out.timestamps = self.timestamps[samples]
        out.label_times = self.label_times[samples]
        out.symbol_codes = self.symbol_codes[samples]
        return out

    def in_time_order(self) -> WindowDataset:
        """Samples sorted by decision time, then symbol (the order splits cut in); stable for equal times."""
        order = np.lexsort((self.symbol_codes, self.timestamps))
        return self.subset(order)

    def __len__(self) -> int:
        return len(self.ends)

    def __getitem__(self, k: int) -> tuple[torch.Tensor, torch.Tensor]:
        end = int(self.ends[k])
        return self.matrix[end - self.steps + 1 : end + 1], self.labels[k]

    def symbol(self, k: int) -> str:
        return self.symbol_names[self.symbol_codes[k]]

    def window_at(self, symbol: str, timestamp) -> torch.Tensor:
        """The window whose last step is `symbol` at `timestamp` (must be a kept sample)."""
        code = self.symbol_names.index(symbol) if symbol in self.symbol_names else -1
        stamp = np.datetime64(timestamp.replace(tzinfo=None) if hasattr(timestamp, "tzinfo") else timestamp, "us")
        hits = np.flatnonzero((self.symbol_codes == code) & (self.timestamps == stamp))
        if len(hits) == 0:
            raise KeyError(f"no window of {symbol} ends at {timestamp}")
        return self[int(hits[0])][0]

    def nbytes(self) -> int:
        """Bytes this dataset holds (the shared matrix counted once)."""
        return (
            self.matrix.numel() * self.matrix.element_size()
            + self.ends.numel() * 8
            + self.labels.numel() * 8
            + self.timestamps.nbytes
            + self.symbol_codes.nbytes
        )
