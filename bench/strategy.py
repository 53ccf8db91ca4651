"""Figure `strategy` (issue #15 part 5): decisions per second over a sliding candle window.

A backtest of a year of one-minute candles at 20,000 candles/s has ~50 µs per candle for
everything (broker, engine, strategy). This measures the strategy's share the way a backtest
or the engine calls it: simulator candles, a 300-candle window slid one candle at a time, a
new frozen StrategyContext each time (flat, no working order: every decision runs the
strategy's whole logic), a fresh strategy instance per repetition. The cost per decision
does not grow with the length of the history, only with the window, so two weeks of
candles stand in for the year.

Baseline: the same loop with a strategy that returns at once (building the contexts alone).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bench.stats import Options
from bench.table import Row
from laptop_agents.config import Settings
from laptop_agents.models import DEFAULT_BTCUSDT, Candle
from laptop_agents.sim.contracts import SPECS
from laptop_agents.sim.market import SymbolMarket
from laptop_agents.sim.readouts import closed_candles
from laptop_agents.strategy.base import Decision, Strategy, StrategyContext
from laptop_agents.strategy.incremental import CandleIndicators
from laptop_agents.strategy.loader import load_strategy
from laptop_agents.strategy.supervisor import Supervisor

WINDOW = 300  # LA_HISTORY_CANDLES' default: the engine's context
ORIGIN_MS = 1_767_225_600_000  # 2026-01-01T00:00Z
BUDGET = "budget for 20,000 candles/s"
TARGET_PER_S = 66_667  # 15 µs per decision: under a third of the 50 µs per candle


class Idle:
    """The baseline: a strategy that decides nothing, so only the contexts are built."""

    name, warmup = "idle", 1
    decision = Decision(None, "idle")

    def decide(self, ctx: StrategyContext) -> Decision:
        return self.decision


def simulator_candles(minutes: int, seed: int = 42) -> list[Candle]:
    market = SymbolMarket(SPECS["BTCUSDT"], seed, ORIGIN_MS)
    now = ORIGIN_MS + minutes * 60_000
    market.advance(now)
    return closed_candles(market, "1min", now, None, None)


def slide(strategy: Strategy, candles: list[Candle],
          on_decision: Callable[[Decision, float], None] | None = None) -> float:
    """Decisions per second of ``strategy`` over every window of ``candles``."""
    equity = Decimal(10_000)
    started = time.perf_counter()
    for end in range(WINDOW, len(candles) + 1):
        ctx = StrategyContext(tuple(candles[end - WINDOW:end]), None, equity, DEFAULT_BTCUSDT,
                              None, False)
        if on_decision is None:
            strategy.decide(ctx)
        else:
            began = time.perf_counter()
            decision = strategy.decide(ctx)
            on_decision(decision, time.perf_counter() - began)
    return (len(candles) + 1 - WINDOW) / (time.perf_counter() - started)


class Uncached(Supervisor):
    """The Supervisor with a new indicator cache per decision: every context is rebuilt
    from its candles, i.e. the cost of computing the indicators without the cache."""

    def decide(self, ctx: StrategyContext) -> Decision:
        s = self.s
        self._indicators = CandleIndicators((s.ema_fast, s.ema_mid, s.ema_slow), s.atr_period)
        return super().decide(ctx)


def _builders() -> dict[str, Callable[[], Strategy]]:
    settings = Settings()
    return {
        "supervisor": lambda: Supervisor(settings),
        "supervisor, cache off": lambda: Uncached(settings),
        "ema_cross": lambda: load_strategy(Settings(strategy="ema_cross")),
        "breakout": lambda: load_strategy(Settings(strategy="breakout")),
    }


async def run(options: Options) -> list[Row]:
    candles = simulator_candles(options.scale(14 * 1440, 1440) + WINDOW)
    builders = _builders()
    values: dict[str, list[float]] = {name: [] for name in builders}
    baseline: list[float] = []
    no_setup_us: list[float] = []
    for _ in range(options.reps):
        baseline.append(slide(Idle(), candles))
        for name, build in builders.items():
            # Without the cache a decision costs ~1 ms: 2,000 of them say as much.
            span = candles[:WINDOW + 2_000] if name == "supervisor, cache off" else candles
            values[name].append(slide(build(), span))
        # The common case: the decisions that found no setup (per-call timing, one more pass).
        quiet: list[float] = []

        def keep(decision: Decision, seconds: float, quiet: list[float] = quiet) -> None:
            if decision.intent is None:
                quiet.append(seconds * 1e6)

        slide(Supervisor(Settings()), candles, keep)
        no_setup_us.append(statistics.median(quiet) if quiet else float("nan"))
    decisions = len(candles) + 1 - WINDOW
    rows = [_row(f"strategy: {name}", vals, baseline, name) for name, vals in values.items()]
    rows.append(Row("strategy: supervisor, no setup (per call)", "µs", no_setup_us,
                    target="<= 15 µs", check=lambda median, _ratio: median <= 15,
                    note=f"median over the decisions without an intent; {BUDGET}"))
    rows[0].note = (f"{decisions:,} decisions per repetition over a {WINDOW}-candle window of "
                    f"simulator candles, flat every time; baseline = building the contexts "
                    f"alone; target {TARGET_PER_S:,}/s = 15 µs, {BUDGET} (50 µs per candle)")
    return rows


def _row(figure: str, values: list[float], baseline: list[float], name: str) -> Row:
    extra: dict[str, Any] = {}
    if name != "supervisor, cache off":  # the reference the cache is measured against
        extra = {"target": f">= {TARGET_PER_S:,}/s",
                 "check": lambda median, _ratio: median >= TARGET_PER_S}
    return Row(figure, "decisions/s", values, baseline, "contexts alone", **extra)
