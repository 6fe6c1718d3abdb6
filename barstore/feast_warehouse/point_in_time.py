"""Feast's point-in-time join on the warehouse: one DuckDB ASOF JOIN per feature view, on compact columns.

Feast's semantics, per entity row and feature view: the row with the same join keys and the latest
event time <= the entity time (ties broken by the latest created timestamp), its features NULL when
that event time is older than entity time - ttl. Taking the latest row first and nulling it by the ttl
afterwards equals Feast's "filter by ttl, then take the latest": any older row is older than the ttl too.

Per view, one query: the entity rows' distinct join keys are numbered (an integer code, whatever the key
columns); the candidate rows are the source rows within [first entity time - ttl, last entity time] whose
keys an entity row has, as (code, event and created time in µs, a table's row id), the latest created kept
among rows tied on (code, event time); the ASOF JOIN matches each entity row (code, time in µs, position) to
its candidate, if any, within the ttl; only the matched rows' features are then fetched: a table's by rowid,
a view's by a join on (keys, event time, created time). Arrow puts them in entity row order, NULL for the
unmatched.
Asked for (barstore.feast_warehouse.event_times), the matched row's event time comes along as one more column per
view, `<view>__event_timestamp` (NULL where nothing matched): the ASOF JOIN knows it anyway, Feast has no way to
return it, and the validation gate needs it to prove each step saw only rows closed at or before it.
Sorting compact rows in the ASOF and fetching features late is what keeps it fast: an ASOF JOIN carrying
every feature column took about twice as long at 100k entity rows against 1M feature rows (BENCHMARKS.md).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from feast.feature_view import DUMMY_ENTITY_ID, FeatureView

from ..errors import BarstoreError
from ..warehouse import quote_ident
from .event_times import column as event_time_column
from .source import WarehouseSource, describe, warehouse_source

# The entity rows as registered: their join key columns, event time in µs and position.
ENTITY_RELATION = "__barstore_entity"
TIME_COLUMN = "__barstore_ts"
ROW_COLUMN = "__barstore_row"


def timestamp_literal(moment: datetime) -> str:
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)  # Feast's convention: naive = UTC
    return f"TIMESTAMPTZ '{moment.astimezone(UTC).isoformat(sep=' ')}'"


def interval_literal(span: timedelta) -> str:
    return f"INTERVAL '{span // timedelta(microseconds=1)} microseconds'"


@dataclass(frozen=True)
class ViewJoin:
    """What one feature view contributes: its source, join keys, features and ttl."""

    source: WarehouseSource
    keys: list[tuple[str, str]]  # (source column, entity df column)
    features: list[tuple[str, str]]  # (source column, output column)
    ttl: timedelta | None
    name: str  # the view as its features are prefixed (alias or name)


def view_joins(
    feature_views: Sequence[FeatureView], feature_refs: Sequence[str], full_feature_names: bool
) -> list[ViewJoin]:
    joins = []
    for view in feature_views:
        source = warehouse_source(view.batch_source, f"feature view {view.name!r}: its batch source is")
        source_column = {feature: column for column, feature in source.field_mapping.items()}
        prefix = view.projection.name_to_use()
        output_prefix = view.projection.name_alias or view.name
        names = [ref.split(":", 1)[1] for ref in feature_refs if ref.startswith(f"{prefix}:")]
        key_map = view.projection.join_key_map or {c.name: c.name for c in view.entity_columns}
        joins.append(
            ViewJoin(
                source=source,
                keys=[(source_column.get(k, k), e) for k, e in key_map.items() if k != DUMMY_ENTITY_ID],
                features=[
                    (source_column.get(f, f), f"{output_prefix}__{f}" if full_feature_names else f) for f in names
                ],
                ttl=view.ttl if view.ttl else None,  # Feast: a zero ttl means no limit
                name=output_prefix,
            )
        )
    return joins


def column_expr(name: str, types: dict[str, str]) -> str:
    """A source column as read: DECIMAL as DOUBLE (Feast has no decimal type)."""
    return f"CAST({quote_ident(name)} AS DOUBLE)" if types[name].startswith("DECIMAL") else quote_ident(name)


def timestamp_expr(name: str, types: dict[str, str]) -> str:
    """An event time as TIMESTAMPTZ; the bare column when it already is one, so filters reach the scan."""
    return (
        quote_ident(name) if types[name] == "TIMESTAMP WITH TIME ZONE" else f"CAST({quote_ident(name)} AS TIMESTAMPTZ)"
    )


def check_columns(source: WarehouseSource, types: dict[str, str], wanted: Sequence[str]) -> None:
    missing = [c for c in wanted if c not in types]
    if missing:
        raise BarstoreError(
            f"data source {source.name!r} (warehouse table {source.table!r}) has no column(s) "
            f"{', '.join(missing)}; it has: {', '.join(types)}"
        )


def _has_rowid(con, source: WarehouseSource, types: dict[str, str]) -> bool:
    """Whether the source's rows can be fetched by rowid: a table's can (unless a column is named rowid), a view's
    cannot."""
    try:
        con.execute(f"DESCRIBE SELECT rowid FROM {source.get_table_query_string()}").fetchall()
    except duckdb.BinderException:
        return False
    return "rowid" not in types


def _matches_keys(keys: Sequence[str]) -> str:
    """The join condition of key expressions against the numbered entity keys __keys.__k0, __k1, ..."""
    return " AND ".join(f"{k} = __keys.__k{j}" for j, k in enumerate(keys))


def _matches_sql(
    con, join: ViewJoin, lowest: datetime | None, highest: datetime | None, event_times: bool = False
) -> str:
    """The query over ENTITY_RELATION: (ROW_COLUMN, features __f*[, the matched event time in µs __event_us]) of the
    entity rows that get a feature row."""
    source = join.source
    types = describe(con, source)
    created = source.created_timestamp_column
    check_columns(
        source,
        types,
        [c for c, _ in join.keys]
        + [c for c, _ in join.features]
        + [source.timestamp_field]
        + ([created] if created else []),
    )
    ts = timestamp_expr(source.timestamp_field, types)
    # Rows after the last entity time, too old for the first one, or without a time can never be returned
    # (none can without entity rows: no bounds).
    where = [f"{ts} <= {timestamp_literal(highest)}" if highest else "FALSE"]
    if lowest and join.ttl:
        where.append(f"{ts} >= {timestamp_literal(lowest)} - {interval_literal(join.ttl)}")
    by_rowid = _has_rowid(con, source, types)
    # NOT MATERIALIZED: the ASOF side reads keys and times (and a table's rowid), the fetch only the matched
    # rows' features.
    rows = "NOT MATERIALIZED (SELECT rowid AS __row," if by_rowid else "NOT MATERIALIZED (SELECT"
    # Views without entities join on one constant key.
    entity_keys = [f"e.{quote_ident(e)}" for _, e in join.keys] or ["0"]
    source_keys = [f"r.{quote_ident(c)}" for c, _ in join.keys] or ["0"]
    on_keys = _matches_keys(source_keys)
    # INTEGER codes (one per distinct entity key, so far below 2**31) make the ASOF's sort keys narrower.
    distinct = ", ".join(f"{k} AS __k{j}" for j, k in enumerate(entity_keys))
    not_null = " AND ".join(f"{k} IS NOT NULL" for k in entity_keys)
    created_us = f"epoch_us({timestamp_expr(created, types)})" if created else "NULL::BIGINT"
    candidates = (
        f"SELECT __code, epoch_us({ts}) AS __ts, {created_us} AS __created"
        f"{', r.__row' if by_rowid else ''} FROM __rows AS r JOIN __keys ON {on_keys}"
    )
    if created:  # ASOF takes any one of rows tied on (key, time): keep the latest created (NULL last) first
        candidates += " QUALIFY row_number() OVER (PARTITION BY __code, __ts ORDER BY __created DESC NULLS LAST) = 1"
    entity = (
        f"SELECT __code, e.{TIME_COLUMN} AS __ts, e.{ROW_COLUMN} FROM {ENTITY_RELATION} AS e "
        f"JOIN __keys ON {_matches_keys(entity_keys)}"
    )
    features = ", ".join(f"{column_expr(c, types)} AS __f{j}" for j, (c, _) in enumerate(join.features))
    if event_times:
        features += ", m.__ts AS __event_us"
    ttl = f" WHERE c.__ts >= e.__ts - {join.ttl // timedelta(microseconds=1)}" if join.ttl else ""
    if by_rowid:
        fetch = "JOIN __rows AS r ON r.__row = m.__row"
    else:  # a view's row is found again by its keys, time and created time (exact duplicates: see _view_features)
        fetch = (
            f"JOIN __keys USING (__code) JOIN __rows AS r ON {on_keys} AND epoch_us({ts}) = m.__ts "
            f"AND {created_us} IS NOT DISTINCT FROM m.__created"
        )
    return (
        f"WITH __rows AS {rows} * FROM {source.get_table_query_string()} WHERE {' AND '.join(where)}), "
        f"__keys AS (SELECT *, (row_number() OVER ())::INTEGER AS __code FROM "
        f"(SELECT DISTINCT {distinct} FROM {ENTITY_RELATION} AS e WHERE {not_null})), "
        f"__candidates AS ({candidates}), __entity AS ({entity}), "
        f"__matched AS (SELECT e.{ROW_COLUMN}, c.* EXCLUDE (__ts), c.__ts FROM __entity AS e "
        f"ASOF JOIN __candidates AS c ON e.__code = c.__code AND e.__ts >= c.__ts{ttl}) "
        f"SELECT m.{ROW_COLUMN}, {features} FROM __matched AS m {fetch}"
    )


def _view_features(
    con, join: ViewJoin, rows: int, lowest: datetime | None, highest: datetime | None, event_times: bool = False
) -> pa.Table:
    """The view's output columns, one row per entity row in its order (NULLs where nothing matches); with
    `event_times` the matched row's event time last, as `<view>__event_timestamp` (timestamp[us, UTC])."""
    matched = con.sql(_matches_sql(con, join, lowest, highest, event_times)).to_arrow_table()
    if event_times:
        stamps = pc.cast(matched["__event_us"], pa.timestamp("us", tz="UTC"))
        matched = matched.set_column(matched.schema.get_field_index("__event_us"), "__event_us", stamps)
    at = np.full(rows, -1, dtype=np.int64)  # entity row -> its row in `matched`, -1: none
    # a view's rows tied on keys, time and created time all match: the last written wins, as Feast takes any one
    at[matched[ROW_COLUMN].to_numpy()] = np.arange(matched.num_rows)
    taken = matched.drop_columns([ROW_COLUMN]).take(pa.array(at, mask=at < 0))
    names = [output for _, output in join.features] + ([event_time_column(join.name)] if event_times else [])
    return taken.rename_columns(names)


def point_in_time(
    con,
    joins: Sequence[ViewJoin],
    entities: pa.Table,
    event_column: str,
    lowest: datetime | None,
    highest: datetime | None,
    event_times: bool = False,
) -> pa.Table:
    """`entities` (event column: timestamp[us, UTC], from `lowest` to `highest`) with every view's features
    appended, in entity row order; with `event_times`, then each view's matched event time (Feast's frame plus
    columns at the end, so its own columns keep their places)."""
    keys = sorted({e for join in joins for _, e in join.keys})
    relation = entities.select(keys).append_column(TIME_COLUMN, pc.cast(entities[event_column], pa.int64()))
    con.register(
        ENTITY_RELATION, relation.append_column(ROW_COLUMN, pa.array(np.arange(entities.num_rows, dtype=np.int64)))
    )  # an Arrow scan, no copy
    try:
        result, stamps = entities, []
        for join in joins:
            features = _view_features(con, join, entities.num_rows, lowest, highest, event_times)
            for name in features.column_names:
                if event_times and name == event_time_column(join.name):
                    stamps.append((name, features[name]))
                else:
                    result = result.append_column(name, features[name])
        for name, column in stamps:
            result = result.append_column(name, column)
        return result
    finally:
        con.unregister(ENTITY_RELATION)
