"""The strategy sits behind a small interface: a trivial second strategy runs through the
same loop as the Supervisor, and the Supervisor really trades through the paper broker."""

from __future__ import annotations

import math
from decimal import Decimal

from laptop_agents.models import Candle, Side
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.models import Fill, TradeClosed
from laptop_agents.strategy.base import Decision, OrderIntent, Strategy, StrategyContext
from laptop_agents.strategy.supervisor import Supervisor
from tests.core.factories import INSTRUMENT, D, series, settings, tick


class AlwaysLong:
    """Buys at market whenever flat, with a fixed 100 stop and 200 target."""

    name = "always_long"
    warmup = 3

    def decide(self, ctx: StrategyContext) -> Decision:
        if len(ctx.candles) < self.warmup:
            return Decision(None, "warming up")
        if ctx.position is not None or ctx.has_working_order:
            return Decision(None, "busy")
        close = ctx.candles[-1].close
        intent = OrderIntent(Side.LONG, "market", D("0.01"), close, close - 100, close + 200,
                             "always_long", "flat, so buy", D(50))
        return Decision(intent, intent.reason)


def run(strategy: Strategy, candles: list[Candle], broker: PaperBroker) -> list[object]:
    """The engine's loop in miniature: every closed candle -> quotes -> decide -> submit."""
    events: list[object] = []
    history: list[Candle] = []
    for c in candles:
        # a few quotes inside the candle: open, low, high, close (the path a bar implies)
        for k, price in enumerate((c.open, c.low, c.high, c.close)):
            events += broker.on_tick(tick(price, ts=c.open_time + 10_000 * (k + 1)))
        events += broker.on_candle(c)
        history.append(c)
        since_exit = None
        if broker.last_exit_ms is not None:
            since_exit = sum(1 for h in history if h.open_time >= broker.last_exit_ms)
        ctx = StrategyContext(tuple(history[-300:]), broker.position_view(),
                              broker.equity(None), INSTRUMENT, since_exit,
                              bool(broker.working_orders))
        decision = strategy.decide(ctx)
        if decision.intent is not None:
            result = broker.submit(decision.intent, broker.last_tick, c.close_time)
            events += result.events
    return events


def wavy_uptrend(n: int = 400) -> list[Candle]:
    closes = [Decimal(50000 + 8 * i + round(120 * math.sin(i / 4))) for i in range(n)]
    return series(closes, spread=20)


def test_trivial_strategy_swaps_in() -> None:
    broker = PaperBroker(settings(slippage_bps=D(0)), INSTRUMENT)
    events = run(AlwaysLong(), wavy_uptrend(60), broker)
    fills = [e for e in events if isinstance(e, Fill)]
    assert fills and all(f.order_id.startswith("BTCUSDT-always_long") for f in fills
                         if f.kind == "entry")
    assert any(isinstance(e, TradeClosed) for e in events)


def test_supervisor_trades_through_the_broker() -> None:
    broker = PaperBroker(settings(), INSTRUMENT)
    events = run(Supervisor(settings()), wavy_uptrend(), broker)
    closed = [e.trade for e in events if isinstance(e, TradeClosed)]
    assert closed, "the Supervisor never completed a trade"
    assert all(t.setup in {"pullback_ribbon", "sweep_invalidation"} for t in closed)
    open_fee = broker.position.entry_fee if broker.position else D(0)
    assert broker.balance == D(10000) + sum(t.realized_pnl for t in closed) - open_fee
    # positions sized from the live equity with the 1 % risk fraction: never above the caps
    assert all(t.qty * t.entry_price <= D(50000) for t in closed)
