"""`barstore dataset MODEL --out DIR`: a selection's training set written as shards by symbol (barstore.windows.shards),
all or nothing.

    manifest = export_dataset(ws, MODELS["seq300_minute"], Selection(max_samples=5_000), Path("sets/seq300"))

The local engine builds the dataset as `barstore train` does (selected_data) and cuts it by symbol; the Spark
engine (barstore.spark.dataset) builds each group of symbols in a task. Both write into a folder beside DIR and
finish through `finish_set`, which reads the shards back to count them, cut the walk-forward splits and take
the data fingerprint (the values a run's checkpoint will record), writes the manifest last, and only then
renames the folder to DIR: a set that failed halfway never sits at DIR.
"""

from __future__ import annotations

import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from .. import __version__
from ..errors import BarstoreError
from ..splits import project_shares, walk_forward
from .fingerprint import data_fingerprint
from .shards import FORMAT, MANIFEST, SHARDS, Shard, ShardSet, shard_name, shards_of, spec_entry

if TYPE_CHECKING:
    from ..home import Workspace
    from ..specs import ModelSpec
    from .selection import Selection


def export_dataset(
    ws: Workspace, spec: ModelSpec, selection: Selection, out: Path, shares: tuple[float, float, float] | None = None
) -> dict:
    """Write `spec`'s training set of the selection to `out` with the local engine; returns the manifest."""
    from .selection import selected_data

    shares = shares or project_shares(ws.project_dir)
    with staged_set(out) as staging, selected_data(ws, spec, selection, shares=shares) as data:
        entries = write_shards(staging, shards_of(data.dataset))
        return finish_set(staging, spec, data.selection, shares, entries, data.dataset.dropped, "local")


@contextmanager
def staged_set(out: Path) -> Iterator[Path]:
    """A new folder beside `out` to write a set into, renamed to `out` when the block ends without an error and
    removed when it raises. `out` must not exist, or be an empty folder: a set is never written over another."""
    out = Path(out).resolve()
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise BarstoreError(f"--out {out} exists and is not an empty folder: remove it or choose another")
    out.parent.mkdir(parents=True, exist_ok=True)
    staging = out.parent / f".{out.name}.partial-{uuid.uuid4().hex[:8]}"
    staging.mkdir()
    try:
        yield staging
        if out.exists():
            out.rmdir()  # empty (checked above): the rename needs the name free
        os.rename(staging, out)
    finally:
        if staging.exists():
            shutil.rmtree(staging)


def write_shards(staging: Path, shards: list[Shard]) -> list[dict]:
    """Each shard in its folder under staging/shards/, numbered in order; their manifest entries."""
    entries = []
    for position, shard in enumerate(shards):
        path = f"{SHARDS}/{shard_name(position, shard.symbol)}"
        entries.append({**shard.save(staging / path), "path": path})
    return entries


def finish_set(
    staging: Path,
    spec: ModelSpec,
    selection: Selection,
    shares: tuple[float, float, float],
    entries: list[dict],
    dropped: dict[str, int],
    engine: str,
) -> dict:
    """Read the written shards back, cut their walk-forward splits, take their data fingerprint, and write the
    manifest (the last file of a set); returns it."""
    manifest = {
        "format": FORMAT,
        "barstore_version": __version__,
        "engine": engine,
        "written_at": datetime.now(UTC).isoformat(),
        "model": spec.name,
        "spec": spec_entry(spec),
        "selection": selection.describe(),  # with the snapshot every shard was read from
        "split_shares": list(shares),
        "dropped": {name: int(n) for name, n in dropped.items()},
        "shards": entries,
    }
    written = ShardSet(staging, manifest)
    index = written.samples()
    splits = walk_forward(index.timestamps, index.label_times, shares)
    manifest |= {
        "rows": len(written.rows),
        "samples": len(index.ends),
        "splits": {name: len(p) for name, p in splits.named().items()} | {"purged": splits.purged},
        "data_fingerprint": data_fingerprint(
            written.columns, written.steps, written.rows, index.ends, index.labels, splits
        ),
    }
    part = staging / f"{MANIFEST}.partial"
    part.write_text(json.dumps(manifest, indent=1) + "\n")
    os.rename(part, staging / MANIFEST)
    return manifest
