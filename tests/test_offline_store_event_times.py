"""The warehouse offline store's matched event times (`<view>__event_timestamp`), asked for with
`barstore.feast_warehouse.event_times.matched_event_times()`: the event time of the row each entity row matched in
each view, NULL where none matched; outside the block the frame is Feast's (tests/test_offline_store.py).

The reference is Feast's rule by definition: the latest row of the same symbol at or before the entity time and
not older than the view's ttl (rows tied on event time share it, whichever created time wins).
"""

from __future__ import annotations

from datetime import timedelta

import pandas as pd
import pytest

pytest.importorskip("feast", reason="feast is not installed in this environment")

from barstore.errors import BarstoreError  # noqa: E402
from barstore.feast_warehouse import WarehouseSource  # noqa: E402
from barstore.feast_warehouse.event_times import matched_event_times  # noqa: E402
from barstore.warehouse import connect  # noqa: E402

from .test_offline_store import OUR_STORE, T0, feature_objects, historical, make_repo, stores  # noqa: E402, F401

FEATURES = ["bars:a", "bars:b", "revised:c"]
STAMPS = ["bars__event_timestamp", "revised__event_timestamp"]


def matched_times(rows: pd.DataFrame, entities: pd.DataFrame, ttl: timedelta) -> pd.Series:
    """Per entity row (in its order), the event time of the row Feast's join matches, NaT where none does."""
    stamps = rows["ts_close"].astype("datetime64[us, UTC]")
    events = pd.DataFrame({"symbol": rows["symbol"], "ts_close": stamps, "matched": stamps}).sort_values("ts_close")
    keyed = entities[["symbol", "event_timestamp"]].reset_index().sort_values("event_timestamp")
    joined = pd.merge_asof(
        keyed,
        events,
        left_on="event_timestamp",
        right_on="ts_close",
        by="symbol",
        direction="backward",
        tolerance=pd.Timedelta(ttl),
    )
    return joined.set_index("index")["matched"].sort_index()


@pytest.mark.parametrize("full_feature_names", [False, True])
def test_event_times_are_the_matched_rows(stores, full_feature_names):  # noqa: F811
    store, entities = stores["ours"], stores["entities"]
    plain = historical(store, entities, FEATURES, full_feature_names)
    with matched_event_times():
        got = historical(store, entities, FEATURES, full_feature_names)

    # Feast's frame, column for column, then one event time per view (named by the view either way)
    assert list(got.columns) == list(plain.columns) + STAMPS
    pd.testing.assert_frame_equal(got[plain.columns], plain)
    assert str(got["bars__event_timestamp"].dtype) == "datetime64[us, UTC]"

    bars_at = matched_times(stores["bars"], entities, timedelta(minutes=10))
    revised_at = matched_times(stores["revised"], entities, timedelta(hours=1))
    assert got["bars__event_timestamp"].tolist() == bars_at.tolist()
    assert got["revised__event_timestamp"].tolist() == revised_at.tolist()
    # null exactly where the view gave nothing (bars' `a` is never null in the data)
    a = "bars__a" if full_feature_names else "a"
    assert got["bars__event_timestamp"].isna().tolist() == got[a].isna().tolist()
    assert got.loc[got["symbol"] == "ZZZ", STAMPS].isna().all().all()
    # not degenerate: matches at the entity time itself, earlier matches and misses all occur
    lag = got["event_timestamp"] - got["bars__event_timestamp"]
    assert (lag == pd.Timedelta(0)).sum() > 5 and (lag > pd.Timedelta(0)).sum() > 50 and lag.isna().sum() > 50


def test_asked_when_the_retrieval_is_requested(stores):  # noqa: F811
    """The store reads the request inside the block; a job made outside it returns Feast's frame only."""
    store, entities = stores["ours"], stores["entities"].head(40)
    with matched_event_times():
        job = store.get_historical_features(entity_df=entities, features=FEATURES)
    outside = store.get_historical_features(entity_df=entities, features=FEATURES)
    with matched_event_times():
        assert not any(c.endswith("__event_timestamp") for c in outside.to_df().columns)
    assert list(job.to_df().columns)[-2:] == STAMPS


def test_entity_column_named_like_an_event_time_is_refused(stores):  # noqa: F811
    entities = stores["entities"].head(5).assign(bars__event_timestamp=T0)
    with matched_event_times(), pytest.raises(BarstoreError, match="entity_df has column.s. bars__event_timestamp"):
        historical(stores["ours"], entities, FEATURES, False)


@pytest.mark.parametrize("relation", ["table", "view"])
def test_ttl_edges_and_views(tmp_path, relation):
    """On a table (rows fetched by rowid) and a view (found again by keys and times): the event time at the ttl
    edge is kept, one microsecond past it is NULL, as the features are."""
    warehouse = tmp_path / "warehouse.ducklake"
    con = connect(warehouse)
    con.execute("CREATE TABLE bars_t (symbol VARCHAR, ts_close TIMESTAMPTZ, a DOUBLE, b BIGINT)")
    con.execute("INSERT INTO bars_t VALUES ('X', ?, 1.0, 1), ('X', ?, 2.0, 2)", [T0, T0 + timedelta(hours=1)])
    con.execute("CREATE VIEW bars_v AS SELECT * FROM bars_t")
    con.close()
    store = make_repo(tmp_path / "repo", OUR_STORE.format(warehouse=warehouse))
    table = "bars_t" if relation == "table" else "bars_v"
    store.apply(feature_objects(WarehouseSource(table=table), WarehouseSource(table=table, name="other"))[:2])
    us = timedelta(microseconds=1)
    times = [T0 - us, T0, T0 + timedelta(minutes=10), T0 + timedelta(minutes=10) + us, T0 + timedelta(hours=1)]
    with matched_event_times():
        got = historical(store, pd.DataFrame({"symbol": "X", "event_timestamp": times}), ["bars:a"], False)
    stamps = [None if pd.isna(t) else t.to_pydatetime() for t in got["bars__event_timestamp"]]
    assert stamps == [None, T0, T0, None, T0 + timedelta(hours=1)]
    assert got["a"].isna().tolist() == [s is None for s in stamps]
