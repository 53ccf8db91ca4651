"""Shared pieces of the engine tests: test strategies and the order quantity they use."""

from __future__ import annotations

import threading
import time
from decimal import Decimal

from laptop_agents.models import Side
from laptop_agents.strategy.base import Decision, OrderIntent, StrategyContext

QTY = Decimal("0.01")


class AlwaysEnter:
    """Enters long at market whenever flat and ``armed``; stop/target a fixed fraction away."""

    name = "always-enter"
    warmup = 1

    def __init__(self, stop_pct: str = "0.02", target_pct: str = "0.02",
                 burn_s: float = 0.0) -> None:
        self.stop_pct = Decimal(stop_pct)
        self.target_pct = Decimal(target_pct)
        self.burn_s = burn_s
        self.armed = threading.Event()
        self.armed.set()
        self.calls = 0
        self.busy = threading.Event()  # set while a decision is being computed

    def decide(self, ctx: StrategyContext) -> Decision:
        self.calls += 1
        self.busy.set()
        try:
            if self.burn_s:
                _burn_cpu(self.burn_s)
            assert isinstance(ctx.candles, tuple)
            if ctx.position is not None or ctx.has_working_order or not self.armed.is_set():
                return Decision(None, "hold")
            close = ctx.candles[-1].close
            stop = (close * (1 - self.stop_pct)).quantize(Decimal("0.1"))
            target = (close * (1 + self.target_pct)).quantize(Decimal("0.1"))
            intent = OrderIntent(side=Side.LONG, order_type="market", qty=QTY, entry=close,
                                 stop=stop, target=target, setup="test", reason="always",
                                 atr=Decimal("10"))
            return Decision(intent, "enter")
        finally:
            self.busy.clear()


def _burn_cpu(seconds: float) -> None:
    """Pure-Python CPU work (holds the GIL in slices, like a heavy indicator computation)."""
    end = time.perf_counter() + seconds
    x = 0
    while time.perf_counter() < end:
        for i in range(1000):
            x += i * i
