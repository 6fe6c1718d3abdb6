"""The RetrievalJob of the warehouse store: a DuckDB query run on demand, results as Arrow."""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Dict, List, Optional

import pandas as pd
import pyarrow as pa
from feast.infra.offline_stores.offline_store import RetrievalJob, RetrievalMetadata
from feast.on_demand_feature_view import OnDemandFeatureView

from .connection import warehouse_connection

SqlBuilder = Callable[[object], str]  # connection -> SQL (it may read column types first)


class WarehouseRetrievalJob(RetrievalJob):
    """Runs `build_sql(con)` on the warehouse with `inputs` (name -> Arrow table) registered as relations,
    then `finish` on the Arrow result."""

    def __init__(
        self,
        warehouse: Path,
        build_sql: SqlBuilder,
        inputs: Optional[Dict[str, pa.Table]] = None,
        full_feature_names: bool = False,
        metadata: Optional[RetrievalMetadata] = None,
        finish: Optional[Callable[[pa.Table], pa.Table]] = None,
    ):
        self.warehouse = Path(warehouse)
        self._build_sql = build_sql
        self._inputs = inputs or {}
        self._full_feature_names = full_feature_names
        self._metadata = metadata
        self._finish = finish  # post-processing of the query's Arrow result

    @property
    def full_feature_names(self) -> bool:
        return self._full_feature_names

    @property
    def on_demand_feature_views(self) -> List[OnDemandFeatureView]:
        return []  # on-demand views are not supported by this store (Feast applies none here)

    @property
    def metadata(self) -> Optional[RetrievalMetadata]:
        return self._metadata

    def _to_arrow_internal(self, timeout: Optional[int] = None) -> pa.Table:
        with warehouse_connection(self.warehouse) as con:
            for name, table in self._inputs.items():
                con.register(name, table)  # Arrow scan, no copy
            table = con.sql(self._build_sql(con)).to_arrow_table()
        return self._finish(table) if self._finish else table

    def _to_df_internal(self, timeout: Optional[int] = None) -> pd.DataFrame:
        return self._to_arrow_internal(timeout).to_pandas()

    def to_sql(self) -> str:
        """The query, over relations named as in `inputs` (the entity rows: __barstore_entity)."""
        with warehouse_connection(self.warehouse) as con:
            return self._build_sql(con)
