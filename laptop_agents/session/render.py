"""Build the views of session/views.py from engine values (ticks, candles, positions, trades,
broker events)."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

from pydantic import TypeAdapter

from laptop_agents.models import Candle, Tick
from laptop_agents.paper import models as paper
from laptop_agents.session.views import (
    CandleView,
    OrderEventView,
    PositionView,
    TickView,
    TradeView,
)

_ORDER_EVENT: TypeAdapter[OrderEventView] = TypeAdapter(OrderEventView)


# Ticks, candles and trades carry the views' field names, so pydantic reads their attributes.
def tick_view(tick: Tick) -> TickView:
    return TickView.model_validate(tick, from_attributes=True)


def candle_view(candle: Candle) -> CandleView:
    return CandleView.model_validate(candle, from_attributes=True)


def trade_view(trade: paper.Trade) -> TradeView:
    return TradeView.model_validate(trade, from_attributes=True)


def order_event(event: paper.OrderEvent) -> OrderEventView:
    """A broker event as the "order" message carries it: its type as ``kind`` first, except
    that a fill's own ``kind`` (entry or exit) overrides it, as it always has."""
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    return _ORDER_EVENT.validate_python({"kind": event.type, **fields})


def position_view(position: paper.Position, unrealized: Decimal | None,
                  mark: Decimal | None = None,
                  liquidation: Decimal | None = None) -> PositionView:
    """The open position as /status and /positions show it (``unrealized``: None before the
    first tick; ``mark``: None before the first mark price)."""
    extra = {} if liquidation is None else {"liquidation_price": liquidation}
    return PositionView(
        symbol=position.symbol, side=position.side, size=position.qty,
        entry=position.entry_price, stop=position.effective_stop(), fixed_stop=position.stop,
        trailing_stop=position.trailing_stop, target=position.target,
        opened_ms=position.opened_ms, setup=position.setup, unrealized_pnl=unrealized,
        mark_price=mark, leverage=position.leverage, margin=position.margin,
        funding_paid=position.funding, **extra)
