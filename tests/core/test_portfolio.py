"""One account, several symbols (issue #16): the brokers of two symbols share one wallet and
one daily risk; the portfolio limits count every symbol; a restart restores every position;
the ledger invariant holds over the shared journal."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from laptop_agents.models import DEFAULT_BTCUSDT, Instrument, Side, Tick
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.invariant import check_ledger
from laptop_agents.storage.journal import Journal
from tests.core.factories import T0, intent, settings, tick

D = Decimal
ETH = Instrument("ETHUSDT", D("0.01"), D("0.001"), D("0.001"), 100)


def eth_tick(bid: Any, ts: int = T0) -> Tick:
    b = D(str(bid))
    return Tick("ETHUSDT", b, b + D("0.01"), D(1), D(1), b, ts)


def eth_intent(**kwargs: Any) -> Any:
    values: dict[str, Any] = {"qty": "1", "entry": 3000, "stop": 2990, "target": 3020}
    return intent(**{**values, **kwargs})


def account(journal: Journal | None = None, **overrides: Any) -> tuple[PaperBroker, PaperBroker]:
    s = settings(**overrides)
    btc = PaperBroker(s, DEFAULT_BTCUSDT, journal)
    return btc, PaperBroker(s, ETH, journal, account=btc)


def test_two_symbols_trade_in_one_balance_with_their_own_positions() -> None:
    btc, eth = account()
    assert btc.submit(intent(), tick(50000), T0).accepted
    assert eth.submit(eth_intent(), eth_tick(3000), T0).accepted
    assert btc.position is not None and eth.position is not None
    assert btc.position.symbol == "BTCUSDT" and eth.position.symbol == "ETHUSDT"
    # Both entry fees left the one balance; each broker reads the same account.
    assert btc.balance == eth.balance == D(10000) - btc.fees_paid
    assert btc.fees_paid == eth.fees_paid > 0
    assert btc.margin_used == eth.margin_used == btc.position.margin + eth.position.margin
    # Equity marks every position at its own quote, whichever broker is asked.
    btc.on_tick(tick(50100, ts=T0 + 1000))
    eth.on_tick(eth_tick(3005, ts=T0 + 1000))
    assert btc.equity() == eth.equity() == btc.balance + btc.unrealized_pnl() + \
        eth.unrealized_pnl()
    assert btc.wallet.equity() == btc.equity()


def test_portfolio_limits_count_every_symbol() -> None:
    btc, eth = account(max_open_positions=1)
    assert btc.submit(intent(), tick(50000), T0).accepted
    refused = eth.submit(eth_intent(), eth_tick(3000), T0)
    assert not refused.accepted and refused.code == "max_open_positions"
    btc2, eth2 = account(max_total_notional=7000)
    assert btc2.submit(intent(), tick(50000), T0).accepted  # 0.1 x ~50,000 = ~5,000
    capped = eth2.submit(eth_intent(), eth_tick(3000), T0)  # + 3,000 > 7,000
    assert not capped.accepted and capped.code == "max_total_notional"


def test_the_daily_cap_watches_the_account_and_flattens_every_symbol() -> None:
    btc, eth = account(daily_loss_cap_pct="0.01")
    assert btc.submit(intent(stop=40000), tick(50000), T0).accepted
    assert eth.submit(eth_intent(stop=2000), eth_tick(3000), T0).accepted
    eth.on_tick(eth_tick(2960, ts=T0 + 1000))  # -40 USDT, under the 100 USDT cap
    assert btc.entries_paused_reason is None
    events = btc.on_tick(tick(49400, ts=T0 + 2000))  # -60 more: the account's loss > 100
    assert btc.entries_paused_reason is not None and eth.entries_paused_reason is not None
    assert btc.position is None and eth.position is None
    reasons = {getattr(e, "trade", None).exit_reason for e in events if hasattr(e, "trade")}
    assert reasons == {"daily_loss_cap"}


def test_a_restart_restores_every_symbol_and_the_ledger_holds(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal.sqlite3")
    btc, eth = account(journal)
    assert btc.submit(intent(), tick(50000), T0).accepted
    assert eth.submit(eth_intent(side=Side.LONG), eth_tick(3000), T0).accepted
    eth.on_tick(eth_tick(3021, ts=T0 + 5000))  # the target: a closed ETH trade
    assert eth.position is None and eth.last_exit_ms == T0 + 5000
    assert btc.last_exit_ms is None  # the cooldown counts per symbol
    balance = btc.balance
    journal.close()
    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        btc, eth = account(journal)
        assert btc.position is not None and eth.position is None
        assert btc.balance == eth.balance == balance
        assert eth.last_exit_ms == T0 + 5000 and btc.last_exit_ms is None
        check_ledger(journal, btc.balance)
    finally:
        journal.close()


def test_a_symbol_pause_is_kept_per_symbol_and_an_unreadable_one_stays_paused(
        tmp_path: Path) -> None:
    from laptop_agents.session.symbol_set import SymbolPauseStore

    journal = Journal(tmp_path / "journal.sqlite3")
    try:
        eth, btc = SymbolPauseStore(journal, "ETHUSDT"), SymbolPauseStore(journal, "BTCUSDT")
        eth.set_pause(True, "ETH only")
        assert eth.state() == (True, "ETH only") and btc.state() == (False, None)
        journal.set_pause(True, "everything")  # the one-symbol row, from before LA_SYMBOLS
        assert btc.state() == (True, "everything")  # no row of its own: the account's
        journal.set_meta("pause:BTCUSDT", "{not json")
        assert btc.state()[0] is True  # unreadable: paused until an operator looks
    finally:
        journal.close()
