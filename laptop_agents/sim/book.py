"""The order book around the model's best bid/offer (depth pushes and the REST depth)."""

from __future__ import annotations

from typing import Protocol

from laptop_agents.sim.records import Segment

_TABLE = 1024  # the length of the model's size tables (sim/market.py)


class BookSource(Protocol):
    """What the book needs of the market model (SymbolMarket)."""

    book_sizes: list[int]

    def bbo(self, t_ms: int) -> Segment: ...


def book_levels(market: BookSource, t_ms: int, levels: int) -> tuple[list[tuple[int, int]],
                                                                         list[tuple[int, int]]]:
    """(bids, asks) as (price ticks, size lots), best first, ``levels`` deep.

    Level 0 is the model's BBO; deeper levels sit one tick apart with sizes drawn from a
    deterministic hash of (second, level) so repeated pushes within a second are identical.
    """
    seg = market.bbo(t_ms)
    table = market.book_sizes
    second = t_ms // 1000
    bids = [(seg.bid, seg.bid_size)]
    asks = [(seg.ask, seg.ask_size)]
    for k in range(1, levels):
        h = (second * 2_654_435_761 + k * 40_503) & 0xFFFFFFFF
        bids.append((seg.bid - k, table[h % _TABLE]))
        asks.append((seg.ask + k, table[(h >> 10) % _TABLE]))
    return [b for b in bids if b[0] > 0], asks
