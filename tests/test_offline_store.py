"""The warehouse offline store (barstore.feast_warehouse) against Feast's built-in DuckDB store.

A real Feast repo per store in tmp_path (registry, sqlite online store), a real warehouse file. The
built-in store reads a Parquet export of the same tables, so both must return the same frame.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

feast = pytest.importorskip("feast", reason="feast is not installed in this environment")

from feast import Entity, FeatureService, FeatureStore, FeatureView, Field, FileSource  # noqa: E402
from feast.types import Float64, Int64  # noqa: E402
from feast.value_type import ValueType  # noqa: E402

from barstore.errors import BarstoreError  # noqa: E402
from barstore.feast_warehouse import WarehouseSource  # noqa: E402
from barstore.warehouse import connect  # noqa: E402

T0 = datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
SYMBOLS = ["AAA", "BBB", "CCC"]

FEATURE_STORE_YAML = """\
project: barstore_test
provider: local
registry: {registry}
offline_store:
{offline_store}
online_store:
  type: sqlite
  path: {online}
entity_key_serialization_version: 3
coerce_tz_aware: {coerce}
"""
OUR_STORE = "  type: barstore.feast_warehouse.WarehouseOfflineStore\n  warehouse: {warehouse}"
BUILTIN_STORE = "  type: duckdb"


def make_repo(path, offline_store: str) -> FeatureStore:
    """Ours as barstore configures it (naive times made UTC by the store); the built-in store with Feast's default."""
    path.mkdir()
    (path / "feature_store.yaml").write_text(
        FEATURE_STORE_YAML.format(
            registry=path / "registry.db",
            online=path / "online.db",
            offline_store=offline_store,
            coerce="false" if offline_store != BUILTIN_STORE else "true",
        )
    )
    return FeatureStore(repo_path=str(path))


def feature_objects(source_a, source_b):
    symbol = Entity(name="symbol", join_keys=["symbol"], value_type=ValueType.STRING)
    bars = FeatureView(
        name="bars",
        entities=[symbol],
        ttl=timedelta(minutes=10),
        source=source_a,
        schema=[Field(name="a", dtype=Float64), Field(name="b", dtype=Int64)],
    )
    revised = FeatureView(
        name="revised",
        entities=[symbol],
        ttl=timedelta(hours=1),
        source=source_b,
        schema=[Field(name="c", dtype=Float64)],
    )
    service = FeatureService(name="both", features=[bars, revised[["c"]]])
    return [symbol, bars, revised, service]


def minutes(values) -> list[datetime]:
    return [T0 + timedelta(minutes=int(m)) for m in values]


def bars_table(rng) -> pd.DataFrame:
    """Per symbol ~120 one-minute rows over 6 hours, with gaps (some longer than the 10-minute ttl)."""
    frames = []
    for k, symbol in enumerate(SYMBOLS):
        steps = rng.choice([1, 1, 1, 2, 5, 25], size=120)
        start = np.cumsum(steps) + 30 * k
        frames.append(
            pd.DataFrame(
                {
                    "symbol": symbol,
                    "ts": minutes(start),
                    "ts_close": minutes(start + 1),
                    "a": rng.normal(size=len(start)).round(6),
                    "b": rng.integers(0, 1000, size=len(start)),
                }
            )
        )
    return pd.concat(frames, ignore_index=True)


def revised_table(rng) -> pd.DataFrame:
    """Rows tied on event time (ts_close) with different created_at: the latest created must win."""
    rows = []
    for symbol in SYMBOLS:
        for m in np.sort(rng.choice(400, size=60, replace=False)):
            for version in range(int(rng.integers(1, 4))):
                rows.append(
                    {
                        "symbol": symbol,
                        "ts_close": T0 + timedelta(minutes=int(m)),
                        "created_at": T0 + timedelta(days=1, seconds=int(rng.integers(0, 10**6))),
                        "c": round(float(rng.normal()), 6) + version,
                    }
                )
    return pd.DataFrame(rows)


def entity_rows(rng, bars: pd.DataFrame, revised: pd.DataFrame, n: int = 400) -> pd.DataFrame:
    random_times = [T0 + timedelta(seconds=int(s)) for s in rng.integers(-3600, 8 * 3600, size=n)]
    exact = list(bars["ts_close"].iloc[::17]) + list(revised["ts_close"].iloc[::13])  # event time == entity time
    times = random_times + exact
    symbols = (
        list(rng.choice(SYMBOLS + ["ZZZ"], size=n))
        + list(bars["symbol"].iloc[::17])
        + list(revised["symbol"].iloc[::13])
    )
    df = pd.DataFrame({"symbol": symbols, "event_timestamp": times, "label": np.arange(len(times)) * 10})
    df = pd.concat([df, df.iloc[:5]], ignore_index=True)  # duplicate entity rows stay duplicated
    df["event_timestamp"] = df["event_timestamp"].astype("datetime64[us, UTC]")  # built-in store: µs only
    return df.sample(frac=1, random_state=7).reset_index(drop=True)


@pytest.fixture(scope="module")
def stores(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("offline_store")
    rng = np.random.default_rng(42)
    bars, revised = bars_table(rng), revised_table(rng)
    warehouse = tmp / "warehouse.ducklake"
    con = connect(warehouse)
    con.execute(
        "CREATE TABLE bars AS SELECT symbol, ts::TIMESTAMPTZ AS ts, ts_close::TIMESTAMPTZ AS ts_close, "
        "a, b::BIGINT AS b FROM bars"
    )
    con.execute(
        "CREATE TABLE revised AS SELECT symbol, ts_close::TIMESTAMPTZ AS ts_close, "
        "created_at::TIMESTAMPTZ AS created_at, c FROM revised"
    )
    for table in ("bars", "revised"):
        con.execute(f"COPY {table} TO '{tmp / table}.parquet' (FORMAT parquet)")
    con.close()

    ours = make_repo(tmp / "ours", OUR_STORE.format(warehouse=warehouse))
    ours.apply(
        feature_objects(
            WarehouseSource(table="bars"), WarehouseSource(table="revised", created_timestamp_column="created_at")
        )
    )
    builtin = make_repo(tmp / "builtin", BUILTIN_STORE)
    builtin.apply(
        feature_objects(
            FileSource(name="bars", path=str(tmp / "bars.parquet"), timestamp_field="ts_close"),
            FileSource(
                name="revised",
                path=str(tmp / "revised.parquet"),
                timestamp_field="ts_close",
                created_timestamp_column="created_at",
            ),
        )
    )
    return {
        "ours": ours,
        "builtin": builtin,
        "bars": bars,
        "revised": revised,
        "entities": entity_rows(rng, bars, revised),
        "tmp": tmp,
    }


def historical(store, entities, features, full_feature_names):
    return store.get_historical_features(
        entity_df=entities, features=features, full_feature_names=full_feature_names
    ).to_df()


@pytest.mark.parametrize("full_feature_names", [False, True])
def test_same_frame_as_feast_builtin_store(stores, full_feature_names):
    entities = stores["entities"]
    features = ["bars:a", "bars:b", "revised:c"]
    ours = historical(stores["ours"], entities, features, full_feature_names)
    builtin = historical(stores["builtin"], entities, features, full_feature_names)

    expected = builtin.sort_values("label", kind="stable").reset_index(drop=True)
    got = ours.sort_values("label", kind="stable").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, expected, check_dtype=False)
    # ours keeps the entity frame's row order and columns first
    assert ours["label"].tolist() == entities["label"].tolist()
    names = ["bars__a", "bars__b", "revised__c"] if full_feature_names else ["a", "b", "c"]
    assert list(ours.columns) == ["symbol", "event_timestamp", "label"] + names
    # the case is not degenerate: matches, ttl misses and no-data rows all occur
    assert 0.2 < ours[names[0]].isna().mean() < 0.8
    assert ours.loc[ours["symbol"] == "ZZZ", names].isna().all().all()


def test_entity_times_in_any_zone_as_with_feast_coercion(stores):
    """Ours runs with coerce_tz_aware: false and makes datetime columns UTC itself (naive ones taken as UTC); the
    built-in store gets Feast's coercion. Same frame, dtypes included, whatever zone the entity times are in."""
    assert not stores["ours"].config.coerce_tz_aware and stores["builtin"].config.coerce_tz_aware
    aware = stores["entities"].head(120)
    for zone in ("America/New_York", None):  # entity times in New York time, then naive (= UTC)
        entities = aware.assign(
            event_timestamp=aware["event_timestamp"].dt.tz_convert(zone),
            noted_at=aware["event_timestamp"].dt.tz_convert(None) - pd.Timedelta(days=1),
        )  # a passthrough column
        ours = historical(stores["ours"], entities, ["bars:a", "revised:c"], False)
        builtin = historical(stores["builtin"], entities, ["bars:a", "revised:c"], False)
        assert str(ours["event_timestamp"].dt.tz) == "UTC" and str(ours["noted_at"].dt.tz) == "UTC"
        pd.testing.assert_frame_equal(
            ours.sort_values("label").reset_index(drop=True),
            builtin.sort_values("label").reset_index(drop=True),
            check_dtype=False,
        )
        same_instants = historical(stores["ours"], aware, ["bars:a", "revised:c"], False)
        assert ours["a"].equals(same_instants["a"]) and ours["c"].equals(same_instants["c"])
    assert ours["a"].notna().sum() > 20


def test_entity_column_named_like_a_feature_is_refused(stores):
    entities = stores["entities"].head(10).assign(a=1.0)
    with pytest.raises(BarstoreError, match="entity_df has column.s. a, also the name of requested feature"):
        historical(stores["ours"], entities, ["bars:a", "revised:c"], False)
    full = historical(stores["ours"], entities, ["bars:a", "revised:c"], True)  # bars__a: no clash
    assert list(full.columns)[-3:] == ["a", "bars__a", "revised__c"]


def test_feature_service_matches_builtin(stores):
    ours_service = stores["ours"].get_feature_service("both")
    builtin_service = stores["builtin"].get_feature_service("both")
    ours = historical(stores["ours"], stores["entities"], ours_service, True)
    builtin = historical(stores["builtin"], stores["entities"], builtin_service, True)
    assert list(ours.columns)[3:] == ["bars__a", "bars__b", "revised__c"]
    pd.testing.assert_frame_equal(
        ours.sort_values("label").reset_index(drop=True),
        builtin.sort_values("label").reset_index(drop=True),
        check_dtype=False,
    )


def test_created_timestamp_breaks_ties(stores):
    revised = stores["revised"]
    counts = revised.groupby(["symbol", "ts_close"]).size()
    symbol, ts_close = counts[counts > 1].index[0]
    tied = revised[(revised["symbol"] == symbol) & (revised["ts_close"] == ts_close)]
    latest = tied.loc[tied["created_at"].idxmax(), "c"]
    entities = pd.DataFrame({"symbol": [symbol], "event_timestamp": [ts_close]})
    got = historical(stores["ours"], entities, ["revised:c"], False)
    assert got["c"].tolist() == [latest]


def test_ttl_edges(tmp_path):
    warehouse = tmp_path / "warehouse.ducklake"
    con = connect(warehouse)
    con.execute("CREATE TABLE bars (symbol VARCHAR, ts_close TIMESTAMPTZ, a DOUBLE, b BIGINT)")
    con.execute("INSERT INTO bars VALUES ('X', ?, 1.0, 1), ('X', ?, 2.0, 2)", [T0, T0 + timedelta(hours=1)])
    con.close()
    store = make_repo(tmp_path / "repo", OUR_STORE.format(warehouse=warehouse))
    objects = feature_objects(WarehouseSource(table="bars"), WarehouseSource(table="bars", name="bars2"))
    store.apply(objects[:2])
    us = timedelta(microseconds=1)
    times = [
        T0 - us,
        T0,
        T0 + timedelta(minutes=10),
        T0 + timedelta(minutes=10) + us,
        T0 + timedelta(hours=1) - us,
        T0 + timedelta(hours=1),
    ]
    entities = pd.DataFrame({"symbol": "X", "event_timestamp": times})
    got = historical(store, entities, ["bars:a"], False)
    # before any data; exact time; exactly ttl old (kept); older than ttl; older; the next row exactly
    values = [None if pd.isna(v) else v for v in got["a"]]
    assert values == [None, 1.0, 1.0, None, None, 2.0]
    assert got["event_timestamp"].tolist() == times


def test_materialize_into_online_store(stores):
    store, bars, revised = stores["ours"], stores["bars"], stores["revised"]
    end = max(bars["ts_close"].max(), revised["ts_close"].max()) + timedelta(minutes=1)
    store.materialize(start_date=T0 - timedelta(days=1), end_date=end)
    online = store.get_online_features(
        features=["bars:a", "bars:b", "revised:c"], entity_rows=[{"symbol": s} for s in SYMBOLS + ["ZZZ"]]
    ).to_dict()
    last_bar = bars.sort_values("ts_close").groupby("symbol").last()
    last_rev = revised.sort_values(["ts_close", "created_at"]).groupby("symbol").last()
    assert online["a"] == [*last_bar.loc[SYMBOLS, "a"], None]
    assert online["b"] == [*last_bar.loc[SYMBOLS, "b"], None]
    assert online["c"] == [*last_rev.loc[SYMBOLS, "c"], None]


def test_sql_entity_frame_and_open_read_write_connection(stores):
    """Entity rows as a warehouse query; retrieval while this process holds the warehouse read-write."""
    store, entities = stores["ours"], stores["entities"]
    expected = historical(store, entities.head(50), ["bars:a", "revised:c"], False)
    warehouse = stores["tmp"] / "warehouse.ducklake"
    con = connect(warehouse)  # read-write, as barstore commands open it
    try:
        con.register("picked", entities.head(50))
        con.execute("CREATE TEMP TABLE keep AS SELECT * FROM picked")  # temp: invisible to other connections
        con.execute("CREATE OR REPLACE TABLE entity_rows AS SELECT * FROM picked")
        from_sql = historical(store, "SELECT * FROM entity_rows", ["bars:a", "revised:c"], False)
        pd.testing.assert_frame_equal(
            from_sql.sort_values("label").reset_index(drop=True),
            expected.sort_values("label").reset_index(drop=True),
            check_dtype=False,
        )
        again = historical(store, entities.head(50), ["bars:a", "revised:c"], False)
        pd.testing.assert_frame_equal(again, expected)
        assert con.execute("SELECT count(*) FROM keep").fetchone()[0] == 50  # this connection still works
    finally:
        con.execute("DROP TABLE entity_rows")
        con.close()


def test_pull_latest_breaks_ties_by_created_timestamp(stores):
    from barstore.feast_warehouse import WarehouseOfflineStore

    store, revised = stores["ours"], stores["revised"]
    source = store.get_feature_view("revised").batch_source
    end = T0 + timedelta(minutes=200)
    job = WarehouseOfflineStore.pull_latest_from_table_or_query(
        config=store.config,
        data_source=source,
        join_key_columns=["symbol"],
        feature_name_columns=["c"],
        timestamp_field="ts_close",
        created_timestamp_column="created_at",
        start_date=T0 + timedelta(minutes=100),
        end_date=end,
    )
    got = job.to_df().set_index("symbol").sort_index()
    window = revised[(revised["ts_close"] >= T0 + timedelta(minutes=100)) & (revised["ts_close"] <= end)]
    want = window.sort_values(["ts_close", "created_at"]).groupby("symbol").last()
    assert got["c"].tolist() == want["c"].tolist()
    assert list(got["ts_close"]) == list(want["ts_close"])


def test_entity_rows_matching_nothing(stores):
    """Keys absent from the table and times before every row: NULL features, rows and order kept."""
    entities = pd.DataFrame(
        {
            "symbol": ["ZZZ", "AAA", None, "BBB"],  # both tables start at T0 or later
            "event_timestamp": [
                T0 + timedelta(hours=2),
                T0 - timedelta(microseconds=1),
                T0 + timedelta(hours=2),
                T0 - timedelta(days=1),
            ],
            "label": [1, 2, 3, 4],
        }
    )
    got = historical(stores["ours"], entities, ["bars:a", "revised:c"], False)
    assert got["label"].tolist() == [1, 2, 3, 4]
    assert got[["a", "c"]].isna().all().all()


def pairs_table(rng) -> pd.DataFrame:
    """Two-column keys (k1, k2) incl. NULL parts; 1-3 rows per (keys, time) with distinct created times, at most
    one NULL: each entity row has exactly one right answer."""
    rows = []
    for k1 in ["x", "y", None]:
        for k2 in [1, 2, None]:
            for m in rng.choice(60, size=25, replace=False):
                tied = rng.integers(1, 4)
                created = list(rng.choice(10**6, size=tied, replace=False))
                if rng.random() < 0.3:
                    created[0] = None
                for c in created:
                    rows.append(
                        {
                            "k1": k1,
                            "k2": k2,
                            "ts": T0 + timedelta(minutes=int(m)),
                            "v": len(rows) + 0.5,
                            "created": None if c is None else T0 + timedelta(days=1, microseconds=int(c)),
                        }
                    )
    return pd.DataFrame(rows)


def reference(features: pd.DataFrame, entities: pd.DataFrame, ttl: timedelta) -> list:
    """Feast's point-in-time join by definition, row by row."""
    out = []
    for k1, k2, time in entities[["k1", "k2", "event_timestamp"]].itertuples(index=False):
        rows = features[
            (features["k1"] == k1) & (features["k2"] == k2) & (features["ts"] <= time) & (features["ts"] >= time - ttl)
        ]  # NULL keys equal nothing
        latest = rows.assign(created=rows["created"].fillna(T0 - timedelta(days=1))).sort_values(["ts", "created"])
        out.append(latest["v"].iloc[-1] if len(latest) else None)
    return out


@pytest.mark.parametrize("relation", ["table", "view", "doubled_view"])
def test_two_column_keys_by_definition(tmp_path, relation):
    """Through the store, on a table (rows fetched by rowid) and views (rows found again by keys and times): two-
    column keys, NULL and absent key parts, created-time ties with NULL created, times before/between/on rows,
    ttl edges. doubled_view holds every row twice, the copy's v + 1000: an exact tie, where either may come back,
    once per entity row."""
    rng = np.random.default_rng(5)
    features = pairs_table(rng)
    warehouse = tmp_path / "warehouse.ducklake"
    con = connect(warehouse)
    con.execute(
        "CREATE TABLE pairs_table AS SELECT k1, k2::BIGINT AS k2, ts::TIMESTAMPTZ AS ts, "
        "created::TIMESTAMPTZ AS created, v FROM features"
    )
    con.execute("CREATE VIEW pairs_view AS SELECT * FROM pairs_table")
    con.execute(
        "CREATE VIEW pairs_doubled_view AS SELECT * FROM pairs_table "
        "UNION ALL SELECT k1, k2, ts, created, v + 1000 FROM pairs_table"
    )
    con.close()
    store = make_repo(tmp_path / "repo", OUR_STORE.format(warehouse=warehouse))
    k1 = Entity(name="k1", join_keys=["k1"], value_type=ValueType.STRING)
    k2 = Entity(name="k2", join_keys=["k2"], value_type=ValueType.INT64)
    ttl = timedelta(minutes=5)
    source = WarehouseSource(table=f"pairs_{relation}", timestamp_field="ts", created_timestamp_column="created")
    store.apply(
        [
            k1,
            k2,
            FeatureView(
                name="pairs", entities=[k1, k2], ttl=ttl, source=source, schema=[Field(name="v", dtype=Float64)]
            ),
        ]
    )
    n = 300
    grid = T0 + pd.to_timedelta(rng.integers(-5, 65, size=n), unit="min")
    offsets = rng.choice([0, 1, 10**6, 5 * 60 * 10**6, 5 * 60 * 10**6 + 1], size=n)  # on a row, ttl edge, ...
    p = [0.45, 0.45, 0.05, 0.05]  # mostly keys that exist
    entities = pd.DataFrame(
        {
            "k1": rng.choice(["x", "y", "z", None], size=n, p=p),
            "k2": pd.array(rng.choice([1, 2, 3, None], size=n, p=p), dtype="Int64"),
            "event_timestamp": grid + pd.to_timedelta(offsets, unit="us"),
            "label": np.arange(n),
        }
    )
    got = historical(store, entities, ["pairs:v"], False)
    assert got["label"].tolist() == list(range(n))
    want = reference(features, entities, ttl)
    values = [None if pd.isna(v) else v % 1000 for v in got["v"]]  # either copy of a doubled row
    assert values == want
    assert 0.2 < np.mean([v is None for v in want]) < 0.8  # not degenerate
