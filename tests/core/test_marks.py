"""The unrealised PnL's memos (paper/marks.py): the account's equity over several symbols is
summed again only after a position, a tick or a candle close changed, and always equals the
plain sum of every symbol's mark."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.ledger import Ledger
from tests.core.factories import T0, intent, tick
from tests.core.test_portfolio import account, eth_intent, eth_tick

D = Decimal


def plain_sum(*brokers: PaperBroker) -> Decimal:
    """Every symbol's mark computed afresh (no memo): what the memos must agree with."""
    total = D(0)
    for broker in brokers:
        ledger = broker._ledger
        price = ledger._exit_price_now(None)
        if ledger.position is not None and price is not None:
            total += ledger.position.unrealized_pnl(price)
    return total


def test_equity_follows_every_change_of_a_position_tick_or_close() -> None:
    btc, eth = account()
    assert btc.equity() == eth.equity() == D(10000)
    assert btc.submit(intent(), tick(50000), T0).accepted
    assert eth.submit(eth_intent(), eth_tick(3000), T0).accepted
    steps: list[Callable[[], object]] = [lambda: btc.on_tick(tick(50100, ts=T0 + 1000)),
             lambda: eth.on_tick(eth_tick(3007, ts=T0 + 1000)),
             lambda: eth.on_tick(eth_tick(2995, ts=T0 + 2000)),
             lambda: btc.on_tick(tick(49950, ts=T0 + 3000))]
    for step in steps:
        step()
        expected = btc.balance + plain_sum(btc, eth)
        assert btc.equity() == eth.equity() == btc.wallet.equity() == expected
        assert btc.wallet.unrealized_besides(btc._ledger) == plain_sum(eth)
    btc._ledger.last_tick = None  # no quote: the last candle close marks it
    btc._ledger.last_close = D("49000")
    assert btc.unrealized_pnl() == plain_sum(btc) < 0
    assert btc.equity() == btc.balance + plain_sum(btc, eth)
    btc._ledger.position = None
    assert btc.unrealized_pnl() == 0 and btc.equity() == btc.balance + plain_sum(eth)


def test_the_total_is_not_summed_again_until_something_changes(
        monkeypatch: pytest.MonkeyPatch) -> None:
    btc, eth = account()
    assert btc.submit(intent(), tick(50000), T0).accepted
    assert eth.submit(eth_intent(), eth_tick(3000), T0).accepted
    first = btc.equity()
    calls: list[str] = []
    original = Ledger._exit_price_now

    def counted(self: Ledger, t: object) -> Decimal | None:
        calls.append(self.symbol)
        return original(self, t)  # type: ignore[arg-type]

    monkeypatch.setattr(Ledger, "_exit_price_now", counted)
    for _ in range(5):
        assert btc.equity() == eth.equity() == btc.wallet.equity() == first
    assert calls == []  # nothing changed: every answer is a memo
    eth._ledger.last_tick = eth_tick(3010, ts=T0 + 1000)
    assert btc.equity() > first
    assert calls == ["ETHUSDT"]  # only the symbol that moved is marked again
    calls.clear()
    # A tick passed in (not the stored one) is marked without touching the memo.
    probe = tick(51000, ts=T0 + 2000)
    assert btc.unrealized_pnl(probe) > btc.unrealized_pnl()
    assert calls == ["BTCUSDT"]
