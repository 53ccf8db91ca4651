"""Pure isolated-margin arithmetic of the perpetual account (one-way mode): no state, no I/O.

The formulas, with a worked example and the source of each default, are in
docs/paper-trading.md ("Margin, funding and liquidation"):

* initial margin ``IM = qty x entry / leverage``; the position's margin ``M`` starts at IM and
  moves with every funding settlement (paid funding comes out of it, received goes into it);
* maintenance margin ``MM = qty x entry x maintenance_margin_rate``;
* liquidation price: long ``entry - (M - MM) / qty``, short ``entry + (M - MM) / qty``,
  rounded to the tick toward the entry (liquidation never comes later than the formula says);
* bankruptcy price, where ``M`` is exhausted: long ``entry - M / qty``, short
  ``entry + M / qty``, rounded to ``PRICE_QUANTUM`` toward the entry (the loss never exceeds M);
* funding paid at a settlement: ``qty x mark x rate``, by a long when the rate is positive.
"""

from __future__ import annotations

from decimal import ROUND_CEILING, ROUND_FLOOR, ROUND_HALF_EVEN, Decimal

from laptop_agents.models import Side
from laptop_agents.paper.models import Position
from laptop_agents.strategy.sizing import round_to_tick

MONEY_QUANTUM = Decimal("0.00000001")  # margins, funding and fees: 1e-8 USDT
PRICE_QUANTUM = Decimal("0.00000001")  # a bankruptcy price need not sit on the tick grid


def money(value: Decimal) -> Decimal:
    return value.quantize(MONEY_QUANTUM, rounding=ROUND_HALF_EVEN)


def initial_margin(qty: Decimal, price: Decimal, leverage: Decimal) -> Decimal:
    return money(qty * price / leverage)


def maintenance_margin(p: Position, rate: Decimal) -> Decimal:
    return money(p.qty * p.entry_price * rate)


def liquidation_price(p: Position, rate: Decimal, tick: Decimal) -> Decimal:
    """Where the mark price liquidates ``p``: its margin minus the maintenance margin spent.
    Never below zero for a long (a long with margin beyond its value cannot be liquidated)."""
    buffer = (p.margin - maintenance_margin(p, rate)) / p.qty
    if p.side is Side.LONG:
        return max(Decimal(0), round_to_tick(p.entry_price - buffer, tick, up=True))
    return round_to_tick(p.entry_price + buffer, tick, up=False)


def bankruptcy_price(p: Position) -> Decimal:
    """Where the position's margin is exhausted (rounded toward the entry)."""
    per_unit = max(Decimal(0), p.margin) / p.qty
    if p.side is Side.LONG:
        return max(Decimal(0), (p.entry_price - per_unit).quantize(PRICE_QUANTUM, ROUND_CEILING))
    return (p.entry_price + per_unit).quantize(PRICE_QUANTUM, ROUND_FLOOR)


def funding_payment(side: Side, qty: Decimal, mark: Decimal, rate: Decimal) -> Decimal:
    """What a position pays at a settlement (negative: receives). Longs pay a positive rate."""
    amount = money(qty * mark * rate)
    return amount if side is Side.LONG else -amount


def liquidation_fee(qty: Decimal, price: Decimal, rate: Decimal, available: Decimal) -> Decimal:
    """The fee at ``rate`` of the notional at ``price``, never more than ``available``: one
    position can never take the account below zero."""
    return max(Decimal(0), min(money(qty * price * rate), available))
