"""What the engine's own objects mean as notices: broker events, gate transitions and
connection events. Pure functions and one small state machine; nothing is sent from here."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from laptop_agents.models import ConnectionEvent, ConnectionState
from laptop_agents.paper.models import BrokerEvent, Fill, FundingSettled, TradeClosed
from laptop_agents.session.gate import PauseReason

# (event name, symbol or None, exchange ms or None for "now", fields)
Change = tuple[str, str | None, int | None, dict[str, Any]]


def broker_notices(events: Sequence[BrokerEvent]) -> list[Change]:
    """Entry fills, closed trades (exit or liquidation) and funding settlements."""
    found: list[Change] = []
    for event in events:
        if isinstance(event, Fill) and event.kind == "entry":
            found.append(("entry", event.symbol, event.ts, {
                "side": event.side, "qty": event.qty, "price": event.price, "fee": event.fee,
                "liquidity": event.liquidity, "reason": event.reason,
                "order_id": event.order_id}))
        elif isinstance(event, TradeClosed):
            trade = event.trade
            name = "liquidation" if trade.exit_reason == "liquidation" else "exit"
            fields: dict[str, Any] = {
                "side": trade.side, "qty": trade.qty, "entry_price": trade.entry_price,
                "price": trade.exit_price, "pnl": trade.realized_pnl,
                "gross_pnl": trade.gross_pnl, "fee": trade.fees, "funding": trade.funding,
                "reason": trade.exit_reason, "setup": trade.setup, "trade_id": trade.trade_id}
            if name == "liquidation":
                fields["liquidation_fee"] = trade.liquidation_fee
            found.append((name, trade.symbol, trade.closed_ms, fields))
        elif isinstance(event, FundingSettled):
            found.append(("funding", event.symbol, event.ts, {
                "side": event.side, "qty": event.qty, "rate": event.rate, "mark": event.mark,
                "amount": event.amount, "trade_id": event.trade_id}))
    return found


def connection_notice(event: ConnectionEvent) -> Change | None:
    """Feed lost / recovered (a first CONNECTED is no news)."""
    if event.state is ConnectionState.LOST:
        return ("feed_lost", None, None, {"reason": event.reason or "connection lost"})
    if event.state is ConnectionState.RECOVERED:
        outage = None if event.outage_s is None else round(event.outage_s, 1)
        return ("feed_recovered", None, None, {"outage_s": outage})
    return None


class GateWatch:
    """Turns the gate's reasons, read on its refresh timer, into paused / resumed /
    daily_loss_cap / price_suspect notices. The first reading is the baseline: a pause that
    was in force at start-up shows in the ``started`` notice, not as a fresh event."""

    def __init__(self) -> None:
        self._previous: frozenset[str] | None = None

    def changes(self, active: Mapping[PauseReason, str]) -> Iterable[Change]:
        now = frozenset(reason.value for reason in active)
        before, self._previous = self._previous, now
        if before is None or now == before:
            return ()
        details = {reason.value: detail for reason, detail in active.items()}
        found: list[Change] = []
        for reason, event in ((PauseReason.MANUAL, "paused"),
                              (PauseReason.DAILY_LOSS_CAP, "daily_loss_cap"),
                              (PauseReason.PRICE_SUSPECT, "price_suspect")):
            if reason.value in now and reason.value not in before:
                found.append((event, None, None, {"reason": details[reason.value]}))
        if PauseReason.MANUAL.value in before and PauseReason.MANUAL.value not in now:
            found.append(("resumed", None, None, {}))
        return found


__all__ = ["Change", "GateWatch", "broker_notices", "connection_notice"]
