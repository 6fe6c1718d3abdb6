"""WarehouseSource: a Feast data source naming a table or view of the DuckDB warehouse."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable

import duckdb
from feast.data_source import DataSource
from feast.protos.feast.core.DataSource_pb2 import DataSource as DataSourceProto
from feast.repo_config import RepoConfig
from feast.value_type import ValueType

from ..errors import BarstoreError
from .connection import warehouse_connection, warehouse_path

_CLASS_PATH = "barstore.feast_warehouse.source.WarehouseSource"

_SCALAR_TYPES = {
    "BOOLEAN": ValueType.BOOL,
    "TINYINT": ValueType.INT32,
    "SMALLINT": ValueType.INT32,
    "INTEGER": ValueType.INT32,
    "UTINYINT": ValueType.INT32,
    "USMALLINT": ValueType.INT32,
    "BIGINT": ValueType.INT64,
    "UINTEGER": ValueType.INT64,
    "FLOAT": ValueType.FLOAT,
    "DOUBLE": ValueType.DOUBLE,
    "VARCHAR": ValueType.STRING,
    "BLOB": ValueType.BYTES,
    "DATE": ValueType.UNIX_TIMESTAMP,
    "TIMESTAMP": ValueType.UNIX_TIMESTAMP,
    "TIMESTAMP WITH TIME ZONE": ValueType.UNIX_TIMESTAMP,
    "TIMESTAMP_NS": ValueType.UNIX_TIMESTAMP,
    "TIMESTAMP_MS": ValueType.UNIX_TIMESTAMP,
    "TIMESTAMP_S": ValueType.UNIX_TIMESTAMP,
}


def duckdb_type_to_feast_value_type(type_name: str) -> ValueType:
    """DuckDB column type (as DESCRIBE prints it) -> Feast ValueType; DECIMAL is read as DOUBLE."""
    name = type_name.strip().upper()
    if name.endswith("[]"):
        element = duckdb_type_to_feast_value_type(name[:-2])
        return getattr(ValueType, f"{element.name}_LIST", ValueType.UNKNOWN)
    if name.startswith("DECIMAL"):
        return ValueType.DOUBLE
    return _SCALAR_TYPES.get(name, ValueType.UNKNOWN)


def quote_table(table: str) -> str:
    """`schema.table` -> "schema"."table" (each part quoted, so any name is safe in SQL)."""
    if not re.fullmatch(r"[^.\"]+(\.[^.\"]+){0,2}", table):
        raise BarstoreError(f"WarehouseSource: {table!r} is not a table name (expected [schema.]table)")
    return ".".join(f'"{part}"' for part in table.split("."))


class WarehouseSource(DataSource):
    """A table or view of the warehouse (e.g. `features_1m`), its event time column `ts_close` by default."""

    def __init__(
        self,
        *,
        table: str,
        name: str | None = None,
        timestamp_field: str = "ts_close",
        created_timestamp_column: str | None = "",
        field_mapping: dict[str, str] | None = None,
        description: str | None = "",
        tags: dict[str, str] | None = None,
        owner: str | None = "",
    ):
        quote_table(table)  # refuse a bad name at declaration, not at first query
        self.table = table
        super().__init__(
            name=name or table,
            timestamp_field=timestamp_field,
            created_timestamp_column=created_timestamp_column,
            field_mapping=field_mapping,
            description=description,
            tags=tags,
            owner=owner,
        )

    def source_type(self) -> DataSourceProto.SourceType.ValueType:
        return DataSourceProto.CUSTOM_SOURCE

    def __eq__(self, other):
        return isinstance(other, WarehouseSource) and super().__eq__(other) and self.table == other.table

    def __hash__(self):
        return super().__hash__()

    @staticmethod
    def from_proto(data_source: DataSourceProto) -> WarehouseSource:
        options = json.loads(data_source.custom_options.configuration.decode("utf8"))
        return WarehouseSource(
            name=data_source.name,
            table=options["table"],
            timestamp_field=data_source.timestamp_field,
            created_timestamp_column=data_source.created_timestamp_column,
            field_mapping=dict(data_source.field_mapping),
            description=data_source.description,
            tags=dict(data_source.tags),
            owner=data_source.owner,
        )

    def _to_proto_impl(self) -> DataSourceProto:
        proto = DataSourceProto(
            name=self.name,
            type=DataSourceProto.CUSTOM_SOURCE,
            data_source_class_type=_CLASS_PATH,
            field_mapping=self.field_mapping,
            custom_options=DataSourceProto.CustomSourceOptions(
                configuration=json.dumps({"table": self.table}).encode()
            ),
            description=self.description,
            tags=self.tags,
            owner=self.owner,
        )
        proto.timestamp_field = self.timestamp_field
        proto.created_timestamp_column = self.created_timestamp_column
        return proto

    def get_table_query_string(self) -> str:
        return quote_table(self.table)

    def validate(self, config: RepoConfig):
        self.column_types(config)  # raises with the table name when it is missing

    @staticmethod
    def source_datatype_to_feast_value_type() -> Callable[[str], ValueType]:
        return duckdb_type_to_feast_value_type

    def get_table_column_names_and_types(self, config: RepoConfig) -> Iterable[tuple[str, str]]:
        return list(self.column_types(config).items())

    def column_types(self, config: RepoConfig) -> dict[str, str]:
        with warehouse_connection(warehouse_path(config)) as con:
            return describe(con, self)


def describe(con, source: WarehouseSource) -> dict[str, str]:
    """Column name -> DuckDB type of the source's table, or a clear error when it does not exist."""
    try:
        rows = con.execute(f"DESCRIBE SELECT * FROM {source.get_table_query_string()}").fetchall()
    except duckdb.CatalogException:
        raise BarstoreError(
            f"data source {source.name!r}: the warehouse has no table or view {source.table!r} "
            "(build the feature models first: barstore build)"
        ) from None
    return {name: type_name for name, type_name, *_ in rows}


def warehouse_source(source: DataSource, what: str) -> WarehouseSource:
    """`source` itself when it is a WarehouseSource; else an error starting with `what` (e.g. "data source 'x' is")."""
    if not isinstance(source, WarehouseSource):
        raise BarstoreError(
            f"{what} a {type(source).__name__}; the warehouse offline store reads WarehouseSource(table=...) only"
        )
    return source
