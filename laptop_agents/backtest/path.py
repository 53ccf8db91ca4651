"""The path model: what happened inside a candle, as the quotes and marks the engine consumes.

A stored candle says only where the price opened, closed and how far it went. The backtest
turns each candle into four path points at fixed offsets of its period: the open at
``open_time``, the first extreme a third in, the second extreme two thirds in, the close one
millisecond before ``close_time``; the closed candle itself follows at ``close_time``, as the
live provider delivers a REST-confirmed closed candle after the candle's last quote.

Which extreme comes first is decided as nautilus_trader's bar execution does with
``bar_adaptive_high_low_ordering``: the high first when it is closer to the open than the low
is, else the low first (an equal distance: the high first, nautilus_trader's fixed order
open, high, low, close). docs/backtesting.md ("Path model") says why.

Each point becomes a quote one tick wide that touches the point's price from inside the
candle's range: in the upper half of the range (the high, and an open or close there) the
ask is the price and the bid one tick below; in the lower half the bid is the price and the
ask one tick above. So a trade at the high lifted the ask and a trade at the low hit the bid,
and a resting order at exactly the extreme is not filled (the price never traded through it).
The mark price is the point's price itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from laptop_agents.models import Candle, Tick, interval_ms

ZERO = Decimal(0)
POINTS = 4  # open, first extreme, second extreme, close


@dataclass(frozen=True, slots=True)
class PathPoint:
    ts: int  # exchange ms
    price: Decimal  # the path's (trade) price here; the mark price


def high_first(candle: Candle) -> bool:
    """Whether the high came before the low: the high is at least as close to the open."""
    return candle.high - candle.open <= candle.open - candle.low


def path_points(candle: Candle) -> tuple[PathPoint, PathPoint, PathPoint, PathPoint]:
    """The candle's four points, oldest first (see the module's docstring)."""
    period = interval_ms(candle.interval)
    start = candle.open_time
    first, second = (candle.high, candle.low) if high_first(candle) else (candle.low,
                                                                          candle.high)
    return (PathPoint(start, candle.open), PathPoint(start + period // 3, first),
            PathPoint(start + 2 * period // 3, second), PathPoint(start + period - 1,
                                                                  candle.close))


def quote_at(symbol: str, price: Decimal, candle: Candle, tick_size: Decimal, ts: int) -> Tick:
    """A one-tick quote touching ``price`` from inside ``candle``'s range."""
    if price + price >= candle.high + candle.low:  # the upper half: the ask traded here
        bid, ask = price - tick_size, price
    else:
        bid, ask = price, price + tick_size
    return Tick(symbol, bid, ask, ZERO, ZERO, price, ts)


def path_quotes(candle: Candle, tick_size: Decimal) -> list[tuple[PathPoint, Tick]]:
    """Each point of the path with its quote."""
    return [(p, quote_at(candle.symbol, p.price, candle, tick_size, p.ts))
            for p in path_points(candle)]


__all__ = ["POINTS", "PathPoint", "high_first", "path_points", "path_quotes", "quote_at"]
