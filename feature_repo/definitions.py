"""Feast objects: entity `symbol`, one feature view per feature table and timeframe, one online window view
and one feature service per model. Everything is derived from barstore.specs, the single list of what each
model reads.

Event time of every row is its bar's `ts_close` (when the bar is complete and knowable), never its start:
that makes Feast's point-in-time join return only bars closed at or before the entity time.
"""

from datetime import timedelta

from feast import Entity, FeatureService, FeatureView, Field, ValueType
from feast.types import Array, Float64, Int64

from barstore.feast_warehouse import WarehouseSource
from barstore.specs import MODELS, VIEWS

symbol = Entity(
    name="symbol",
    join_keys=["symbol"],
    value_type=ValueType.STRING,
    description="instrument, e.g. BTCUSDT, ES, or a futures root's continuous series",
)

feature_views = {
    name: FeatureView(
        name=name,
        entities=[symbol],
        ttl=timedelta(seconds=view.ttl_seconds),
        schema=[Field(name=f, dtype=Float64) for f in view.features],
        source=WarehouseSource(name=f"{name}_source", table=name, timestamp_field="ts_close"),
        online=True,
        tags={"timeframe": view.timeframe},
    )
    for name, view in VIEWS.items()
}

# Online windows: Feast keeps one row per entity and has no sequence features, so each model's latest
# window is stored as one flattened Float64 array (steps x features, row-major) written by
# `barstore materialize`; `inference.get_window` reshapes it. The batch source is never read.
window_views = {
    spec.name: FeatureView(
        name=f"{spec.name}_window",
        entities=[symbol],
        ttl=timedelta(days=3650),
        schema=[
            Field(name="window", dtype=Array(Float64)),
            Field(name="window_end_us", dtype=Int64),
            Field(name="steps", dtype=Int64),
            Field(name="n_features", dtype=Int64),
        ],
        source=WarehouseSource(
            name=f"{spec.name}_window_source", table="meta.online_windows", timestamp_field="event_timestamp"
        ),
        online=True,
        tags={"model": spec.name},
    )
    for spec in MODELS.values()
}

feature_services = {
    spec.name: FeatureService(
        name=spec.name,
        features=[feature_views[view][list(features)] for view, features in spec.inputs],
        description=f"{spec.role}: {spec.steps} steps of {spec.timeframe}",
    )
    for spec in MODELS.values()
}

# Feast collects module-level objects: expose them by name.
globals().update({f"view_{k}": v for k, v in feature_views.items()})
globals().update({f"window_{k}": v for k, v in window_views.items()})
globals().update({f"service_{k}": v for k, v in feature_services.items()})
