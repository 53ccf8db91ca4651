"""Pure price and fee arithmetic of the paper broker: no state, no journal, no settings object.

Every price the broker fills at is computed here, so "against us" is decided in one place:
slippage moves a price away from us, and rounding to the tick grid goes the same way.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal

from laptop_agents.models import Side, Tick
from laptop_agents.paper.models import Order
from laptop_agents.strategy.sizing import round_to_tick

FEE_QUANTUM = Decimal("0.00000001")  # fees are rounded to 1e-8 USDT (half-even)
BPS = Decimal("10000")


def fee_of(price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    return (price * qty * rate).quantize(FEE_QUANTUM, rounding=ROUND_HALF_EVEN)


def market_price(side: Side, tick: Tick, slippage_bps: Decimal, tick_size: Decimal) -> Decimal:
    """Touch price moved ``slippage_bps`` against us, on the tick grid (rounded against us)."""
    slip = slippage_bps / BPS
    if side is Side.LONG:
        return round_to_tick(tick.ask * (1 + slip), tick_size, up=True)
    return round_to_tick(tick.bid * (1 - slip), tick_size, up=False)


def closing_side(side: Side) -> Side:
    """The side of the market order that closes a position of ``side``."""
    return Side.SHORT if side is Side.LONG else Side.LONG


def exit_touch(side: Side, tick: Tick) -> Decimal:
    """Where a position of ``side`` can close now, before slippage: bid (long), ask (short)."""
    return tick.bid if side is Side.LONG else tick.ask


def marketable(order: Order, tick: Tick) -> bool:
    """Whether the quote crosses a limit order: buy when ask <= limit, sell when bid >= limit."""
    return tick.ask <= order.price if order.side is Side.LONG else tick.bid >= order.price


def level_exit_price(side: Side, level: Decimal, slippage_bps: Decimal,
                     tick_size: Decimal) -> Decimal:
    """Exit of a position of ``side`` at ``level`` (no quote: a candle's range decided), moved
    ``slippage_bps`` against us and rounded to the tick against us."""
    slip = slippage_bps / BPS
    long = side is Side.LONG
    moved = level * (1 - slip) if long else level * (1 + slip)
    return round_to_tick(moved, tick_size, up=not long)
