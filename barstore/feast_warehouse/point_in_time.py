"""The SQL of Feast's point-in-time join on the warehouse: one ASOF LEFT JOIN per feature view.

Feast's semantics, per entity row and feature view: the row with the same join keys and the latest
event time <= the entity time (ties broken by the latest created timestamp), its features NULL when
that event time is older than entity time - ttl. ASOF picks the latest row first and the ttl check
nulls it afterwards; that equals Feast's "filter by ttl, then take the latest" because any older
row would be older than the ttl as well.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Dict, List, Optional, Sequence, Tuple

import numpy as np
import pyarrow as pa
from feast.feature_view import DUMMY_ENTITY_ID, FeatureView

from ..errors import BarstoreError
from ..warehouse import quote_ident
from .source import WarehouseSource, describe, warehouse_source

ENTITY_RELATION = "__barstore_entity"
ROW_COLUMN = "__barstore_row"  # the entity row's position: the result keeps the entity df's order


def timestamp_literal(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=timezone.utc)  # Feast's convention: naive = UTC
    return f"TIMESTAMPTZ '{moment.astimezone(timezone.utc).isoformat(sep=' ')}'"


def interval_literal(span: timedelta) -> str:
    return f"INTERVAL '{span // timedelta(microseconds=1)} microseconds'"


@dataclass(frozen=True)
class ViewJoin:
    """What one feature view contributes: its source, join keys, features and ttl."""

    source: WarehouseSource
    keys: List[Tuple[str, str]]       # (source column, entity df column)
    features: List[Tuple[str, str]]   # (source column, output column)
    ttl: Optional[timedelta]


def view_joins(feature_views: Sequence[FeatureView], feature_refs: Sequence[str],
               full_feature_names: bool) -> List[ViewJoin]:
    joins = []
    for view in feature_views:
        source = warehouse_source(view.batch_source, f"feature view {view.name!r}: its batch source is")
        source_column = {feature: column for column, feature in source.field_mapping.items()}
        prefix = view.projection.name_to_use()
        output_prefix = view.projection.name_alias or view.name
        names = [ref.split(":", 1)[1] for ref in feature_refs if ref.startswith(f"{prefix}:")]
        key_map = view.projection.join_key_map or {c.name: c.name for c in view.entity_columns}
        joins.append(ViewJoin(
            source=source,
            keys=[(source_column.get(k, k), e) for k, e in key_map.items() if k != DUMMY_ENTITY_ID],
            features=[(source_column.get(f, f), f"{output_prefix}__{f}" if full_feature_names else f)
                      for f in names],
            ttl=view.ttl if view.ttl else None,  # Feast: a zero ttl means no limit
        ))
    return joins


def column_expr(name: str, types: Dict[str, str]) -> str:
    """A source column as read: DECIMAL as DOUBLE (Feast has no decimal type)."""
    return f"CAST({quote_ident(name)} AS DOUBLE)" if types[name].startswith("DECIMAL") else quote_ident(name)


def timestamp_expr(name: str, types: Dict[str, str]) -> str:
    """An event time as TIMESTAMPTZ; the bare column when it already is one, so filters reach the scan."""
    return quote_ident(name) if types[name] == "TIMESTAMP WITH TIME ZONE" else f"CAST({quote_ident(name)} AS TIMESTAMPTZ)"


def check_columns(source: WarehouseSource, types: Dict[str, str], wanted: Sequence[str]) -> None:
    missing = [c for c in wanted if c not in types]
    if missing:
        raise BarstoreError(
            f"data source {source.name!r} (warehouse table {source.table!r}) has no column(s) "
            f"{', '.join(missing)}; it has: {', '.join(types)}"
        )


def _view_cte(con, i: int, join: ViewJoin, lowest: Optional[datetime], highest: Optional[datetime]) -> str:
    source = join.source
    types = describe(con, source)
    created = source.created_timestamp_column
    check_columns(source, types, [c for c, _ in join.keys] + [c for c, _ in join.features]
                  + [source.timestamp_field] + ([created] if created else []))
    ts = timestamp_expr(source.timestamp_field, types)
    select = [f"{quote_ident(c)} AS __k{j}" for j, (c, _) in enumerate(join.keys)]
    select.append(f"{ts} AS __ts")
    select += [f"{column_expr(c, types)} AS __f{j}" for j, (c, _) in enumerate(join.features)]
    # Rows after the last entity time, or too old for the first one, can never be returned.
    where = [f"{ts} <= {timestamp_literal(highest)}"] if highest else []
    if lowest and join.ttl:
        where.append(f"{ts} >= {timestamp_literal(lowest)} - {interval_literal(join.ttl)}")
    sql = f"SELECT {', '.join(select)} FROM {source.get_table_query_string()}"
    if where:
        sql += " WHERE " + " AND ".join(where)
    if created:
        # ASOF takes any one of rows tied on event time: keep the latest created per (keys, time) first.
        partition = ", ".join([quote_ident(c) for c, _ in join.keys] + [ts])
        sql += (f" QUALIFY row_number() OVER (PARTITION BY {partition} "
                f"ORDER BY {timestamp_expr(created, types)} DESC NULLS LAST) = 1")
    return f"v{i} AS ({sql})"


def point_in_time_sql(con, joins: Sequence[ViewJoin], event_column: str,
                      lowest: Optional[datetime], highest: Optional[datetime]) -> str:
    """The query over the registered entity relation: its columns (ROW_COLUMN last) + features, in any order."""
    event = f"e.{quote_ident(event_column)}"
    ctes, outputs, from_ = [], [], [f"{ENTITY_RELATION} AS e"]
    for i, join in enumerate(joins):
        ctes.append(_view_cte(con, i, join, lowest, highest))
        on = [f"e.{quote_ident(entity)} = v{i}.__k{j}" for j, (_, entity) in enumerate(join.keys)]
        on.append(f"{event} >= v{i}.__ts")
        from_.append(f"ASOF LEFT JOIN v{i} ON {' AND '.join(on)}")
        for j, (_, output) in enumerate(join.features):
            value = f"v{i}.__f{j}"
            if join.ttl:
                value = f"CASE WHEN v{i}.__ts >= {event} - {interval_literal(join.ttl)} THEN {value} END"
            outputs.append(f"{value} AS {quote_ident(output)}")
    with_ = f"WITH {', '.join(ctes)} " if ctes else ""
    return (f"{with_}SELECT e.* EXCLUDE ({ROW_COLUMN}){''.join(', ' + o for o in outputs)}, e.{ROW_COLUMN} "
            f"FROM {' '.join(from_)}")


def in_entity_order(table: pa.Table) -> pa.Table:
    """Rows back in entity order, ROW_COLUMN dropped. ASOF LEFT JOIN returns each entity row exactly once,
    so ROW_COLUMN is a permutation: inverting it is O(n), cheaper than DuckDB's ORDER BY (a sort)."""
    rows = table[ROW_COLUMN].to_numpy()
    order = np.empty_like(rows)
    order[rows] = np.arange(len(rows), dtype=rows.dtype)
    return table.drop_columns([ROW_COLUMN]).take(order)
