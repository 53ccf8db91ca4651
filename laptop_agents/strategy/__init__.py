"""Indicators, the Strategy interface and the Supervisor (pure: candles in, decision out).

A plug-in needs only this package: these names, ``.sizing`` and ``.indicators``
(docs/strategies.md).
"""

from laptop_agents.models import Candle, Instrument, Side
from laptop_agents.strategy.base import (
    Decision,
    OrderIntent,
    PositionView,
    Strategy,
    StrategyContext,
)
from laptop_agents.strategy.supervisor import Supervisor

__all__ = [
    "Candle",
    "Decision",
    "Instrument",
    "OrderIntent",
    "PositionView",
    "Side",
    "Strategy",
    "StrategyContext",
    "Supervisor",
]
