"""The bar timeframes barstore knows, finest first."""

TIMEFRAMES: dict[str, int] = {
    "1m": 60,
    "5m": 300,
    "15m": 900,
    "1h": 3600,
    "4h": 4 * 3600,
    "1d": 86400,
}

# Timeframes whose bars are anchored on the symbol's trading session rather than the clock.
SESSION_ANCHORED = ("4h", "1d")


def seconds(timeframe: str) -> int:
    try:
        return TIMEFRAMES[timeframe]
    except KeyError:
        from .errors import BarstoreError

        raise BarstoreError(f"unknown timeframe {timeframe!r}; use one of {', '.join(TIMEFRAMES)}") from None
