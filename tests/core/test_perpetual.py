"""The perpetual-futures account with constructed prices: funding, isolated margin,
liquidation on mark, trigger prices, maker/taker, priceProtectScope, and the ledger invariant
checked after every journal transaction (docs/paper-trading.md has the worked example used
here: a 0.1 BTC long at 50,000 with 5x leverage)."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from laptop_agents.models import FundingSettlement, MarkPrice, Side
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.invariant import LedgerInvariantError, check_ledger
from laptop_agents.paper.models import Fill, FundingSettled, TradeClosed
from laptop_agents.storage.journal import Journal
from laptop_agents.strategy.sizing import Costs, position_size
from tests.core.factories import INSTRUMENT, MIN, T0, D, candle, intent, settings, tick

HOUR = 3_600_000


def journaled(tmp_path: Path, **overrides: Any) -> tuple[Journal, PaperBroker]:
    overrides.setdefault("slippage_bps", D(0))
    overrides.setdefault("daily_loss_cap_pct", D(1))  # these tests lose on purpose
    journal = Journal(tmp_path / "journal.sqlite3")
    return journal, PaperBroker(settings(**overrides), INSTRUMENT, journal)


def mark(price: Any, ts: int, rate: Any = 0) -> MarkPrice:
    p = D(str(price))
    return MarkPrice("BTCUSDT", p, p, D(str(rate)), None, None, ts)


def open_long(b: PaperBroker, qty: str = "0.1", stop: int = 45000) -> None:
    r = b.submit(intent(Side.LONG, qty=qty, entry=50000, stop=stop, target=60000),
                 tick("49999.9", "50000"), T0)
    assert r.accepted, r.reason


def of(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


def test_margin_and_liquidation_price_of_the_worked_example(tmp_path: Path) -> None:
    journal, b = journaled(tmp_path)
    open_long(b)
    p = b.position
    assert p is not None and p.margin == D(1000) and p.leverage == D(5)  # 5000 / 5
    # 50000 - (1000 - 25) / 0.1, MM = 5000 x 0.5 %
    assert b.liquidation_price() == D("40250.0")
    assert b.margin_used == D(1000) and b.available == D(10000) - D(3) - D(1000)
    check_ledger(journal, b.balance)


def test_funding_over_settlements_with_the_rate_changing_sign(tmp_path: Path) -> None:
    journal, b = journaled(tmp_path)
    open_long(b)
    balance = b.balance
    paid = D(0)
    for i, (rate, price, expected) in enumerate([
        ("0.0001", 50000, D("0.5")),      # long pays a positive rate: 0.1 x 50000 x 0.0001
        ("-0.0002", 51000, D("-1.02")),   # and receives a negative one
        ("0.0003", 49000, D("1.47")),
    ]):
        s = FundingSettlement("BTCUSDT", T0 + (i + 1) * 8 * HOUR + 123, D(rate), D(price))
        [event] = b.apply_funding(s)
        assert isinstance(event, FundingSettled) and event.amount == expected
        assert b.apply_funding(s) == []  # exactly once
        paid += expected
        check_ledger(journal, b.balance)
    assert b.funding_paid == paid == D("0.95")
    assert b.balance == balance - paid
    p = b.position
    assert p is not None and p.funding == paid and p.margin == D(1000) - paid
    # the liquidation price follows the margin: 50000 - (999.05 - 25) / 0.1 = 40259.5
    assert b.liquidation_price() == D("40259.5")
    [closed] = of(b.on_tick(tick(60000, ts=T0 + 30 * HOUR)), TradeClosed)
    assert closed.trade.funding == paid
    assert closed.trade.realized_pnl == closed.trade.gross_pnl - closed.trade.fees - paid
    check_ledger(journal, b.balance)


def test_a_short_receives_a_positive_rate_and_nothing_before_it_opened(tmp_path: Path) -> None:
    journal, b = journaled(tmp_path)
    assert b.apply_funding(FundingSettlement("BTCUSDT", T0 - 1, D("0.001"), D(50000))) == []
    r = b.submit(intent(Side.SHORT, entry=50000, stop=55000, target=40000), tick(50000), T0)
    assert r.accepted
    assert b.apply_funding(FundingSettlement("BTCUSDT", T0 - 1, D("0.001"), D(50000))) == []
    [event] = b.apply_funding(FundingSettlement("BTCUSDT", T0 + HOUR, D("0.001"), D(50000)))
    assert event.amount == D(-5)  # received
    check_ledger(journal, b.balance)


def test_a_settlement_reported_after_the_close_is_charged_to_that_trade(tmp_path: Path) -> None:
    journal, b = journaled(tmp_path)
    open_long(b)
    b.on_tick(tick(60000, ts=T0 + 2 * HOUR))  # target: closed
    [event] = b.apply_funding(FundingSettlement("BTCUSDT", T0 + HOUR, D("0.0001"), D(50000)))
    assert event.amount == D("0.5")
    [trade] = journal.trades()
    assert trade.funding == D("0.5")
    assert trade.realized_pnl == trade.gross_pnl - trade.fees - D("0.5")
    check_ledger(journal, b.balance)


def test_restart_across_a_settlement_applies_it_once(tmp_path: Path) -> None:
    journal, b = journaled(tmp_path)
    open_long(b)
    live = FundingSettlement("BTCUSDT", T0 + 8 * HOUR, D("0.0001"), D(50000))
    assert b.apply_funding(live)
    journal.close()
    # restarted: the history endpoint offers the same settlement and the one missed while down
    journal, b = journaled(tmp_path)
    assert b.last_funding_ms() == live.ts
    missed = FundingSettlement("BTCUSDT", T0 + 16 * HOUR, D("0.0002"), D(50000))
    events = [e for s in (live, missed) for e in b.apply_funding(s)]
    assert [e.ts for e in events] == [missed.ts]
    assert b.funding_paid == D("0.5") + D(1)
    check_ledger(journal, b.balance)


def test_last_price_through_the_liquidation_price_does_not_liquidate_while_mark_holds(
        tmp_path: Path) -> None:
    journal, b = journaled(tmp_path, stale_after=60)
    open_long(b, stop=30000)
    b.on_mark(mark(50000, T0 + 1000))
    assert b.on_tick(tick(40200, ts=T0 + 2000)) == []  # bid below 40250, mark still fresh
    assert b.position is not None
    check_ledger(journal, b.balance)


def test_mark_through_the_liquidation_price_liquidates_at_the_bankruptcy_price(
        tmp_path: Path) -> None:
    journal, b = journaled(tmp_path, stale_after=60)
    open_long(b, stop=30000)
    b.on_tick(tick(49000, ts=T0 + 1000))
    assert b.on_mark(mark("40250.1", T0 + 2000)) == []
    events = b.on_mark(mark(40250, T0 + 3000))  # quotes elsewhere: the mark decides
    [fill] = of(events, Fill)
    assert fill.reason == "liquidation" and fill.price == D(40000) and fill.fee == 0
    assert fill.liquidation_fee == D("2.4")  # 0.1 x 40000 x 0.06 %
    [closed] = of(events, TradeClosed)
    assert closed.trade.gross_pnl == D(-1000)  # exactly the margin
    assert b.balance == D(10000) - 3 - 1000 - D("2.4")
    assert b.liquidation_fees == D("2.4")
    check_ledger(journal, b.balance)


def test_a_gap_through_the_liquidation_price_during_an_outage(tmp_path: Path) -> None:
    """No quote and no mark for minutes; the first mark after the outage is far beyond the
    liquidation price: the loss is the margin, never more, and the account stays positive."""
    journal, b = journaled(tmp_path, leverage=D(100), stale_after=5, max_position_qty=D(10),
                           max_notional=D(10**6), max_leverage=D(100))
    open_long(b, qty="1.9", stop=30000)  # notional 95000, margin 950
    assert b.position is not None and b.position.margin == D(950)
    events = b.on_mark(mark(20000, T0 + 10 * MIN))
    [closed] = of(events, TradeClosed)
    assert closed.trade.exit_reason == "liquidation" and closed.trade.gross_pnl == D(-950)
    assert b.balance >= 0
    check_ledger(journal, b.balance)


def test_a_stale_candle_range_through_the_liquidation_price_liquidates(tmp_path: Path) -> None:
    journal, b = journaled(tmp_path)
    open_long(b, stop=30000)
    events = b.on_candle(candle(30, 45000, 45100, 40000, 45000))
    assert [t.trade.exit_reason for t in of(events, TradeClosed)] == ["liquidation"]
    check_ledger(journal, b.balance)


def test_a_stop_fill_beyond_the_bankruptcy_price_settles_as_a_liquidation(
        tmp_path: Path) -> None:
    journal, b = journaled(tmp_path, leverage=D(50), stale_after=60)
    r = b.submit(intent(Side.LONG, entry=50000, stop=49500, target=51000), tick(49999.9, 50000),
                 T0)
    assert r.accepted
    b.on_mark(mark(50000, T0 + 1))  # a fresh mark: the quote's mid is not the liquidation test
    events = b.on_tick(tick(48000, ts=T0 + 2))  # bankruptcy at 49000: the stop fill is beyond
    [closed] = of(events, TradeClosed)
    assert closed.trade.exit_reason == "liquidation" and closed.trade.exit_price == D(49000)
    check_ledger(journal, b.balance)


def test_trigger_on_mark_ignores_the_quote_and_fills_at_the_bid(tmp_path: Path) -> None:
    journal, b = journaled(tmp_path, trigger_price="mark", stale_after=60)
    open_long(b)  # stop 45000
    b.on_mark(mark(50000, T0 + 1))
    assert b.on_tick(tick(44000, ts=T0 + 2)) == []  # last through the stop: mark rules
    b.on_tick(tick(46000, ts=T0 + 3))
    events = b.on_mark(mark(45000, T0 + 4))
    [fill] = of(events, Fill)
    assert fill.reason == "stop" and fill.price == D(46000)  # the executable bid
    check_ledger(journal, b.balance)


def test_maker_when_resting_taker_when_crossing(tmp_path: Path) -> None:
    journal, b = journaled(tmp_path)
    rests = b.submit(intent(Side.LONG, "limit", entry=49500, stop=49000, target=50500),
                     tick(50000), T0)
    assert rests.fills == []
    [fill] = of(b.on_tick(tick(49400, "49499", ts=T0 + 1000)), Fill)
    assert fill.liquidity == "maker" and fill.fee == D("49500") * D("0.1") * D("0.0002")
    b.flatten(tick(49500, ts=T0 + 2000), "test")
    crosses = b.submit(intent(Side.LONG, "limit", entry=50100, stop=49000, target=51000),
                       tick(50000), T0 + 3000)
    assert crosses.fills[0].liquidity == "taker"
    assert crosses.fills[0].fee == D("50000.1") * D("0.1") * D("0.0006")
    check_ledger(journal, b.balance)


def test_limits_beyond_price_protect_scope_and_entries_without_margin_are_rejected(
        tmp_path: Path) -> None:
    _, b = journaled(tmp_path)
    b.on_mark(mark(50000, T0))
    far = b.submit(intent(Side.LONG, "limit", entry=48900, stop=48000, target=50000),
                   tick(50000), T0)
    assert far.code == "price_protect" and "2.00% from the mark 50000" in far.reason
    big = b.submit(intent(Side.LONG, qty="0.9999", entry=50000, stop=49000, target=52000),
                   tick(50000), T0)  # margin 9999 + fee 30 > 10000
    assert big.code == "insufficient_margin" and "available balance 10000.00" in big.reason


def test_the_checker_catches_a_ledger_that_does_not_add_up(tmp_path: Path) -> None:
    journal, b = journaled(tmp_path)
    open_long(b)
    with pytest.raises(LedgerInvariantError, match="balance"):
        check_ledger(journal, b.balance + D("0.00000001"))
    journal._conn.execute("UPDATE account SET fees_total = '2.99999999'")
    with pytest.raises(LedgerInvariantError, match="sums"):
        check_ledger(journal)


@pytest.mark.parametrize(("side", "order_type", "entry", "stop"), [
    (Side.LONG, "market", D(50000), D(49800)),
    (Side.SHORT, "market", D(50000), D("50237.5")),
    (Side.LONG, "limit", D(49950), D(49700)),
    (Side.SHORT, "limit", D(50050), D(50350)),
])
def test_a_stop_out_at_the_stop_loses_the_stated_risk(
        tmp_path: Path, side: Side, order_type: str, entry: Decimal, stop: Decimal) -> None:
    """Sizing counts both fees and the slippage: stopped out exactly at the stop, the account
    loses risk_pct of its equity to within one tick of the position."""
    s = settings(slippage_bps=D(2), risk_pct=D("0.01"))
    journal = Journal(tmp_path / "journal.sqlite3")
    b = PaperBroker(s, INSTRUMENT, journal)
    market = order_type == "market"
    size = position_size(
        equity=b.equity(None), risk_pct=s.risk_pct, entry=entry, stop=stop, instrument=INSTRUMENT,
        max_notional=s.max_notional, max_leverage=s.max_leverage, min_notional=s.min_notional,
        costs=Costs(entry_fee=s.taker_fee if market else s.maker_fee, exit_fee=s.taker_fee,
                    slippage_bps=s.slippage_bps, market_entry=market, leverage=s.leverage))
    assert size.ok and size.capped_by is None, size.reason
    long = side is Side.LONG
    # the quote at the entry: the ask for a long market entry, the bid for a short one
    at_entry = tick(entry - D("0.1"), entry) if long else tick(entry, entry + D("0.1"))
    away = tick(entry + 50, ts=T0) if long else tick(entry - 50, ts=T0)
    r = b.submit(intent(side, order_type, qty=size.qty, entry=entry, stop=stop,
                        target=entry + (500 if long else -500)), at_entry if market else away, T0)
    assert r.accepted, r.reason
    if not market:
        b.on_tick(tick(entry - 1, entry, ts=T0 + 1) if long else tick(entry, entry + 1, ts=T0 + 1))
    assert b.position is not None
    at_stop = tick(stop, stop + D("0.1"), ts=T0 + 2) if long else tick(stop - D("0.1"), stop,
                                                                        ts=T0 + 2)
    [closed] = of(b.on_tick(at_stop), TradeClosed)
    assert closed.trade.exit_reason == "stop"
    loss = D(10000) - b.balance
    stated = D(10000) * s.risk_pct
    assert abs(loss - stated) <= size.qty * INSTRUMENT.tick_size, (loss, stated)
    check_ledger(journal, b.balance)


def test_a_schema_1_journal_is_migrated_and_its_position_gets_a_margin(tmp_path: Path) -> None:
    """A journal written before the perpetual account (schema 1): the position it holds gets
    its isolated margin at today's leverage, and the invariant holds."""
    import sqlite3

    from laptop_agents.storage.schema import MIGRATIONS, SCHEMA_VERSION

    path = tmp_path / "journal.sqlite3"
    conn = sqlite3.connect(path)
    conn.executescript(MIGRATIONS[0])
    conn.executescript(
        "PRAGMA user_version = 1;"
        "INSERT INTO account (id, starting_equity, realized_total, fees_total)"
        " VALUES (1, '10000', '0', '3');"
        "INSERT INTO fills (fill_id, order_id, symbol, side, kind, qty, price, intended_price,"
        " slippage, fee, liquidity, realized_pnl, reason, ts) VALUES ('o:entry', 'o', 'BTCUSDT',"
        " 'buy', 'entry', '0.1', '50000', '50000', '0', '3', 'taker', '0', 'x', 1);"
        "INSERT INTO positions (symbol, side, qty, entry_price, stop, target, trailing_stop,"
        " opened_ms, entry_order_id, entry_fee, atr, setup) VALUES ('BTCUSDT', 'long', '0.1',"
        " '50000', '45000', '60000', NULL, 1, 'o', '3', '10', 'x');")
    conn.close()
    journal, b = journaled(tmp_path)
    assert journal.schema_version == SCHEMA_VERSION
    assert b.position is not None and b.position.margin == D(1000)
    assert journal.load_position("BTCUSDT") == b.position  # written back
    check_ledger(journal, b.balance)
