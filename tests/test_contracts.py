"""Futures contracts and the continuous series: codes, registration, the roll rule, back-adjustment.

Synthetic NQ quarterlies (hourly bars on the cme_globex calendar) with overlapping date ranges:
  H24 -> M24  by volume: M24 first out-trades H24 on Mon 03-04, the series rolls on Tue 03-05;
              H24 out-trades M24 again on 03-06 (no roll back).
  M24 -> U24  by the fixed date: U24 never out-trades M24, the series rolls on 06-21 - 8 = Thu 06-13;
              U24 has no bars on 06-12, so the roll gap is measured on 06-11. U24 out-trades M24 once on
              02-20, while H24 is held: that must not count once M24 is held.
  U24 -> Z24  by volume after a missing day: U24 has no bars on Fri 09-06 while Z24 trades (volume 0 < Z24),
              the series rolls on Mon 09-09 and its gap is measured on 09-05, the last day both traded.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pyarrow as pa
import pytest

from barstore.calendars import builtin_sessions, cover, cover_stored_bars
from barstore.contracts import parse_contract, register_contract, set_roll_config, third_friday
from barstore.errors import BarstoreError
from barstore.warehouse import connect

SQL_DIR = Path(__file__).resolve().parents[1] / "sql"
# Dependency order; the staging models provide timeframe lengths and trading days.
MODELS = [
    "staging/timeframes",
    "staging/calendar_sessions",
    "contracts/contract_bars",
    "contracts/contract_daily_volume",
    "contracts/contract_roll",
    "contracts/continuous_bars",
]
NEW_YORK = ZoneInfo("America/New_York")

# code: (first trading day, last trading day, price level, price drift per day)
CONTRACTS = {
    "NQH24": (date(2024, 1, 2), date(2024, 3, 15), 17000.0, 0.5),
    "NQM24": (date(2024, 2, 15), date(2024, 6, 21), 17120.0, 0.25),
    "NQU24": (date(2024, 2, 20), date(2024, 9, 20), 17250.0, 0.75),
    "NQZ24": (date(2024, 8, 15), date(2024, 10, 31), 17330.0, 0.5),
}
# Per-bar volume: 1000 from the day a contract becomes the front one until the next one does, 100 otherwise...
FRONT_FROM = {
    "NQH24": date(2024, 1, 1),
    "NQM24": date(2024, 3, 5),
    "NQU24": date(2024, 6, 22),
    "NQZ24": date(2024, 9, 7),
}
# ...except on these days (None: no bars at all that day).
VOLUME_OVERRIDES = {
    ("NQM24", date(2024, 2, 29)): 500,
    ("NQM24", date(2024, 3, 1)): 800,
    ("NQH24", date(2024, 3, 4)): 900,
    ("NQM24", date(2024, 3, 4)): 1100,
    ("NQH24", date(2024, 3, 6)): 1500,
    ("NQU24", date(2024, 2, 20)): 5000,
    ("NQU24", date(2024, 6, 12)): None,
    ("NQZ24", date(2024, 9, 5)): 800,
    ("NQU24", date(2024, 9, 6)): None,
    ("NQZ24", date(2024, 9, 6)): 900,
}


def build_contract_models(con) -> None:
    """Stand-in for barstore.transform.runner.build_models(con, SQL_DIR, ...): a full build of MODELS."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE build_window AS SELECT symbol, '-infinity'::TIMESTAMPTZ AS since FROM raw.symbols"
    )
    for model in MODELS:
        path = SQL_DIR / f"{model}.sql"
        sql = path.read_text()
        kind = "VIEW" if "-- materialized: view" in sql else "TABLE"
        con.execute(f"CREATE OR REPLACE {kind} {path.stem} AS\n{sql}")


def weekdays(first: date, last: date):
    """CME's trading days (Good Friday, 29 March 2024, is not one)."""
    yield from builtin_sessions("cme_globex", first, last)["trading_day"].to_pylist()


def session_bar_starts(day: date) -> list[datetime]:
    """The 23 hourly bars of a Globex session: 18:00 New York the evening before to the 16:00 bar."""
    opening = datetime.combine(day - timedelta(days=1), time(18), NEW_YORK)
    return [(opening.astimezone(UTC) + timedelta(hours=h)) for h in range(23)]


def price_level(contract: str, day: date) -> float:
    _, _, level, drift = CONTRACTS[contract]
    return level + drift * (day - date(2024, 1, 1)).days


def bar_volume(contract: str, day: date) -> float | None:
    if (contract, day) in VOLUME_OVERRIDES:
        return VOLUME_OVERRIDES[(contract, day)]
    later = [FRONT_FROM[c] for c in CONTRACTS if FRONT_FROM[c] > FRONT_FROM[contract]]
    front_until = min(later, default=date.max)
    return 1000.0 if FRONT_FROM[contract] <= day < front_until else 100.0


def contract_bars(contract: str, first: date, last: date, volume_of=bar_volume, level_of=price_level) -> dict:
    cols: dict[str, list] = {k: [] for k in ("symbol", "ts", "open", "high", "low", "close", "volume")}
    for day in weekdays(first, last):
        volume = volume_of(contract, day)
        if volume is None:
            continue
        for h, ts in enumerate(session_bar_starts(day)):
            close = level_of(contract, day) + (h % 5) * 0.25  # same intraday shape for every contract
            cols["symbol"].append(contract)
            cols["ts"].append(ts)
            cols["open"].append(close - 0.5)
            cols["high"].append(close + 1.0)
            cols["low"].append(close - 1.5)
            cols["close"].append(close)
            cols["volume"].append(volume)
    return cols


def insert_bars(con, cols: dict[str, list], timeframe: str = "1h") -> None:
    table = pa.table({**cols, "ts": pa.array(cols["ts"], pa.timestamp("us", tz="UTC"))})
    con.register("new_bars", table)
    con.execute(
        "INSERT INTO raw.bars SELECT symbol, ?, ts, open, high, low, close, volume, 'test', now() FROM new_bars",
        [timeframe],
    )
    con.unregister("new_bars")


def add_contract(con, contract: str, root: str, first: date, last: date, **bar_options) -> None:
    register_contract(con, contract, root, "cme_globex")
    cover(con, "cme_globex", first, last)  # what an ingest would do: the bars go in directly here
    insert_bars(con, contract_bars(contract, first, last, **bar_options))


def nq_warehouse(path: Path):
    """A warehouse with the four NQ contracts and the contract models built."""
    con = connect(path)
    for contract, (first, last, _, _) in CONTRACTS.items():
        add_contract(con, contract, "NQ", first, last)
    build_contract_models(con)
    return con


@pytest.fixture(scope="module")
def con(tmp_path_factory):
    """The NQ warehouse, built once for the tests that only read it."""
    con = nq_warehouse(tmp_path_factory.mktemp("contracts") / "warehouse.ducklake")
    yield con
    con.close()


@pytest.fixture
def own_con(tmp_path):
    """An NQ warehouse of the test's own, for the tests that change roll settings or add contracts."""
    con = nq_warehouse(tmp_path / "warehouse.ducklake")
    yield con
    con.close()


def held(con, root: str = "NQ") -> dict[date, tuple]:
    rows = con.execute(
        "SELECT trading_day, contract, reason, roll_date FROM contract_roll WHERE root = ? ORDER BY trading_day",
        [root],
    ).fetchall()
    return {day: (contract, reason, roll) for day, contract, reason, roll in rows}


def roll_days(con, root: str = "NQ") -> list[tuple]:
    return con.execute(
        "SELECT trading_day, previous_contract, contract, reason FROM contract_roll "
        "WHERE root = ? AND roll_date ORDER BY trading_day",
        [root],
    ).fetchall()


# --- contract codes ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "code, root, month, year, expiry",
    [
        ("ENQ.H24", "ENQ", 3, 2024, date(2024, 3, 15)),
        ("ESZ2024", "ES", 12, 2024, date(2024, 12, 20)),
        ("NQM24", "NQ", 6, 2024, date(2024, 6, 21)),
        ("ENQ H24", "ENQ", 3, 2024, date(2024, 3, 15)),
        ("nqu24", "NQ", 9, 2024, date(2024, 9, 20)),
        ("6EZ24", "6E", 12, 2024, date(2024, 12, 20)),
        ("ESH98", "ES", 3, 1998, date(1998, 3, 20)),
    ],
)
def test_parse_contract_reads_root_month_year_and_third_friday_expiry(code, root, month, year, expiry):
    parsed = parse_contract(code)
    assert (parsed.code, parsed.root, parsed.month, parsed.year, parsed.expiry) == (code, root, month, year, expiry)


@pytest.mark.parametrize("code", ["NQ", "NQA24", "NQH4", "NQH240", "", "H24", "NQ.H24X"])
def test_parse_contract_rejects_malformed_codes(code):
    with pytest.raises(BarstoreError, match="cannot read futures contract"):
        parse_contract(code)


def test_third_friday_when_the_month_starts_on_a_friday_or_saturday():
    assert third_friday(2024, 11) == date(2024, 11, 15)  # Nov 1st 2024 is a Friday
    assert third_friday(2025, 3) == date(2025, 3, 21)  # Mar 1st 2025 is a Saturday


# --- registration and roll settings ----------------------------------------------------------


def test_register_contract_records_contract_root_and_default_roll_settings(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    register_contract(con, "ENQ.H24", "NQ", "cme_globex")
    register_contract(con, "ENQ.H24", "NQ", "cme_globex")  # idempotent
    register_contract(con, "ENQ.M24", "NQ", "cme_globex")
    assert con.execute("SELECT symbol, calendar, root, expiry FROM raw.symbols ORDER BY symbol").fetchall() == [
        ("ENQ.H24", "cme_globex", "NQ", date(2024, 3, 15)),
        ("ENQ.M24", "cme_globex", "NQ", date(2024, 6, 21)),
        ("NQ", "cme_globex", None, None),
    ]
    assert con.execute("SELECT * FROM raw.futures_roots").fetchall() == [("NQ", False, 8)]


def test_roll_settings_change_and_survive_new_contracts(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    register_contract(con, "NQH24", "NQ", "cme_globex")
    config = set_roll_config(con, "NQ", back_adjust=True, roll_offset_days=None)
    assert (config.back_adjust, config.roll_offset_days) == (True, 8)
    assert set_roll_config(con, "NQ", back_adjust=None, roll_offset_days=3).back_adjust is True
    register_contract(con, "NQM24", "NQ", "cme_globex")
    assert con.execute("SELECT * FROM raw.futures_roots").fetchall() == [("NQ", True, 3)]


def test_roll_settings_errors_name_the_problem(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    register_contract(con, "NQH24", "NQ", "cme_globex")
    with pytest.raises(BarstoreError, match=r"unknown futures root 'ES' \(known: NQ\)"):
        set_roll_config(con, "ES", back_adjust=True)
    with pytest.raises(BarstoreError, match="between 0 and 365"):
        set_roll_config(con, "NQ", roll_offset_days=-1)


def test_register_contract_refuses_conflicting_roots(tmp_path):
    con = connect(tmp_path / "w.duckdb")
    register_contract(con, "NQH24", "NQ", "cme_globex")
    with pytest.raises(BarstoreError, match="root 'NQ' uses calendar 'cme_globex', not 'us_rth'"):
        register_contract(con, "NQM24", "NQ", "us_rth")
    with pytest.raises(BarstoreError, match="already registered under root 'NQ', not 'MNQ'"):
        register_contract(con, "NQH24", "MNQ", "cme_globex")
    with pytest.raises(BarstoreError, match="itself a contract of root 'NQ'"):
        register_contract(con, "NQM24", "NQH24", "cme_globex")
    con.execute("INSERT INTO raw.symbols (symbol, calendar) VALUES ('ES', 'cme_globex')")
    insert_bars(con, contract_bars("NQH24", date(2024, 1, 2), date(2024, 1, 2)) | {"symbol": ["ES"] * 23})
    with pytest.raises(BarstoreError, match="'ES' already has 23 bars of its own"):
        register_contract(con, "ESH24", "ES", "cme_globex")
    with pytest.raises(BarstoreError, match="needs --root"):
        register_contract(con, "ESH24", " ", "cme_globex")


# --- the roll ---------------------------------------------------------------------------------


def test_daily_volume_sums_the_session_from_the_previous_evening(con):
    rows = con.execute(
        "SELECT contract, trading_day, volume, bars FROM contract_daily_volume "
        "WHERE trading_day IN ('2024-03-04', '2024-09-06') ORDER BY contract, trading_day"
    ).fetchall()
    assert rows == [
        ("NQH24", date(2024, 3, 4), 900.0 * 23, 23),
        ("NQM24", date(2024, 3, 4), 1100.0 * 23, 23),
        ("NQU24", date(2024, 3, 4), 100.0 * 23, 23),
        ("NQZ24", date(2024, 9, 6), 900.0 * 23, 23),
    ]


def test_rolls_by_volume_then_fixed_date_then_volume(con):
    assert roll_days(con) == [
        (date(2024, 3, 5), "NQH24", "NQM24", "volume"),
        (date(2024, 6, 13), "NQM24", "NQU24", "fixed_date"),
        (date(2024, 9, 9), "NQU24", "NQZ24", "volume"),
    ]
    days = held(con)
    assert days[date(2024, 1, 2)] == ("NQH24", "initial", False)
    assert days[date(2024, 3, 4)] == ("NQH24", "initial", False)  # M24 out-traded H24 today: roll tomorrow
    assert days[date(2024, 6, 12)] == ("NQM24", "volume", False)
    assert days[date(2024, 10, 31)] == ("NQZ24", "volume", False)
    assert len(days) == len(list(weekdays(date(2024, 1, 2), date(2024, 10, 31))))


def test_never_rolls_back_to_an_earlier_contract(con):
    days = held(con)
    # H24 out-trades M24 on 03-06, M24 out-trades U24 every day 06-13..06-21: the series stays put.
    assert days[date(2024, 3, 7)][0] == "NQM24"
    assert {days[d][0] for d in weekdays(date(2024, 6, 13), date(2024, 9, 6))} == {"NQU24"}
    expiries = [
        e for (e,) in con.execute("SELECT expiry FROM contract_roll WHERE root = 'NQ' ORDER BY trading_day").fetchall()
    ]
    assert expiries == sorted(expiries)


def test_day_without_bars_of_the_held_contract_is_a_gap(con):
    row = con.execute(
        "SELECT contract, has_bars, contract_volume, next_contract, next_volume FROM contract_roll "
        "WHERE root = 'NQ' AND trading_day = '2024-09-06'"
    ).fetchone()
    assert row == ("NQU24", False, None, "NQZ24", 900.0 * 23)
    assert (
        con.execute(
            "SELECT count(*) FROM continuous_bars c JOIN contract_bars b USING (ts) "
            "WHERE c.symbol = 'NQ' AND b.trading_day = '2024-09-06'"
        ).fetchone()[0]
        == 0
    )


def test_fixed_date_follows_the_roll_offset(own_con):
    con = own_con
    set_roll_config(con, "NQ", back_adjust=None, roll_offset_days=3)
    build_contract_models(con)
    assert [r[0] for r in roll_days(con)] == [date(2024, 3, 5), date(2024, 6, 18), date(2024, 9, 9)]


def test_roll_skips_contracts_past_their_fixed_date_and_handles_a_single_contract(own_con):
    con = own_con
    # ES data starts after ESH24's fixed roll date (03-07): the series starts on ESM24 although H24 trades more.
    level = {"level_of": lambda contract, day: 5000.0}
    add_contract(con, "ESH24", "ES", date(2024, 3, 11), date(2024, 3, 15), volume_of=lambda c, d: 1000.0, **level)
    add_contract(con, "ESM24", "ES", date(2024, 3, 11), date(2024, 3, 15), volume_of=lambda c, d: 100.0, **level)
    add_contract(con, "YMH24", "YM", date(2024, 3, 11), date(2024, 3, 12), volume_of=lambda c, d: 10.0, **level)
    # RTY data stops in January and resumes in June, after both H24's and M24's fixed dates: straight to U24.
    add_contract(con, "RTYH24", "RTY", date(2024, 1, 2), date(2024, 1, 31), volume_of=lambda c, d: 1000.0, **level)
    add_contract(con, "RTYM24", "RTY", date(2024, 1, 29), date(2024, 1, 31), volume_of=lambda c, d: 100.0, **level)
    add_contract(con, "RTYU24", "RTY", date(2024, 6, 17), date(2024, 6, 18), volume_of=lambda c, d: 100.0, **level)
    build_contract_models(con)
    assert con.execute(
        "SELECT root, contract, reason, count(*) FROM contract_roll WHERE root IN ('ES', 'YM', 'RTY') "
        "GROUP BY ALL ORDER BY root, contract"
    ).fetchall() == [
        ("ES", "ESM24", "initial", 5),
        ("RTY", "RTYH24", "initial", 22),
        ("RTY", "RTYU24", "fixed_date", 2),
        ("YM", "YMH24", "only_contract", 2),
    ]
    # H24 and U24 never traded on the same day: the gap cannot be measured and back-adjustment adds 0.
    assert con.execute(
        "SELECT trading_day, previous_contract, gap_day, roll_gap FROM contract_roll WHERE root = 'RTY' AND roll_date"
    ).fetchall() == [(date(2024, 6, 17), "RTYH24", None, None)]


def test_chosen_contract_is_queryable_per_day(con):
    assert con.execute(
        "SELECT contract FROM contract_roll WHERE root = 'NQ' AND trading_day = DATE '2024-07-01'"
    ).fetchone() == ("NQU24",)


# --- continuous bars ------------------------------------------------------------------------


def test_continuous_bars_follow_the_session_boundaries_unadjusted_by_default(con):
    rows = con.execute(
        "SELECT ts, contract, close, adjustment FROM continuous_bars "
        "WHERE symbol = 'NQ' AND timeframe = '1h' AND ts IN ('2024-03-04 21:00:00Z', '2024-03-04 23:00:00Z') "
        "ORDER BY ts"
    ).fetchall()
    # 16:00 New York on Monday belongs to Monday (H24); 18:00 opens Tuesday's session (M24, rolled).
    assert [(r[1], r[3]) for r in rows] == [("NQH24", 0.0), ("NQM24", 0.0)]
    assert rows[0][2] == price_level("NQH24", date(2024, 3, 4)) + 0.5  # 23rd bar of the session: h % 5 = 2
    assert rows[1][2] == price_level("NQM24", date(2024, 3, 5)) + 0.0
    assert (
        con.execute("SELECT count(*) FROM continuous_bars").fetchone()[0]
        == con.execute(
            "SELECT sum(bars) FROM contract_roll r JOIN contract_daily_volume v USING (contract, trading_day)"
        ).fetchone()[0]
    )
    assert [c[0] for c in con.execute("DESCRIBE continuous_bars").fetchall()] == [
        "symbol",
        "timeframe",
        "ts",
        "open",
        "high",
        "low",
        "close",
        "volume",
        "contract",
        "adjustment",
    ]


def test_roll_gap_is_measured_on_the_last_day_both_contracts_traded(con):
    rows = con.execute(
        "SELECT trading_day, gap_day, roll_gap FROM contract_roll WHERE root = 'NQ' AND roll_date ORDER BY 1"
    ).fetchall()
    expected = [
        (date(2024, 3, 5), date(2024, 3, 4), "NQH24", "NQM24"),
        (date(2024, 6, 13), date(2024, 6, 11), "NQM24", "NQU24"),
        (date(2024, 9, 9), date(2024, 9, 5), "NQU24", "NQZ24"),
    ]
    assert rows == [
        (roll, gap_day, pytest.approx(price_level(new, gap_day) - price_level(old, gap_day)))
        for roll, gap_day, old, new in expected
    ]


def test_back_adjusted_series_is_continuous_across_rolls(own_con):
    con = own_con
    set_roll_config(con, "NQ", back_adjust=True)
    build_contract_models(con)
    g1, g2, g3 = (
        gap
        for (gap,) in con.execute(
            "SELECT roll_gap FROM contract_roll WHERE root = 'NQ' AND roll_date ORDER BY trading_day"
        ).fetchall()
    )
    assert {g1, g2, g3} != {0.0}
    shifts = dict(
        con.execute(
            "SELECT contract, max(adjustment) - min(adjustment) FROM continuous_bars GROUP BY contract"
        ).fetchall()
    )
    assert set(shifts.values()) == {0.0}  # one adjustment per contract
    adjustments = dict(con.execute("SELECT contract, any_value(adjustment) FROM continuous_bars GROUP BY 1").fetchall())
    assert adjustments == pytest.approx({"NQH24": g1 + g2 + g3, "NQM24": g2 + g3, "NQU24": g3, "NQZ24": 0.0})
    # Every adjusted price = its contract's raw price + the contract's adjustment; volume untouched.
    assert (
        con.execute(
            "SELECT count(*) FROM continuous_bars c JOIN raw.bars b ON b.symbol = c.contract AND b.ts = c.ts "
            "AND b.timeframe = c.timeframe WHERE abs(c.close - (b.close + c.adjustment)) > 1e-9 "
            "OR abs(c.open - (b.open + c.adjustment)) > 1e-9 OR c.volume <> b.volume"
        ).fetchone()[0]
        == 0
    )
    # On each gap day, the old contract's adjusted close equals the new contract's (adjusted) close.
    for gap_day, old, new in [
        ("2024-03-04", "NQH24", "NQM24"),
        ("2024-06-11", "NQM24", "NQU24"),
        ("2024-09-05", "NQU24", "NQZ24"),
    ]:
        old_adjusted = con.execute(
            "SELECT arg_max(b.close, b.ts) + ? FROM contract_bars b WHERE contract = ? AND trading_day = ?",
            [adjustments[old], old, gap_day],
        ).fetchone()[0]
        new_adjusted = con.execute(
            "SELECT arg_max(b.close, b.ts) + ? FROM contract_bars b WHERE contract = ? AND trading_day = ?",
            [adjustments[new], new, gap_day],
        ).fetchone()[0]
        assert old_adjusted == pytest.approx(new_adjusted)


# --- real bars --------------------------------------------------------------------------------

NQ_FILE = Path(__file__).resolve().parents[2] / "shared" / "data" / "nq_1min_2023-11-19_2023-12-04.csv"


def test_real_globex_minutes_map_to_their_sessions(tmp_path):
    if not NQ_FILE.exists():
        pytest.skip(f"real NQ bars not found at {NQ_FILE} (the shared data folder is absent)")
    con = connect(tmp_path / "w.duckdb")
    register_contract(con, "ENQ.Z23", "NQ", "cme_globex")
    con.execute(
        "INSERT INTO raw.bars SELECT 'ENQ.Z23', '1m', timezone('America/New_York', ts_et), open, high, low, close, "
        "volume, 'nq', now() FROM read_csv(?)",
        [str(NQ_FILE)],
    )
    cover_stored_bars(con)
    build_contract_models(con)
    # The file's sessions run 18:00 -> 16:59 New York; Thanksgiving (11-23) and the day after are short.
    assert con.execute("SELECT trading_day, bars FROM contract_daily_volume ORDER BY trading_day").fetchall() == [
        (date(2023, 11, d), n)
        for d, n in [
            (20, 1380),
            (21, 1380),
            (22, 1380),
            (23, 1139),
            (24, 1155),
            (27, 1380),
            (28, 1380),
            (29, 1380),
            (30, 1380),
        ]
    ] + [(date(2023, 12, 1), 1380), (date(2023, 12, 4), 1380)]
    assert con.execute("SELECT DISTINCT contract, reason FROM contract_roll").fetchall() == [
        ("ENQ.Z23", "only_contract")
    ]
    assert (
        con.execute("SELECT count(*), sum(volume) FROM continuous_bars WHERE symbol = 'NQ'").fetchone()
        == con.execute("SELECT count(*), sum(volume) FROM raw.bars").fetchone()
    )
