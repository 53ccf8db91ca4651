"""Values the paper broker produces and the journal stores: orders, fills, positions, trades,
and the events the engine receives. All money is Decimal; ``to_dict`` renders it as strings."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Literal

from laptop_agents.jsontypes import JSONObject, to_json
from laptop_agents.models import Side
from laptop_agents.strategy.base import OrderType


class OrderStatus(enum.StrEnum):
    WORKING = "working"
    FILLED = "filled"
    EXPIRED = "expired"
    CANCELED = "canceled"


def to_plain_dict(obj: object) -> JSONObject:
    """A dataclass as a JSON-ready dict (Decimals as strings, enums as values)."""
    result = to_json(obj)
    assert isinstance(result, dict)
    return result


@dataclass(frozen=True, slots=True)
class Order:
    """An entry order. ``price`` is the limit price, or the reference price of a market order."""

    order_id: str  # client order id: deterministic, the idempotency key of every write
    symbol: str
    side: Side
    order_type: OrderType
    qty: Decimal
    price: Decimal
    stop: Decimal
    target: Decimal
    atr: Decimal
    setup: str
    reason: str
    created_ms: int
    status: OrderStatus = OrderStatus.WORKING

    def to_dict(self) -> JSONObject:
        return to_plain_dict(self)


@dataclass(frozen=True, slots=True)
class Position:
    symbol: str
    side: Side
    qty: Decimal
    entry_price: Decimal
    stop: Decimal | None
    target: Decimal | None
    trailing_stop: Decimal | None
    opened_ms: int
    entry_order_id: str
    entry_fee: Decimal
    atr: Decimal
    setup: str
    # Isolated margin (docs/paper-trading.md): ``margin`` starts as notional / leverage and
    # moves with every funding settlement (``funding``: net paid by this position, + = paid).
    leverage: Decimal = Decimal(1)
    margin: Decimal = Decimal(0)
    funding: Decimal = Decimal(0)

    def effective_stop(self) -> Decimal | None:
        """The tighter of the fixed stop and the trailing stop."""
        stops = [s for s in (self.stop, self.trailing_stop) if s is not None]
        if not stops:
            return None
        return max(stops) if self.side is Side.LONG else min(stops)

    def unrealized_pnl(self, exit_price: Decimal) -> Decimal:
        direction = 1 if self.side is Side.LONG else -1
        return (exit_price - self.entry_price) * self.qty * direction

    def to_dict(self) -> JSONObject:
        return to_plain_dict(self)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution. ``slippage`` is adverse price movement vs ``intended_price`` (>0 = worse).
    ``realized_pnl`` is the gross PnL this fill closed (0 for an entry)."""

    fill_id: str
    order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    kind: Literal["entry", "exit"]
    qty: Decimal
    price: Decimal
    intended_price: Decimal
    slippage: Decimal
    fee: Decimal
    liquidity: Literal["maker", "taker"]
    realized_pnl: Decimal
    reason: str
    ts: int
    liquidation_fee: Decimal = Decimal(0)  # only on a liquidation's exit fill
    type: Literal["fill"] = "fill"

    def to_dict(self) -> JSONObject:
        return to_plain_dict(self)


@dataclass(frozen=True, slots=True)
class Trade:
    """A closed round trip. ``realized_pnl`` is net of both fees, the funding the position
    paid (``funding``: + = paid) and a liquidation fee; ``gross_pnl`` is price movement only."""

    trade_id: str  # = the entry order id
    symbol: str
    side: Side
    qty: Decimal
    entry_price: Decimal
    exit_price: Decimal
    opened_ms: int
    closed_ms: int
    gross_pnl: Decimal
    fees: Decimal
    realized_pnl: Decimal
    exit_reason: str
    setup: str
    funding: Decimal = Decimal(0)
    liquidation_fee: Decimal = Decimal(0)

    def to_dict(self) -> JSONObject:
        return to_plain_dict(self)


@dataclass(frozen=True, slots=True)
class FundingSettled:
    """One funding settlement applied to the position open at its instant ``ts``.

    ``amount`` is what the position paid (negative = received): qty x mark x rate, paid by a
    long when the rate is positive. ``trade_id`` is the position's entry order id."""

    symbol: str
    ts: int
    rate: Decimal
    mark: Decimal
    side: Side
    qty: Decimal
    amount: Decimal
    trade_id: str
    type: Literal["funding"] = "funding"

    def to_dict(self) -> JSONObject:
        return to_plain_dict(self)


@dataclass(frozen=True, slots=True)
class TradeClosed:
    trade: Trade
    type: Literal["trade_closed"] = "trade_closed"

    def to_dict(self) -> JSONObject:
        return {"type": self.type, **self.trade.to_dict()}


@dataclass(frozen=True, slots=True)
class OrderRejected:
    reason: str
    code: str  # machine-readable: see docs/paper-trading.md
    setup: str
    ts: int
    type: Literal["order_rejected"] = "order_rejected"

    def to_dict(self) -> JSONObject:
        return to_plain_dict(self)


@dataclass(frozen=True, slots=True)
class OrderExpired:
    order_id: str
    reason: str
    ts: int
    type: Literal["order_expired"] = "order_expired"

    def to_dict(self) -> JSONObject:
        return to_plain_dict(self)


@dataclass(frozen=True, slots=True)
class OrderCanceled:
    order_id: str
    reason: str
    ts: int | None
    type: Literal["order_canceled"] = "order_canceled"

    def to_dict(self) -> JSONObject:
        return to_plain_dict(self)


@dataclass(frozen=True, slots=True)
class EntriesPaused:
    """The daily loss cap fired: entries stay paused until the next UTC day."""

    reason: str
    ts: int
    type: Literal["entries_paused"] = "entries_paused"

    def to_dict(self) -> JSONObject:
        return to_plain_dict(self)


# Every broker event but a closed trade (those are reported, and published, on their own).
OrderEvent = (Fill | OrderRejected | OrderExpired | OrderCanceled | EntriesPaused
              | FundingSettled)
BrokerEvent = OrderEvent | TradeClosed


@dataclass(frozen=True, slots=True)
class OrderResult:
    accepted: bool
    reason: str
    order_id: str | None
    fills: list[Fill] = field(default_factory=list)
    code: str = "accepted"  # "accepted" | "duplicate" | a rejection code
    events: list[BrokerEvent] = field(default_factory=list)  # everything that happened

    def to_dict(self) -> JSONObject:
        return {
            "accepted": self.accepted,
            "reason": self.reason,
            "order_id": self.order_id,
            "code": self.code,
            "fills": [f.to_dict() for f in self.fills],
        }
