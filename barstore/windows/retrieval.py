"""Point-in-time retrieval of a model's feature service on its step spine, through Feast."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from barstore.errors import BarstoreError
from barstore.feast_warehouse.event_times import matched_event_times
from barstore.specs import ModelSpec

from .index import AlignedMatrix


def retrieve(store, spec: ModelSpec, spine: pa.Table) -> pa.Table:
    """One row per spine row, in spine order: the model's features as of each step (Feast PIT join), and with
    the warehouse offline store each view's matched event time (`<view>__event_timestamp`)."""
    if spine.num_rows == 0:
        raise no_steps(spec)
    entity_df = spine.select(["symbol", "event_timestamp"]).to_pandas()
    with matched_event_times():
        job = store.get_historical_features(
            entity_df=entity_df,
            features=store.get_feature_service(spec.name),
            full_feature_names=True,
        )
        table = job.to_arrow()
    # the warehouse store keeps the entity order; check rather than trust (a misaligned matrix is silent)
    same = pc.all(pc.equal(table["symbol"], spine["symbol"])).as_py() and table.num_rows == spine.num_rows
    if not same:
        raise RuntimeError("the offline store changed the entity order; windows would be misaligned")
    return table.append_column("break_before", spine["break_before"])


def no_steps(spec: ModelSpec) -> BarstoreError:
    return BarstoreError(
        f"{spec.name} has no {spec.timeframe} steps for this selection: no symbol selected has complete "
        f"{spec.timeframe} bars in the time range (check --symbols, --since, --until and `barstore build`)"
    )


CHUNK_ROWS = 250_000  # spine rows per retrieval: the Arrow frames of one chunk exist beside the matrix, not all


def aligned_matrix(store, spec: ModelSpec, spine: pa.Table, chunk_rows: int = CHUNK_ROWS) -> AlignedMatrix:
    """The model's features at every spine row. Each row's point-in-time lookup depends on that row alone, so a
    long spine is retrieved in chunks of rows straight into one preallocated matrix."""
    views = [view for view, _ in spec.inputs]
    if spine.num_rows <= chunk_rows:
        return AlignedMatrix.from_arrow(retrieve(store, spec, spine), spec.columns, views)
    matrix = AlignedMatrix.from_arrow(spine, [], [])
    matrix.values = np.empty((spine.num_rows, len(spec.columns)), dtype=np.float64)
    matrix.columns = list(spec.columns)
    for lo in range(0, spine.num_rows, chunk_rows):
        part = AlignedMatrix.from_arrow(retrieve(store, spec, spine.slice(lo, chunk_rows)), spec.columns, views)
        hi = lo + len(part.values)
        matrix.values[lo:hi] = part.values
        for view, stamps in part.event_times.items():
            matrix.event_times.setdefault(view, np.full(spine.num_rows, np.datetime64("NaT"), "datetime64[us]"))
            matrix.event_times[view][lo:hi] = stamps
        del part
    return matrix
