"""What the market model records: trades, best bid/offer segments, one-second steps, OHLCV.

Prices are integers in ticks and sizes integers in lot steps (see :mod:`.contracts`), so
aggregates are exact.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

MINUTE_MS = 60_000
HOUR_MS = 3_600_000


@dataclass(slots=True)
class Agg:
    """OHLCV of a span of trades: prices in ticks, volume in lots, quote in ticks*lots."""

    open: int
    high: int
    low: int
    close: int
    volume: int
    quote: int

    def merge(self, other: Agg) -> None:
        self.high = max(self.high, other.high)
        self.low = min(self.low, other.low)
        self.close = other.close
        self.volume += other.volume
        self.quote += other.quote

    def copy(self) -> Agg:
        return Agg(self.open, self.high, self.low, self.close, self.volume, self.quote)


@dataclass(slots=True)
class Trade:
    ms: int
    price: int  # ticks
    qty: int  # lots
    buy: bool  # taker side


@dataclass(slots=True)
class Segment:
    """Best bid/offer in force from ``ms`` on (within one step)."""

    ms: int
    bid: int
    ask: int
    bid_size: int
    ask_size: int


@dataclass(slots=True)
class Step:
    second: int  # epoch second
    segments: list[Segment]
    trades: list[Trade] = field(default_factory=list)

    def bbo_at(self, ms: int) -> Segment:
        current = self.segments[0]
        for seg in self.segments:
            if seg.ms <= ms:
                current = seg
        return current


def aggregate(trades: Iterable[Trade]) -> Agg | None:
    """The OHLCV of ``trades`` (in time order); None when there are none."""
    agg: Agg | None = None
    for t in trades:
        if agg is None:
            agg = Agg(t.price, t.price, t.price, t.price, t.qty, t.price * t.qty)
        else:
            if t.price > agg.high:
                agg.high = t.price
            if t.price < agg.low:
                agg.low = t.price
            agg.close = t.price
            agg.volume += t.qty
            agg.quote += t.price * t.qty
    return agg
