"""Feast offline store reading barstore's DuckDB warehouse directly, point-in-time joins by ASOF JOIN.

Select it in feature_store.yaml:

    offline_store:
      type: barstore.feast_warehouse.WarehouseOfflineStore
      warehouse: path/to/warehouse.ducklake   # optional: default $BARSTORE_HOME/warehouse.ducklake

and declare feature views over `WarehouseSource(table="features_1m")` (event time `ts_close`).
Feast finds the config class by name next to the store class, so both are exported here. The exports
load lazily: `barstore.feast_warehouse.connection` must import without Feast (barstore.warehouse uses it).
"""

from importlib import import_module

_EXPORTS = {
    "WarehouseOfflineStore": "offline_store",
    "WarehouseOfflineStoreConfig": "offline_store",
    "WarehouseRetrievalJob": "retrieval",
    "WarehouseSource": "source",
}
__all__ = list(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
