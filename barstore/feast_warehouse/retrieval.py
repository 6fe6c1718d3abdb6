"""The RetrievalJob of the warehouse store: work on a warehouse connection run on demand, results as Arrow."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pyarrow as pa
from feast.infra.offline_stores.offline_store import RetrievalJob, RetrievalMetadata
from feast.on_demand_feature_view import OnDemandFeatureView

from .connection import warehouse_connection

SqlBuilder = Callable[[object], str]  # connection -> SQL (it may read column types first)
Compute = Callable[[object], pa.Table]  # connection -> result


class WarehouseRetrievalJob(RetrievalJob):
    """Runs `compute(con)` on the warehouse when the result is asked for; `sql(con)` is its query when it is one."""

    def __init__(
        self,
        warehouse: Path,
        compute: Compute,
        sql: SqlBuilder | None = None,
        full_feature_names: bool = False,
        metadata: RetrievalMetadata | None = None,
    ):
        self.warehouse = Path(warehouse)
        self._compute = compute
        self._sql = sql
        self._full_feature_names = full_feature_names
        self._metadata = metadata

    @classmethod
    def of_sql(cls, warehouse: Path, sql: SqlBuilder) -> WarehouseRetrievalJob:
        """A job whose result is one query's."""
        return cls(warehouse, lambda con: con.sql(sql(con)).to_arrow_table(), sql)

    @property
    def full_feature_names(self) -> bool:
        return self._full_feature_names

    @property
    def on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return []  # on-demand views are not supported by this store (Feast applies none here)

    @property
    def metadata(self) -> RetrievalMetadata | None:
        return self._metadata

    def _to_arrow_internal(self, timeout: int | None = None) -> pa.Table:
        with warehouse_connection(self.warehouse) as con:
            return self._compute(con)

    def _to_df_internal(self, timeout: int | None = None) -> pd.DataFrame:
        return self._to_arrow_internal(timeout).to_pandas()

    def to_sql(self) -> str:
        """The query (pull jobs); a point-in-time join is one query per feature view plus Arrow, it has none."""
        if self._sql is None:
            raise NotImplementedError("a point-in-time retrieval of the warehouse store is not one SQL query")
        with warehouse_connection(self.warehouse) as con:
            return self._sql(con)
