"""The paper broker and the values it produces."""

from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.models import (
    BrokerEvent,
    EntriesPaused,
    Fill,
    Order,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    OrderResult,
    OrderStatus,
    Position,
    Trade,
    TradeClosed,
)

__all__ = [
    "BrokerEvent",
    "EntriesPaused",
    "Fill",
    "Order",
    "OrderCanceled",
    "OrderExpired",
    "OrderRejected",
    "OrderResult",
    "OrderStatus",
    "PaperBroker",
    "Position",
    "Trade",
    "TradeClosed",
]
