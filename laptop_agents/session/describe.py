"""One readable log line for each engine value: positions, trades, broker events, intents."""

from __future__ import annotations

from collections.abc import Mapping

from laptop_agents.config import Settings
from laptop_agents.paper.models import (
    BrokerEvent,
    EntriesPaused,
    Fill,
    FundingSettled,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    Position,
    Trade,
    TradeClosed,
)
from laptop_agents.readable import money, price, qty, utc
from laptop_agents.session.gate import PauseReason
from laptop_agents.strategy.base import OrderIntent


def describe_position(position: Position | None) -> str:
    if position is None:
        return "flat"
    s = position.symbol
    return (f"{position.side.value} {qty(s, position.qty)}@{price(s, position.entry_price)} "
            f"stop={price(s, position.effective_stop())} target={price(s, position.target)}")


def describe_trade(trade: Trade) -> str:
    s = trade.symbol
    return (f"{trade.side.value} {qty(s, trade.qty)} {price(s, trade.entry_price)} -> "
            f"{price(s, trade.exit_price)}, {trade.exit_reason}, fees {money(trade.fees)}, "
            f"setup {trade.setup}")


def describe_intent(intent: OrderIntent, symbol: str = "") -> str:
    """Side, type, size, price, stop, target and the strategy's reason (at ``symbol``'s
    precision when given)."""
    s = symbol
    return (f"{intent.side.value} {intent.order_type} {qty(s, intent.qty)} @ "
            f"{price(s, intent.entry)} stop={price(s, intent.stop)} "
            f"target={price(s, intent.target)} ({intent.reason})")


def describe_event(event: BrokerEvent) -> str:
    if isinstance(event, Fill):
        s = event.symbol
        pnl = f" pnl={money(event.realized_pnl)}" if event.kind == "exit" else ""
        return (f"order filled: {event.kind} {event.side} {qty(s, event.qty)} @ "
                f"{price(s, event.price)} fee={money(event.fee)}{pnl} ({event.reason}) "
                f"fill {event.fill_id}")
    if isinstance(event, TradeClosed):
        t = event.trade
        return (f"position closed: {t.side.value} {qty(t.symbol, t.qty)} "
                f"{price(t.symbol, t.entry_price)} -> {price(t.symbol, t.exit_price)} "
                f"({t.exit_reason})")
    if isinstance(event, OrderRejected):
        return f"order rejected: {event.code} ({event.reason})"
    if isinstance(event, OrderExpired):
        return f"order expired: {event.order_id} ({event.reason})"
    if isinstance(event, OrderCanceled):
        return f"order canceled: {event.order_id} ({event.reason})"
    if isinstance(event, EntriesPaused):
        return f"entries paused by risk limits: {event.reason}"
    if isinstance(event, FundingSettled):
        verb = "paid" if event.amount >= 0 else "received"
        return (f"funding settled at {utc(event.ts)}: the {event.side.value} "
                f"{qty(event.symbol, event.qty)} {verb} {money(abs(event.amount))} "
                f"(rate {event.rate}, mark {price(event.symbol, event.mark)})")
    return f"broker event: {event!r}"


def banner(settings: Settings, candles: int, strategy: str, warmup: int,
           tasks: Mapping[str, str], gate: Mapping[PauseReason, str]) -> str:
    """The start-up banner: source, symbol, data directory, history, every task's period and
    the gate's reasons."""
    s = settings
    lines = [
        f"laptop-agents engine: source={s.source} symbol={s.symbol} interval={s.interval} "
        f"data_dir={s.data_dir}",
        f"  history: {candles} closed candles loaded (strategy {strategy} needs {warmup})",
    ]
    lines += [f"  task {name:<14} {interval}" for name, interval in tasks.items()]
    if gate:
        lines.append("  gate: " + ", ".join(f"{k.value} ({v})" for k, v in gate.items()))
    return "\n".join(lines)


__all__ = ["banner", "describe_event", "describe_intent", "describe_position", "describe_trade"]
