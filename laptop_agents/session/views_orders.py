"""The views of the paper account: trades, broker events (the feed's "order" messages), the
account totals and the open position (session/views.py re-exports them)."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Literal

from pydantic import Field

from laptop_agents.models import Side
from laptop_agents.session.views_base import EpochMs, Money, Unset, View


class PositionView(View):
    """The open position."""

    symbol: str | Unset = None
    side: Side
    size: Money
    entry: Money
    stop: Money | None = Field(None, description="effective stop (trailing when tighter)")
    fixed_stop: Money | None = None
    trailing_stop: Money | None = None
    target: Money | None = None
    opened_ms: EpochMs | Unset = None
    setup: str | Unset = None
    unrealized_pnl: Money | None = Field(None, description="null before the first tick")
    mark_price: Money | Unset | None = Field(None, description="latest accepted mark price")
    liquidation_price: Money | Unset = Field(
        None, description="the mark price that liquidates the position")
    leverage: Money | Unset = None
    margin: Money | Unset = Field(None, description="isolated margin, after funding")
    funding_paid: Money | Unset = Field(
        None, description="net funding this position paid (negative: received)")


class AccountView(View):
    """The paper account. balance = starting equity + realized_pnl - fees_paid - funding_paid
    - liquidation_fees, exactly."""

    starting_equity: Money
    balance: Money
    equity: Money = Field(description="balance + unrealized PnL")
    realized_pnl: Money = Field(description="gross, since the journal began")
    fees_paid: Money
    funding_paid: Money = Field(description="net; positive = paid, negative = received")
    liquidation_fees: Money
    margin_used: Money = Field(description="position margin plus working orders' margin")
    available: Money = Field(description="balance less margin_used")


class TradeView(View):
    """A closed round trip as journaled by the engine."""

    trade_id: str
    symbol: str
    side: Side
    qty: Money
    entry_price: Money
    exit_price: Money
    opened_ms: EpochMs
    closed_ms: EpochMs
    gross_pnl: Money
    fees: Money
    realized_pnl: Money = Field(description="net of fees, funding and liquidation fee")
    exit_reason: str
    setup: str
    funding: Money = Field(Decimal(0), description="net funding paid while open (+ = paid)")
    liquidation_fee: Money = Decimal(0)


# An "order" message is the broker event with ``kind`` first: the event's type, except for a
# fill, whose own ``kind`` field (entry or exit) wins. Kept as it always was sent.
class FillEvent(View):
    kind: Literal["entry", "exit"]
    fill_id: str
    order_id: str
    symbol: str
    side: Literal["buy", "sell"]
    qty: Money
    price: Money
    intended_price: Money
    slippage: Money = Field(description="adverse move from the intended price (> 0 = worse)")
    fee: Money
    liquidity: Literal["maker", "taker"]
    realized_pnl: Money
    reason: str
    ts: EpochMs
    liquidation_fee: Money = Decimal(0)
    type: Literal["fill"]


class OrderRejectedEvent(View):
    kind: Literal["order_rejected"]
    reason: str
    code: str
    setup: str
    ts: EpochMs
    type: Literal["order_rejected"]


class OrderExpiredEvent(View):
    kind: Literal["order_expired"]
    order_id: str
    reason: str
    ts: EpochMs
    type: Literal["order_expired"]


class OrderCanceledEvent(View):
    kind: Literal["order_canceled"]
    order_id: str
    reason: str
    ts: EpochMs | None
    type: Literal["order_canceled"]


class EntriesPausedEvent(View):
    kind: Literal["entries_paused"]
    reason: str
    ts: EpochMs
    type: Literal["entries_paused"]


class FundingEvent(View):
    kind: Literal["funding"]
    symbol: str
    ts: EpochMs = Field(description="the settlement instant")
    rate: Money = Field(description="a fraction (0.0001 = 0.01 %)")
    mark: Money
    side: Side
    qty: Money
    amount: Money = Field(description="paid by the position (negative: received)")
    trade_id: str
    type: Literal["funding"]


OrderEventView = Annotated[
    FillEvent | OrderRejectedEvent | OrderExpiredEvent | OrderCanceledEvent | EntriesPausedEvent
    | FundingEvent,
    Field(discriminator="type"),
]


class FundingView(View):
    """The exchange's mark price and funding state (the ``price`` channel and REST)."""

    mark_price: Money | None = Field(None, description="latest accepted mark price")
    index_price: Money | None = None
    last_rate: Money | None = Field(None, description="rate of the last settlement (fraction)")
    last_settlement_ms: EpochMs | None = None
    next_rate: Money | None = Field(
        None, description="predicted rate of the next settlement (fraction, REST funding_rate)")
    next_settlement_ms: EpochMs | None = None
