"""The fingerprint of a training set: what a run learns from and is judged on, hashed so that two runs (or a run
and a training set written to shards, barstore.windows.shards) can be told to hold the same data."""

from __future__ import annotations

import hashlib
import json
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from barstore.splits import Splits

CHUNK_ROWS = 1 << 16


def data_fingerprint(
    columns: list[str], steps: int, values, ends: np.ndarray, labels: np.ndarray, splits: Splits
) -> str:
    """sha256 of the columns and window length, the values of every matrix row some window covers, each window's
    end among those rows, the labels, and the split membership. Rows no window covers do not count, so widening
    the retrieval alone keeps the fingerprint. `values` is the (rows, features) matrix, or anything that reads
    row slices `values[lo:hi]` (memory-mapped shards): it is hashed in chunks of rows, never copied whole."""
    ends = np.asarray(ends, dtype=np.int64)
    n = len(values)
    edges = np.bincount(ends - steps + 1, minlength=n + 1) - np.bincount(ends + 1, minlength=n + 1)
    covered = np.cumsum(edges[:n]) > 0
    digest = hashlib.sha256(json.dumps({"columns": list(columns), "steps": steps}).encode())
    for start in range(0, n, CHUNK_ROWS):
        stop = start + CHUNK_ROWS
        digest.update(np.ascontiguousarray(values[start:stop][covered[start:stop]]).tobytes())
    rank = np.cumsum(covered) - 1  # each covered row's position among the covered rows
    digest.update(rank[ends].astype("<i8").tobytes())
    digest.update(np.asarray(labels).astype("<f8").tobytes())
    for positions in (splits.train, splits.validation, splits.test):
        digest.update(b"|" + np.asarray(positions, dtype="<i8").tobytes())
    return digest.hexdigest()
