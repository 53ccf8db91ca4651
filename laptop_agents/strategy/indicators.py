"""Pure indicator functions on Decimal prices (no floats, no I/O, no state).

Conventions (documented in docs/strategy.md):

* ``ema``: seeded with the simple mean of the first ``period`` values, then
  ``ema = prev + alpha * (value - prev)`` with ``alpha = 2 / (period + 1)``. The returned series
  is aligned to the *end* of the input: ``result[-1]`` is the EMA at the last value.
* ``atr``: Wilder's average of the true range. The true range needs the previous close, so the
  first candle only provides that close; the seed is the mean of the first ``period`` true
  ranges and each later value is ``(prev * (period - 1) + tr) / period``.
* Both recursions are carried out exactly (exact.py) and each value is rounded once to 28
  significant digits, so the incremental indicators (incremental.py) give the same digits.
* ``vwap``: ``sum(typical * volume) / sum(volume)`` with ``typical = (high + low + close) / 3``.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from itertools import pairwise

from laptop_agents.models import Candle
from laptop_agents.strategy.exact import exact_series, scale_all


def ema(values: Sequence[Decimal], period: int) -> list[Decimal]:
    """EMA series of ``values`` (``len(values) - period + 1`` entries); ValueError if too short."""
    if period < 1:
        raise ValueError("period must be >= 1")
    if len(values) < period:
        raise ValueError(f"ema({period}) needs {period} values, got {len(values)}")
    scaled, unit = scale_all(list(values))
    return exact_series(scaled, period, 2, unit)  # alpha = 2 / (period + 1)


def true_ranges(candles: Sequence[Candle]) -> list[Decimal]:
    """True range of every candle after the first (each needs the previous close)."""
    return [
        max(cur.high - cur.low, abs(cur.high - prev.close), abs(cur.low - prev.close))
        for prev, cur in pairwise(candles)
    ]


def atr(candles: Sequence[Candle], period: int) -> list[Decimal]:
    """Wilder ATR series (``len(candles) - period`` entries); ValueError if too short."""
    if period < 1:
        raise ValueError("period must be >= 1")
    ranges = true_ranges(candles)
    if len(ranges) < period:
        raise ValueError(f"atr({period}) needs {period + 1} candles, got {len(candles)}")
    scaled, unit = scale_all(ranges)
    return exact_series(scaled, period, 1, unit)  # (prev * (period - 1) + tr) / period


def vwap(candles: Sequence[Candle]) -> Decimal | None:
    """Volume-weighted typical price of ``candles``; None when they traded no volume."""
    volume = sum((c.volume for c in candles), Decimal(0))
    if volume <= 0:
        return None
    weighted = sum(((c.high + c.low + c.close) / 3 * c.volume for c in candles), Decimal(0))
    return weighted / volume


def volume_average(candles: Sequence[Candle], period: int) -> Decimal:
    """Mean volume of the last ``period`` candles; ValueError if too short."""
    if len(candles) < period or period < 1:
        raise ValueError(f"volume_average({period}) needs {period} candles")
    return sum((c.volume for c in candles[-period:]), Decimal(0)) / period


def highest_high(candles: Sequence[Candle]) -> Decimal:
    return max(c.high for c in candles)


def lowest_low(candles: Sequence[Candle]) -> Decimal:
    return min(c.low for c in candles)


def swing_highs(candles: Sequence[Candle], left: int = 2, right: int = 2) -> list[int]:
    """Indices whose high is strictly above the ``left`` candles before and ``right`` after."""
    found = []
    for i in range(left, len(candles) - right):
        high = candles[i].high
        neighbours = [*candles[i - left:i], *candles[i + 1:i + 1 + right]]
        if all(high > n.high for n in neighbours):
            found.append(i)
    return found


def swing_lows(candles: Sequence[Candle], left: int = 2, right: int = 2) -> list[int]:
    """Indices whose low is strictly below the ``left`` candles before and ``right`` after."""
    found = []
    for i in range(left, len(candles) - right):
        low = candles[i].low
        neighbours = [*candles[i - left:i], *candles[i + 1:i + 1 + right]]
        if all(low < n.low for n in neighbours):
            found.append(i)
    return found
