"""PNG charts of what the warehouse holds, for people who would rather look than read (matplotlib, lazily)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import duckdb


def daily_features_chart(con: duckdb.DuckDBPyConnection, symbol: str, out: Path, days: int = 120) -> Path:
    """Close with MA 20/50 and the 30-day volume profile's value area and POC; RSI 14 below; CVD of 1h bars."""
    import matplotlib

    matplotlib.use("Agg")  # no screen here; write files only
    import matplotlib.pyplot as plt

    daily = (
        con.execute(
            "SELECT f.ts_close, f.close, f.ma_20, f.ma_50, f.rsi_14, p.poc, p.vah, p.val "
            "FROM features_1d f LEFT JOIN volume_profile_1d p USING (symbol, ts) "
            "WHERE f.symbol = ? ORDER BY f.ts DESC LIMIT ?",
            [symbol, days],
        )
        .df()
        .iloc[::-1]
    )
    hourly = con.execute(
        "SELECT ts_close, cvd, cvd_ema_20 FROM features_1h WHERE symbol = ? AND ts_close >= ? ORDER BY ts",
        [symbol, daily.ts_close.min()],
    ).df()
    fig, (price, rsi, cvd) = plt.subplots(
        3, 1, figsize=(11, 8), sharex=True, gridspec_kw={"height_ratios": [3, 1, 1.2]}
    )
    price.fill_between(
        daily.ts_close, daily.val, daily.vah, color="tab:orange", alpha=0.15, label="30-day value area (70%)"
    )
    price.plot(daily.ts_close, daily.poc, color="tab:orange", lw=1, label="POC")
    price.plot(daily.ts_close, daily.close, color="black", lw=1.2, label="close")
    price.plot(daily.ts_close, daily.ma_20, color="tab:blue", lw=1, label="MA 20")
    price.plot(daily.ts_close, daily.ma_50, color="tab:purple", lw=1, label="MA 50")
    price.set_title(f"{symbol}: daily features, last {len(daily)} complete days (time = bar close, UTC)")
    price.legend(loc="upper left", fontsize=8)
    rsi.plot(daily.ts_close, daily.rsi_14, color="tab:green", lw=1)
    rsi.axhline(70, color="grey", lw=0.5, ls="--")
    rsi.axhline(30, color="grey", lw=0.5, ls="--")
    rsi.set_ylabel("RSI 14")
    cvd.plot(hourly.ts_close, hourly.cvd, color="tab:red", lw=0.8, label="1h CVD")
    cvd.plot(hourly.ts_close, hourly.cvd_ema_20, color="tab:gray", lw=0.8, label="EMA 20")
    cvd.set_ylabel("CVD")
    cvd.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return out
