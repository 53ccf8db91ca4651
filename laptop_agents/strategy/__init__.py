"""Indicators, the Strategy interface and the Supervisor (pure: candles in, decision out)."""

from laptop_agents.strategy.base import (
    Decision,
    OrderIntent,
    PositionView,
    Strategy,
    StrategyContext,
)
from laptop_agents.strategy.supervisor import Supervisor

__all__ = [
    "Decision",
    "OrderIntent",
    "PositionView",
    "Strategy",
    "StrategyContext",
    "Supervisor",
]
