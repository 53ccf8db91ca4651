"""The typed views of a running daemon: what /status, /positions, /trades, /candles, /equity,
/flatten, /readyz and the WebSocket feed answer, and the /pause request body.

The engine builds them (session/control.py, session/render.py); the API serializes them and
generates the schemas of /openapi.json from them (api/openapi.py), so each shape is written
once, here. This module must not import the API package: the engine builds views without it.

JSON rules:

* Money is a ``Decimal`` and always a JSON string (``"67012.5"``): floats would lose digits.
* A field with a default may be left out of the JSON: the views are serialized with
  ``exclude_unset`` (:func:`view_json`), so a controller that does not know a value (the
  in-memory test controller) omits it instead of inventing one. The engine sets every field.
  ``Unset`` marks the fields that are omitted rather than ``null`` when unknown; fields typed
  ``... | None`` are ``null`` when set to ``None``.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from laptop_agents.data.price_guard import QuoteRejected
from laptop_agents.models import ConnectionState
from laptop_agents.session.gate import PauseReason
from laptop_agents.session.views_base import (
    Count,
    EpochMs,
    Money,
    Seconds,
    Unset,
    View,
    schema_name,
    view_json,
)
from laptop_agents.session.views_orders import (
    AccountView,
    EntriesPausedEvent,
    FillEvent,
    FundingEvent,
    FundingView,
    OrderCanceledEvent,
    OrderEventView,
    OrderExpiredEvent,
    OrderRejectedEvent,
    PositionView,
    TradeView,
)

# Re-exported: the API and the tests import every view from here.
__all__ = [
    "AccountView", "Count", "EntriesPausedEvent", "EpochMs", "FillEvent", "FundingEvent",
    "FundingView", "Money", "OrderCanceledEvent", "OrderEventView", "OrderExpiredEvent",
    "OrderRejectedEvent", "PositionView", "Seconds", "TradeView", "Unset", "View",
    "schema_name", "view_json",
]

PAUSE_REASON_MAX_CHARS = 200

FeedKind = Literal["tick", "candle", "trade", "order", "status"]
TaskState = Literal["not started", "running", "stopped", "failed", "finished"]


# -- status ------------------------------------------------------------------------------------
class FeedView(View):
    """The market-data connection."""

    state: ConnectionState
    last_tick_age_s: Seconds | None = None
    reconnects: Count | Unset = None
    clock_offset_ms: int | None = Field(
        None, description="estimated exchange time minus the laptop's clock; null before pushes")
    exchange_clock_rate: float | Unset = Field(
        None, description="exchange ms per local ms (1 = real time)")
    bid: Money | None = None
    ask: Money | None = None


class DataHealthView(View):
    """What the daemon refused to believe (docs/market-data.md), and how fresh its prices are."""

    quotes_accepted: Count
    quotes_rejected: dict[QuoteRejected, Count] = Field(
        description="quarantined quotes by reason")
    marks_rejected: dict[QuoteRejected, Count] | Unset = Field(
        None, description="mark prices not believed, by reason")
    price_suspect_s: Seconds
    price_reference: Money | None
    moves_confirmed: Count
    malformed_frames: Count
    implausible_timestamps: Count
    frame_errors: Count
    candles_rest_confirmed: Count
    candles_ws_fallback: Count
    candle_gaps: Count
    clock_offset_ms: int | None
    last_quote_age_s: Seconds | None
    pauses_detected: Count


class GateView(View):
    """May the strategy open a position now (trading_allowed), may exits run (exits_allowed)."""

    trading_allowed: bool
    exits_allowed: bool | Unset = None
    reasons: list[PauseReason] = Field(description="active pause reasons, in a fixed order")
    details: dict[PauseReason, str] | Unset = Field(None, description="each reason, in words")


class LoopLagView(View):
    """Event-loop lag in milliseconds: the last sample, the recent 99th percentile and max."""

    last: float
    p99: float
    max: float


class WarmupView(View):
    candles: Count
    needed: Count


class StrategyView(View):
    decisions: Count
    last_reason: str
    candles_dropped: Count = Field(description="closed candles the strategy had no time for")


class TaskView(View):
    """One engine task, for the health panel."""

    state: TaskState
    interval: str | Unset = Field(None, description="how often the task runs")
    last_run_age_s: Seconds | None = None


class SymbolView(View):
    """One traded symbol in /status ``symbols``: its feed, gate, position and last quote."""

    feed: FeedView
    gate: GateView
    position: PositionView | None
    working_orders: Count
    last_quote: TickView | None
    warmup: WarmupView
    strategy: StrategyView


class StatusView(View):
    """The daemon's status: feed, gate, position, equity, PnL, tasks."""

    mode: Literal["paper"]
    source: Literal["sim", "bitunix"]
    symbol: str
    interval: str | Unset = None
    feed: FeedView
    data_health: DataHealthView | Unset = None
    gate: GateView
    position: PositionView | None
    working_orders: Count | Unset = Field(
        None, description="resting entry orders at the paper broker")
    equity: Money
    realized_pnl_today: Money
    account: AccountView | Unset = None
    funding: FundingView | Unset = None
    uptime_s: Seconds
    loop_lag_ms: LoopLagView | Unset = None
    warmup: WarmupView | Unset = None
    strategy: StrategyView | Unset = None
    position_drift_count: Count | Unset = Field(
        None, description="broker/journal position mismatches seen")
    tasks: dict[str, TaskView]
    symbols: dict[str, SymbolView] | Unset = Field(
        None, description="every traded symbol by name (the fields above: the first one's "
                          "and the account's)")


# -- market data, trades, broker events -------------------------------------------------------
class TickView(View):
    """Best bid/offer (and the last trade price when known)."""

    symbol: str
    bid: Money
    ask: Money
    bid_size: Money
    ask_size: Money
    last: Money | None
    ts: EpochMs


class CandleView(View):
    symbol: str
    interval: str
    open_time: EpochMs = Field(description="bucket start, epoch ms")
    open: Money
    high: Money
    low: Money
    close: Money
    volume: Money
    quote_volume: Money
    closed: bool


FeedPayload = TickView | CandleView | TradeView | OrderEventView | StatusView


# -- HTTP answers and requests ----------------------------------------------------------------
class PositionList(View):
    positions: list[PositionView] = Field(description="empty when flat")


class TradeList(View):
    trades: list[TradeView] = Field(description="newest first")


class CandleList(View):
    candles: list[CandleView] = Field(description="oldest first")


class EquityPoint(View):
    """One equity snapshot. The parts are null on snapshots recorded before they were
    (journal schema version 3): only the equity is known there."""

    ts: EpochMs
    equity: Money = Field(description="balance + unrealized")
    balance: Money | None = Field(
        description="realised: starting equity + realised PnL - fees - funding - liquidation "
                    "fees")
    unrealized: Money | None = Field(description="the open position's mark-to-market PnL")
    funding_paid: Money | None = Field(description="net funding paid so far (+ = paid)")


class EquityHistory(View):
    recorded: Count = Field(description="snapshots in the range before downsampling")
    points: list[EquityPoint] = Field(
        description="oldest first; the first, the last and each time bucket's lowest and "
                    "highest equity")


class FlattenResult(View):
    closed: bool
    trade: TradeView | None
    reason: str | Unset = Field(
        None, description="why nothing was closed (no open position, no fresh price)")


class Readiness(View):
    ready: bool
    reasons: list[str] = Field(description="why not ready, in words")


class Liveness(View):
    status: Literal["ok"]


class ErrorView(View):
    """Every error answer, including 404, 405, 413 and 500."""

    error: str


class PauseRequest(View):
    """The optional body of POST /pause."""

    symbol: Annotated[str, Field(max_length=40)] | None = Field(
        None, description="pause only this symbol (default: every symbol)")
    reason: Annotated[str, Field(max_length=PAUSE_REASON_MAX_CHARS)] | None = Field(
        None, description="shown in the status gate details; absent, null or blank: "
                          "'paused by operator'")


# -- WebSocket messages ------------------------------------------------------------------------
class TickMessage(View):
    type: Literal["tick"]
    data: TickView


class CandleMessage(View):
    type: Literal["candle"]
    data: CandleView


class TradeMessage(View):
    type: Literal["trade"]
    data: TradeView


class OrderMessage(View):
    type: Literal["order"]
    data: OrderEventView


class StatusMessage(View):
    type: Literal["status"]
    data: StatusView


class Subscription(View):
    types: list[FeedKind]
    symbols: list[str] | Unset = Field(None, description="only these symbols (default: all)")


class SubscribedMessage(View):
    """The answer to a connect and to each subscribe message."""

    type: Literal["subscribed"]
    data: Subscription


class Overflow(View):
    dropped: Count


class OverflowMessage(View):
    """That many messages were lost for this client (it fell behind): refetch over HTTP."""

    type: Literal["overflow"]
    data: Overflow


class Empty(View):
    pass


class PongMessage(View):
    type: Literal["pong"]
    data: Empty


class ErrorMessage(View):
    """The answer to an invalid client message."""

    type: Literal["error"]
    data: ErrorView


FeedMessage = Annotated[
    TickMessage | CandleMessage | TradeMessage | OrderMessage | StatusMessage
    | SubscribedMessage | OverflowMessage | PongMessage | ErrorMessage,
    Field(discriminator="type"),
]
