"""A test strategy for any contract: the engine tests with several symbols and the browser
tests that need real trades on demand use it."""

from __future__ import annotations

import threading
from decimal import ROUND_CEILING, Decimal

from laptop_agents.models import Side
from laptop_agents.strategy.base import Decision, OrderIntent, StrategyContext
from laptop_agents.strategy.sizing import round_to_tick

STOP_PCT = Decimal("0.01")


class Enter:
    """Long at market, about ``notional`` USDT, whenever flat and ``armed``; stop and target
    1 % away on the contract's tick grid."""

    name = "enter"
    warmup = 1

    def __init__(self, armed: bool = True, notional: Decimal = Decimal(20)) -> None:
        self.notional = notional  # USDT per entry: above every contract's minimum notional
        self.armed = threading.Event()
        if armed:
            self.armed.set()

    def decide(self, ctx: StrategyContext) -> Decision:
        if ctx.position is not None or ctx.has_working_order or not self.armed.is_set():
            return Decision(None, "hold")
        inst, close = ctx.instrument, ctx.candles[-1].close
        qty = max(inst.min_qty, (self.notional / close / inst.lot_step).to_integral_value(
            ROUND_CEILING) * inst.lot_step)
        stop = round_to_tick(close * (1 - STOP_PCT), inst.tick_size, up=False)
        target = round_to_tick(close * (1 + STOP_PCT), inst.tick_size, up=True)
        return Decision(OrderIntent(Side.LONG, "market", qty, close, stop, target, "test",
                                    "enter", Decimal(0)), "enter")
