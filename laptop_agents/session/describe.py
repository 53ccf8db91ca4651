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
from laptop_agents.session.gate import PauseReason
from laptop_agents.strategy.base import OrderIntent


def describe_position(position: Position | None) -> str:
    if position is None:
        return "flat"
    return (f"{position.side.value} {position.qty}@{position.entry_price} "
            f"stop={position.effective_stop()} target={position.target}")


def describe_trade(trade: Trade) -> str:
    return (f"{trade.side.value} {trade.qty} {trade.entry_price} -> {trade.exit_price}, "
            f"{trade.exit_reason}, fees {trade.fees}, setup {trade.setup}")


def describe_intent(intent: OrderIntent) -> str:
    """Side, type, size, price, stop, target and the strategy's reason."""
    return (f"{intent.side.value} {intent.order_type} {intent.qty} @ {intent.entry} "
            f"stop={intent.stop} target={intent.target} ({intent.reason})")


def describe_event(event: BrokerEvent) -> str:
    if isinstance(event, Fill):
        pnl = f" pnl={event.realized_pnl}" if event.kind == "exit" else ""
        return (f"order filled: {event.kind} {event.side} {event.qty} @ {event.price} "
                f"fee={event.fee}{pnl} ({event.reason}) fill {event.fill_id}")
    if isinstance(event, TradeClosed):
        t = event.trade
        return (f"position closed: {t.side.value} {t.qty} {t.entry_price} -> {t.exit_price} "
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
        return (f"funding settled: the {event.side.value} {event.qty} {verb} "
                f"{abs(event.amount)} (rate {event.rate}, mark {event.mark})")
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
