"""Decisions -> positions -> per-period net returns and trades, for one strategy on one or more instruments.

Input: one row per decision, per instrument in time order: `symbol`, `time` (decision time), `action` (an
`inference.ensemble.Action` value), `price` (close of the last bar at or before the decision), and optionally
`horizon_time` / `horizon_price` (the time the decision's horizon ends and the close there; NaT/NaN: unknown).

Rules (`PositionRules`, the `[backtest]` table):
- A sizing action sets the position (a fraction of capital, + long, - short) to its size, whatever was held:
  STRONG_BUY +1, BUY +0.5, CAUTIOUS_LONG +0.25 and the mirror for sells, so size follows confidence (HIGH and
  beyond the strong threshold: all of it; HIGH: half; MEDIUM against the trend: a quarter).
- WAIT keeps the position held (default `wait = "keep"`: WAIT means "open nothing new", and exits come from the
  horizon, REDUCE or the next sizing decision; flattening on every WAIT would turn the trap rule into an exit
  rule and pay a round trip for it) or flattens it (`wait = "flat"`). REDUCE multiplies it by
  `reduce_factor` (0.5, halves it), whatever its side.
- MISSING (a strategy without one of its models' predictions or scores at the decision: what serving answers
  with a 503) opens nothing; the position held is closed (default `missing = "flat"`: nothing decides it any
  more) or kept (`missing = "keep"`), never resized.
- Holding: a position lasts until the next decision or the horizon of the decision that set its size, whichever
  comes first (WAIT and REDUCE carry that clock, a new sizing decision restarts it). A horizon reached strictly
  before the next decision closes the position at `horizon_price`, flat until the next decision; a position
  whose horizon has passed is not kept by WAIT/REDUCE. The last decision of an instrument holds until its
  horizon when known, else closes at its own price: every trade closes inside the data.
- Costs per side, charged on every change of position in proportion to |Δposition| at the price of the change:
  futures (instruments in `futures`, keyed by stored symbol): `ticks` ticks of slippage plus `commission`
  (currency per contract) -> (ticks x tick_size x multiplier + commission) / (price x multiplier), so ES at 4000
  (tick 0.25, x50, $2.50) pays 0.75 bps per side; others `cost_bps` (5) bps per side.
- A trade starts when the position leaves 0 and ends when it returns to 0 or flips sign (a flip ends one trade
  and starts the next at the same price; the cost of the flip is split between them by |closed| and |opened|).
  Resizing (BUY -> STRONG_BUY, REDUCE) stays inside the trade. A trade's return is the sum of its periods'
  gross returns minus its costs: P&L as a fraction of capital, not compounded within the trade.
- A period's gross return is position x (end price / price - 1): the position is a fraction of the equity at
  the decision, so period returns compound into the equity curve.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from barstore.errors import BarstoreError
from barstore.settings_tables import Entries, Number, OneOf, Table, check_fields, load

# The sizing actions and their default sizes; a size's sign is fixed by its default's (a long stays a long).
DEFAULT_SIZES = {
    "strong_buy": 1.0, "buy": 0.5, "cautious_long": 0.25,
    "cautious_short": -0.25, "sell": -0.5, "strong_sell": -1.0,
}  # fmt: skip
WAIT, REDUCE = "wait", "reduce"
ACTIONS = (*DEFAULT_SIZES, WAIT, REDUCE)  # = inference.ensemble.Action's values (a test keeps them equal)
MISSING = "missing"  # the backtest's own: no decision could be made (backtest.strategies)
HOLD_RULES = ("keep", "flat")  # what WAIT and MISSING do to the position held
SECTION = "backtest"
FUTURES_RULES = {
    "tick_size": Number(gt=0),
    "multiplier": Number(gt=0),
    "commission": Number(ge=0),
    "ticks": Number(ge=0),
}


@dataclass(frozen=True)
class FuturesCost:
    """Per-side cost of a futures contract: slippage ticks plus a commission per contract, in currency."""

    tick_size: float  # price points per tick
    multiplier: float  # currency per point
    commission: float = 2.5  # per contract per side: a typical all-in retail rate (broker + exchange + NFA)
    ticks: float = 1.0

    def __post_init__(self):
        check_fields(self, FUTURES_RULES, f"[{SECTION}] futures")

    def per_side(self, price: float) -> float:
        return (self.ticks * self.tick_size * self.multiplier + self.commission) / (price * self.multiplier)


DEFAULT_FUTURES = {"ES": FuturesCost(0.25, 50.0), "NQ": FuturesCost(0.25, 20.0)}


@dataclass(frozen=True)
class PositionRules:
    sizes: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_SIZES))
    wait: str = "keep"
    missing: str = "flat"
    reduce_factor: float = 0.5
    cost_bps: float = 5.0
    futures: Mapping[str, FuturesCost] = field(default_factory=lambda: dict(DEFAULT_FUTURES))

    def __post_init__(self):
        check_fields(self, RULES, f"[{SECTION}]")

    def cost_per_side(self, symbol: str, price: float) -> float:
        """The cost of trading one unit of position (all the capital) once, as a fraction of capital."""
        futures = self.futures.get(symbol)
        return futures.per_side(price) if futures else self.cost_bps / 1e4

    @classmethod
    def from_project(cls, project_dir: str | Path) -> PositionRules:
        """The `[backtest]` table: `sizes` and `futures` entries override the defaults one by one."""
        return load(cls, project_dir, SECTION, RULES)


RULES = {
    # a size's sign is fixed by its default's (a long stays a long)
    "sizes": Table(
        {a: Number(ge=0) if d > 0 else Number(le=0) for a, d in DEFAULT_SIZES.items()}, DEFAULT_SIZES, "action"
    ),
    "wait": OneOf(HOLD_RULES),
    "missing": OneOf(HOLD_RULES),
    "reduce_factor": Number(ge=0, le=1),
    "cost_bps": Number(ge=0),
    "futures": Entries(FuturesCost, FUTURES_RULES, DEFAULT_FUTURES),
}


PERIOD_COLUMNS = ["symbol", "time", "action", "price", "carried", "position", "end_time", "end_price",
                  "closed_at_end", "gross", "cost", "net", "trade"]  # fmt: skip
TRADE_COLUMNS = ["trade", "symbol", "side", "entry_time", "exit_time", "periods", "gross", "cost", "net"]


@dataclass(frozen=True)
class Simulation:
    """periods: one row per decision (symbol, time, action, price, carried = position before the decision,
    position = held during the period, end_time, end_price, closed_at_end, gross, cost, net, trade = id of the
    trade held or -1). trades: trade, symbol, side, entry_time, exit_time, periods, gross, cost, net."""

    periods: pd.DataFrame
    trades: pd.DataFrame

    def portfolio_returns(self) -> pd.Series:
        """Net return per decision time of capital split equally over the instruments (1/K each; an instrument
        without a decision at a time counts as flat). Assumes a common decision grid across instruments."""
        k = self.periods["symbol"].nunique()
        return self.periods.groupby("time")["net"].sum().div(k).rename("net")


class _Book:
    """One instrument's open trade while the decisions are walked in time order."""

    def __init__(self, symbol: str, trades: list, first_id: int):
        self.symbol, self.trades, self.next_id, self.open = symbol, trades, first_id, None

    def start(self, side: int, time, cost: float) -> None:
        self.open = {"trade": self.next_id, "symbol": self.symbol, "side": side, "entry_time": time,
                     "exit_time": None, "periods": 0, "gross": 0.0, "cost": cost}  # fmt: skip
        self.next_id += 1

    def close(self, time, cost: float) -> None:
        self.open["cost"] += cost
        self.open["exit_time"] = time
        self.open["net"] = self.open["gross"] - self.open["cost"]
        self.trades.append(self.open)
        self.open = None


def simulate(decisions: pd.DataFrame, rules: PositionRules | None = None) -> Simulation:
    """Positions, per-period returns and trades of the decisions (module docstring for the rules)."""
    rules = rules or PositionRules()
    missing = [c for c in ("symbol", "time", "action", "price") if c not in decisions.columns]
    if missing:
        raise BarstoreError(f"decisions need the columns {', '.join(missing)}")
    known = (*ACTIONS, MISSING)
    unknown = sorted(set(decisions["action"]) - set(known))
    if unknown:
        raise BarstoreError(f"unknown actions {', '.join(map(repr, unknown))}; the actions are {', '.join(known)}")
    parts, trades = [], []
    for symbol, group in decisions.groupby("symbol", sort=True):
        parts.append(_instrument(str(symbol), group, rules, _Book(str(symbol), trades, len(trades))))
    trades = pd.DataFrame(trades, columns=TRADE_COLUMNS)
    tz = pd.DatetimeIndex(decisions["time"]).tz
    for column in ("entry_time", "exit_time"):
        trades[column] = _stamps(trades[column], tz)
    periods = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=PERIOD_COLUMNS)
    return Simulation(periods, trades)


def _instrument(symbol: str, group: pd.DataFrame, rules: PositionRules, book: _Book) -> pd.DataFrame:
    times = pd.DatetimeIndex(group["time"])
    if not times.is_monotonic_increasing or times.has_duplicates:
        raise BarstoreError(f"decisions of {symbol} are not in strictly increasing time order")
    prices = group["price"].to_numpy(float)
    if not (np.isfinite(prices) & (prices > 0)).all():
        raise BarstoreError(f"decisions of {symbol} have a price that is not a positive number")
    n = len(group)
    h_times = pd.DatetimeIndex(group["horizon_time"] if "horizon_time" in group else [pd.NaT] * n)
    h_prices = group["horizon_price"].to_numpy(float) if "horizon_price" in group else np.full(n, np.nan)
    h_known = ~h_times.isna() & ~np.isnan(h_prices)
    # the walk compares plain numbers (ns since the epoch): boxing Timestamps costs more than the rules
    t_ns, h_ns, actions = times.as_unit("ns").asi8, h_times.as_unit("ns").asi8, group["action"].to_numpy()

    rows, pos, expiry = [], 0.0, None  # expiry: (ns, price) of the horizon of the position's sizing decision
    for i in range(n):
        t, price, action = t_ns[i], prices[i], actions[i]
        carried, live = pos, pos != 0 and (expiry is None or expiry[0] > t)
        if action in rules.sizes:
            pos = rules.sizes[action]
            expiry = (h_ns[i], h_prices[i]) if h_known[i] else None
        elif action in (WAIT, MISSING):
            rule = rules.wait if action == WAIT else rules.missing
            pos = carried if live and rule == "keep" else 0.0
        else:  # REDUCE
            pos = carried * rules.reduce_factor if live else 0.0
        cost_rate = rules.cost_per_side(symbol, price)
        _book_change(book, carried, pos, t, cost_rate)

        last = i == n - 1
        if pos != 0 and expiry is not None and (last or expiry[0] < t_ns[i + 1]):
            end_time, end_price, closes = expiry[0], expiry[1], True
        elif last:
            end_time, end_price, closes = t, price, pos != 0
        else:
            end_time, end_price, closes = t_ns[i + 1], prices[i + 1], False
        gross = pos * (end_price / price - 1) if pos else 0.0
        exit_cost = abs(pos) * rules.cost_per_side(symbol, end_price) if closes else 0.0
        cost = abs(pos - carried) * cost_rate + exit_cost
        rows.append((carried, pos, end_time, end_price, closes, gross, cost, book.open["trade"] if book.open else -1))
        if book.open:
            book.open["gross"] += gross
            book.open["periods"] += 1
        if closes:
            book.close(end_time, exit_cost)
            pos, expiry = 0.0, None

    carried, position, end_ns, end_price, closes, gross, cost, trade = map(np.array, zip(*rows, strict=True))
    return pd.DataFrame({
        "symbol": symbol, "time": times, "action": actions, "price": prices, "carried": carried,
        "position": position, "end_time": _stamps(end_ns, times.tz), "end_price": end_price,
        "closed_at_end": closes, "gross": gross, "cost": cost, "net": gross - cost, "trade": trade,
    })  # fmt: skip


def _stamps(ns, tz) -> pd.DatetimeIndex:
    return pd.to_datetime(np.asarray(ns, dtype=np.int64), utc=True).tz_convert(tz)


def _book_change(book: _Book, carried: float, pos: float, time, cost_rate: float) -> None:
    """Attribute the cost of a change of position at a decision to the trades it closes, opens or resizes."""
    if carried != 0 and np.sign(pos) != np.sign(carried):  # back to flat or a flip: the carried trade ends
        book.close(time, abs(carried) * cost_rate)
        if pos != 0:
            book.start(int(np.sign(pos)), time, abs(pos) * cost_rate)
    elif carried == 0 and pos != 0:
        book.start(int(np.sign(pos)), time, abs(pos) * cost_rate)
    elif book.open:
        book.open["cost"] += abs(pos - carried) * cost_rate
