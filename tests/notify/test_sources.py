"""What the engine's objects mean as notices: gate transitions, connection events, trades."""

from __future__ import annotations

from decimal import Decimal
from types import SimpleNamespace

from laptop_agents.models import ConnectionEvent, ConnectionState, Side
from laptop_agents.notify.sources import GateWatch, broker_notices, connection_notice
from laptop_agents.paper.models import Trade, TradeClosed
from laptop_agents.session.gate import TradingGate


def test_gate_transitions_become_pause_cap_and_suspect_notices() -> None:
    state = SimpleNamespace(risk=None, suspect=0.0)
    gate = TradingGate(stale_after=2.0, risk_reason=lambda: state.risk,
                       suspect_for=lambda: state.suspect)
    watch = GateWatch()
    assert list(watch.changes(gate.refresh())) == []  # the baseline
    gate.pause("lunch")
    assert list(watch.changes(gate.refresh())) == [("paused", None, None, {"reason": "lunch"})]
    assert list(watch.changes(gate.refresh())) == []
    gate.resume()
    state.risk = "daily loss 3.1% >= cap 3%"
    state.suspect = 5.0
    events = [change[0] for change in watch.changes(gate.refresh())]
    assert events == ["daily_loss_cap", "price_suspect", "resumed"]


def test_connection_events() -> None:
    assert connection_notice(ConnectionEvent(ConnectionState.CONNECTED)) is None
    assert connection_notice(ConnectionEvent(ConnectionState.LOST, "silent")) == (
        "feed_lost", None, None, {"reason": "silent"})
    assert connection_notice(ConnectionEvent(ConnectionState.RECOVERED, outage_s=3.14)) == (
        "feed_recovered", None, None, {"outage_s": 3.1})


def test_a_liquidation_is_its_own_event() -> None:
    trade = Trade(trade_id="t1", symbol="BTCUSDT", side=Side.LONG, qty=Decimal("1"),
                  entry_price=Decimal("100"), exit_price=Decimal("80"), opened_ms=1,
                  closed_ms=2, gross_pnl=Decimal("-20"), fees=Decimal("0.1"),
                  realized_pnl=Decimal("-20.2"), exit_reason="liquidation", setup="s",
                  liquidation_fee=Decimal("0.1"))
    ((event, symbol, ts, fields),) = broker_notices([TradeClosed(trade)])
    assert (event, symbol, ts) == ("liquidation", "BTCUSDT", 2)
    assert fields["pnl"] == Decimal("-20.2") and fields["liquidation_fee"] == Decimal("0.1")
