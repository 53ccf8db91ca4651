"""The strategy interface: immutable context in, one decision out.

A strategy is a pure object: the engine hands it a frozen :class:`StrategyContext` (built on
the event loop from its candle history, the broker's position and equity) and runs
``decide`` in a worker thread. Nothing in the context can be mutated, so no locks are needed.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Literal, Protocol

from laptop_agents.models import Candle, Instrument, Side

OrderType = Literal["market", "limit"]


@dataclass(frozen=True, slots=True)
class PositionView:
    """What a strategy may know about the open position."""

    side: Side
    qty: Decimal
    entry_price: Decimal
    stop: Decimal | None
    target: Decimal | None


@dataclass(frozen=True, slots=True)
class OrderIntent:
    """An entry the strategy wants, fully specified (size, stop and target included)."""

    side: Side
    order_type: OrderType
    qty: Decimal
    entry: Decimal  # limit price, or the intended (reference) price of a market order
    stop: Decimal
    target: Decimal
    setup: str
    reason: str
    atr: Decimal  # ATR at decision time; the broker's ATR-based trailing stop uses it

    def to_dict(self) -> dict[str, Any]:
        return {
            "side": self.side.value,
            "order_type": self.order_type,
            "qty": str(self.qty),
            "entry": str(self.entry),
            "stop": str(self.stop),
            "target": str(self.target),
            "setup": self.setup,
            "reason": self.reason,
            "atr": str(self.atr),
        }


@dataclass(frozen=True, slots=True)
class StrategyContext:
    candles: tuple[Candle, ...]  # closed candles, oldest first
    position: PositionView | None
    equity: Decimal
    instrument: Instrument
    candles_since_exit: int | None  # closed candles since the last exit; None = never exited
    has_working_order: bool
    # The rest of the account (several symbols trade in one): the balance free for a new
    # entry's margin and fee (None: the equity is), and the notional the other symbols' open
    # positions and working orders already hold.
    available: Decimal | None = None
    committed_notional: Decimal = Decimal(0)


@dataclass(frozen=True, slots=True)
class Decision:
    intent: OrderIntent | None
    reason: str


class Strategy(Protocol):
    name: str
    warmup: int

    def decide(self, ctx: StrategyContext) -> Decision: ...
