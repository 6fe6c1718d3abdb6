"""A training set on disk, cut by symbol, that a training run can stream (`barstore dataset`, `barstore train
--from`):

    DIR/manifest.json                  model and spec, selection and snapshot, split shares, data fingerprint, shards
    DIR/shards/0000-ETHUSDT/matrix.npy       (rows, features) float64: the aligned matrix's rows of this symbol
                            times.npy        (rows,) datetime64[us]: each row's step (event time)
                            break_before.npy (rows,) bool
                            matched.<view>.npy (rows,) datetime64[us]: the event time each step matched in a view
                            ends.npy         (samples,) int64: the rows ending a selected window, ascending
                            labels.npy, label_times.npy  (samples,): each window's label and when it is known

The shards, concatenated in the manifest's order, are the aligned matrix a local run builds (rows grouped by
symbol), so a window ending at row r of shard k ends at row offset(k) + r of that matrix: the same global rows,
fingerprint, splits and batches as the local dataset. Readers memory-map the matrices and hold the small
arrays (rows x a few bytes) in memory.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from ..errors import BarstoreError
from .index import AlignedMatrix

MANIFEST = "manifest.json"
SHARDS = "shards"
FORMAT = "barstore-window-shards/1"
MATRIX = "matrix.npy"
ROW_FILES = (MATRIX, "times.npy", "break_before.npy")
SAMPLE_FILES = ("ends.npy", "labels.npy", "label_times.npy")
US = "datetime64[us]"


def matched_file(view: str) -> str:
    return f"matched.{view}.npy"


def shard_name(position: int, symbol: str) -> str:
    """The folder of the shard at this position: numbered (the manifest's order), then the symbol made safe for
    a file name (two symbols may make the same safe name; the number keeps them apart)."""
    return f"{position:04d}-{re.sub(r'[^A-Za-z0-9._-]', '_', symbol)}"


def spec_entry(spec) -> dict:
    """What the manifest records of a model's spec: enough to refuse a set written for other inputs."""
    return {
        "timeframe": spec.timeframe,
        "steps": spec.steps,
        "horizon": {"bars": spec.horizon.bars, "trading_days": spec.horizon.trading_days},
        "columns": list(spec.columns),
        "views": [view for view, _ in spec.inputs],
    }


@dataclass
class Shard:
    """One symbol's rows of the aligned matrix and its samples, in memory (what a writer saves)."""

    symbol: str
    values: np.ndarray
    times: np.ndarray
    break_before: np.ndarray
    event_times: dict[str, np.ndarray]
    ends: np.ndarray  # rows of this shard, ascending
    labels: np.ndarray
    label_times: np.ndarray

    def save(self, folder: Path) -> dict:
        """Write the shard's files into `folder` (new); its manifest entry, less the path."""
        folder.mkdir(parents=True)
        arrays = {
            MATRIX: np.ascontiguousarray(self.values, dtype=np.float64),
            "times.npy": self.times.astype(US),
            "break_before.npy": self.break_before.astype(bool),
            "ends.npy": self.ends.astype(np.int64),
            "labels.npy": self.labels.astype(np.float64),
            "label_times.npy": self.label_times.astype(US),
        } | {matched_file(view): stamps.astype(US) for view, stamps in self.event_times.items()}
        for name, array in arrays.items():
            np.save(folder / name, array, allow_pickle=False)
        return {"symbol": self.symbol, "rows": len(self.values), "samples": len(self.ends)}


def shards_of(dataset) -> list[Shard]:
    """A WindowDataset cut where its aligned matrix changes symbol (rows are grouped by symbol), each part with
    the samples whose windows end in it, in row order."""
    aligned = dataset.aligned
    codes = aligned.symbol_codes
    if not len(codes):
        return []
    starts = np.flatnonzero(np.r_[True, codes[1:] != codes[:-1]])
    stops = np.r_[starts[1:], len(codes)]
    if len(np.unique(codes[starts])) != len(starts):
        raise ValueError("the aligned matrix's rows are not grouped by symbol")
    ends = dataset.ends.numpy()
    order = np.argsort(ends, kind="stable")
    ends, labels, label_times = ends[order], dataset.labels.numpy()[order], dataset.label_times[order]
    out = []
    for lo, hi in zip(starts, stops, strict=True):
        a, b = np.searchsorted(ends, [lo, hi])
        out.append(
            Shard(
                symbol=aligned.symbol_names[codes[lo]],
                values=aligned.values[lo:hi],
                times=aligned.times[lo:hi],
                # a shard's first row follows another symbol's (or none): a break, whatever the matrix it was
                # cut from said there (a sampled matrix marks it where rows were skipped, which depends on the
                # other symbols retrieved with it)
                break_before=np.r_[True, aligned.break_before[lo + 1 : hi]],
                event_times={view: stamps[lo:hi] for view, stamps in aligned.event_times.items()},
                ends=ends[a:b] - lo,
                labels=labels[a:b],
                label_times=label_times[a:b],
            )
        )
    return out


class ShardRows:
    """The shards' matrices as one (rows, features) matrix, shard after shard, memory-mapped: row slices and
    windows are read when asked for, never the whole. A window lies inside one shard (it holds one symbol)."""

    def __init__(self, matrices: list[np.ndarray], features: int):
        self.matrices = matrices
        self.starts = np.r_[0, np.cumsum([len(m) for m in matrices], dtype=np.int64)]
        self.shape = (int(self.starts[-1]), features)
        self.dtype = np.dtype(np.float64)

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: slice) -> np.ndarray:
        """Rows lo..hi-1 (a slice without a step), copied out of the shards they lie in."""
        if not isinstance(rows, slice) or rows.step not in (None, 1):
            raise TypeError("shard rows are read by slices of consecutive rows")
        lo, hi, _ = rows.indices(len(self))
        parts = [
            m[max(lo - s, 0) : max(min(hi - s, len(m)), 0)]
            for m, s in zip(self.matrices, self.starts[:-1], strict=True)
            if s < hi and s + len(m) > lo
        ]
        return np.concatenate(parts) if parts else np.empty((0, self.shape[1]))

    def windows(self, ends: np.ndarray, steps: int) -> np.ndarray:
        """The windows ending at rows `ends`: (len(ends), steps, features) float64, C-contiguous, the same numbers
        as barstore.inputs.gather_windows reads from the matrix held whole."""
        ends = np.asarray(ends, dtype=np.int64)
        out = np.empty((len(ends), steps, self.shape[1]), dtype=np.float64)
        shard = np.searchsorted(self.starts, ends, side="right") - 1
        for k in np.unique(shard):
            pick = np.flatnonzero(shard == k)
            rows = (ends[pick] - self.starts[k])[:, None] - (steps - 1) + np.arange(steps)
            if k < 0 or k >= len(self.matrices) or rows.min() < 0:
                raise IndexError(f"a window of {steps} steps ending at row {int(ends[pick].min())} leaves its shard")
            out[pick] = self.matrices[k][rows]
        return out


@dataclass
class SampleIndex:
    """Every sample of a shard set in time order (decision time, then symbol: a local dataset's order)."""

    ends: np.ndarray  # int64 global row (shard offset + row in the shard)
    labels: np.ndarray
    timestamps: np.ndarray
    label_times: np.ndarray
    symbol_codes: np.ndarray  # int32 position of the sample's shard


class ShardSet:
    """A written training set: its manifest, each shard's small arrays (read whole) and matrix (memory-mapped).
    `ShardSet.open(DIR)` refuses a set that is not whole, naming the file."""

    def __init__(self, directory: Path, manifest: dict):
        self.directory = Path(directory)
        self.manifest = manifest
        spec = manifest["spec"]
        self.columns, self.steps, self.views = list(spec["columns"]), int(spec["steps"]), list(spec["views"])
        self.symbols = [entry["symbol"] for entry in manifest["shards"]]
        self.arrays = [self._load(entry) for entry in manifest["shards"]]
        self.rows = ShardRows([a.pop(MATRIX) for a in self.arrays], len(self.columns))

    @classmethod
    def open(cls, directory: str | Path) -> ShardSet:
        directory = Path(directory)
        path = directory / MANIFEST
        if not path.is_file():
            raise BarstoreError(f"{path} is missing: {directory} is not a training set written by `barstore dataset`")
        try:
            manifest = json.loads(path.read_text())
        except (OSError, ValueError) as err:
            raise BarstoreError(f"{path} cannot be read: {err}") from None
        if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
            raise BarstoreError(f"{path} is not a manifest of {FORMAT} (format: {manifest.get('format')!r})")
        listed = {entry["path"] for entry in manifest["shards"]}
        folder = directory / SHARDS
        present = {f"{SHARDS}/{p.name}" for p in folder.iterdir()} if folder.is_dir() else set()
        extra = sorted(present - listed)
        if extra:
            raise BarstoreError(f"{directory / extra[0]} is not listed in {path}: a shard of another set?")
        return cls(directory, manifest)

    def _load(self, entry: dict) -> dict[str, np.ndarray]:
        folder = self.directory / entry["path"]
        names = [*ROW_FILES, *(matched_file(v) for v in self.views), *SAMPLE_FILES]
        arrays = {}
        for name in names:
            path = folder / name
            if not path.is_file():
                raise BarstoreError(f"{path} is missing (its shard is listed in {self.directory / MANIFEST})")
            arrays[name] = np.load(path, mmap_mode="r" if name == MATRIX else None, allow_pickle=False)
            expected = entry["samples"] if name in SAMPLE_FILES else entry["rows"]
            shape = (expected, len(self.columns)) if name == MATRIX else (expected,)
            if arrays[name].shape != shape:
                raise BarstoreError(
                    f"{path} holds shape {arrays[name].shape}, not {shape} as {self.directory / MANIFEST} says"
                )
        ends = arrays["ends.npy"]
        if len(ends) and (ends.min() < self.steps - 1 or np.any(np.diff(ends) <= 0)):
            raise BarstoreError(f"{folder / 'ends.npy'}: window ends out of order or before the first full window")
        return arrays

    def samples(self) -> SampleIndex:
        """The global sample index, sorted by decision time, then shard (= symbol) position."""
        ends = [a["ends.npy"] + start for a, start in zip(self.arrays, self.rows.starts[:-1], strict=True)]
        codes = [np.full(len(a["ends.npy"]), k, dtype=np.int32) for k, a in enumerate(self.arrays)]
        times = [a["times.npy"][a["ends.npy"]] for a in self.arrays]
        index = SampleIndex(
            ends=_joined(ends, np.int64),
            labels=_joined([a["labels.npy"] for a in self.arrays], np.float64),
            timestamps=_joined(times, US),
            label_times=_joined([a["label_times.npy"] for a in self.arrays], US),
            symbol_codes=_joined(codes, np.int32),
        )
        order = np.lexsort((index.symbol_codes, index.timestamps))
        return SampleIndex(*(getattr(index, f)[order] for f in SampleIndex.__dataclass_fields__))

    def aligned(self) -> AlignedMatrix:
        """The aligned matrix the shards make, its values memory-mapped (ShardRows): what the gate checks."""
        return AlignedMatrix(
            values=self.rows,
            symbol_codes=np.repeat(np.arange(len(self.arrays), dtype=np.int32), np.diff(self.rows.starts)),
            symbol_names=list(self.symbols),
            times=_joined([a["times.npy"] for a in self.arrays], US),
            break_before=_joined([a["break_before.npy"] for a in self.arrays], bool),
            columns=list(self.columns),
            event_times={v: _joined([a[matched_file(v)] for a in self.arrays], US) for v in self.views},
        )

    def check_model(self, spec) -> None:
        """Refuse a set written for another model, or for other inputs than `spec`'s."""
        path = self.directory / MANIFEST
        if self.manifest["model"] != spec.name:
            raise BarstoreError(f"{path} holds a training set of {self.manifest['model']}, not of {spec.name}")
        if self.manifest["spec"] != spec_entry(spec):
            raise BarstoreError(
                f"{path} was written for {spec.name} with other inputs, window or horizon than this barstore's "
                f"{spec.name}: write it again with `barstore dataset {spec.name}`"
            )

    def selection(self):
        """The Selection the set was written from, with its warehouse snapshot."""
        from .selection import Selection

        sel = self.manifest["selection"]

        def when(text: str | None) -> datetime | None:
            return datetime.fromisoformat(text) if text else None

        symbols = tuple(sel["symbols"]) if sel["symbols"] else None
        since, until = when(sel["since"]), when(sel["until"])
        return Selection(symbols, since, until, sel["stride"], sel["max_samples"], sel["snapshot"])

    def describe(self) -> dict:
        """Where a run's data came from, for its checkpoint."""
        m = self.manifest
        return {
            "dir": str(self.directory.resolve()),
            "engine": m["engine"],
            "snapshot": m["selection"]["snapshot"],
            "data_fingerprint": m["data_fingerprint"],
            "written_at": m["written_at"],
        }


def _joined(parts: list[np.ndarray], dtype) -> np.ndarray:
    return np.concatenate(parts).astype(dtype, copy=False) if parts else np.empty(0, dtype=dtype)
