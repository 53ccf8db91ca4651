"""The ``symbols`` figure's plug-in strategy (``LA_STRATEGY=bench/hold_strategy.py:Hold``):
it never enters, so the positions the benchmark seeds into the journal are the only ones, and
a symbol whose stop the benchmark crossed stays flat (no re-entry at the next candle)."""

from __future__ import annotations

from laptop_agents.strategy import Decision, StrategyContext
from laptop_agents.strategy.sizing import AccountRules


class Hold:
    """Holds whatever position the journal restored; never enters."""

    name = "bench_hold"

    def __init__(self, params: object, account: AccountRules) -> None:
        self.warmup = 1

    def decide(self, ctx: StrategyContext) -> Decision:
        return Decision(None, "bench: hold")
