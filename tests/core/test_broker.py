"""PaperBroker arithmetic (long and short), limit handling, trailing, gaps, risk limits."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Any

from laptop_agents.models import Side
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.models import (
    EntriesPaused,
    Fill,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    TradeClosed,
)
from laptop_agents.storage.journal import Journal
from tests.core.factories import INSTRUMENT, MIN, T0, D, candle, intent, settings, tick


def broker(**overrides: Any) -> PaperBroker:
    overrides.setdefault("slippage_bps", D(0))
    return PaperBroker(settings(**overrides), INSTRUMENT)


def only(events: list[Any], kind: type) -> list[Any]:
    return [e for e in events if isinstance(e, kind)]


# --- market orders, fees, PnL ----------------------------------------------------------------
def test_long_market_with_slippage_to_target() -> None:
    b = broker(slippage_bps=D(1))
    result = b.submit(intent(Side.LONG, entry=50000, stop=49900, target=50200),
                      tick("50000.0", "50000.1"), T0)
    assert result.accepted and result.code == "accepted"
    [fill] = result.fills
    # 50000.1 x 1.0001 = 50005.10001 -> rounded up to the tick: 50005.2
    assert fill.price == D("50005.2") and fill.liquidity == "taker"
    assert fill.slippage == D("5.2")  # vs the intended 50000
    assert fill.fee == D("3.000312")  # 50005.2 x 0.1 x 0.0006
    assert b.balance == D("9996.999688")
    assert b.position is not None and b.position.side is Side.LONG
    # unrealised at the bid: (50100 - 50005.2) x 0.1 = 9.48
    assert b.unrealized_pnl(tick(50100)) == D("9.48")
    assert b.equity(tick(50100)) == D("9996.999688") + D("9.48")

    events = b.on_tick(tick(50200, ts=T0 + 5000))
    [exit_fill] = only(events, Fill)
    [closed] = only(events, TradeClosed)
    # exit at the bid 50200 x 0.9999 = 50194.98 -> rounded down: 50194.9
    assert exit_fill.price == D("50194.9") and exit_fill.reason == "target"
    assert exit_fill.slippage == D("5.1")  # below the 50200 target
    assert exit_fill.fee == D("3.011694")
    assert closed.trade.gross_pnl == D("18.97")  # (50194.9 - 50005.2) x 0.1
    assert closed.trade.fees == D("6.012006")
    assert closed.trade.realized_pnl == D("12.957994")
    assert b.balance == D("10012.957994") == b.equity(None)
    assert b.position is None and b.last_exit_ms == T0 + 5000
    assert b.fees_paid == D("6.012006") and b.realized_pnl == D("18.97")
    assert b.trades()[0] == closed.trade


def test_short_stop_gap_fills_at_first_price_not_the_stop() -> None:
    b = broker()
    r = b.submit(intent(Side.SHORT, entry=50000, stop=50100, target=49800),
                 tick("50000.0", "50000.1"), T0)
    assert r.fills[0].price == D("50000.0") and r.fills[0].fee == D("3")
    assert b.unrealized_pnl(tick(49900, "49900.1")) == D("9.99")  # at the ask
    events = b.on_tick(tick(50290, 50300, ts=T0 + 1000))  # gaps 200 through the stop
    [fill] = only(events, Fill)
    assert fill.side == "buy" and fill.price == D(50300) and fill.reason == "stop"
    assert fill.intended_price == D(50100) and fill.slippage == D(200)
    [closed] = only(events, TradeClosed)
    assert closed.trade.gross_pnl == D(-30)
    assert closed.trade.fees == D("6.018")  # 3 + 50300 x 0.1 x 0.0006
    assert b.balance == D("9963.982")


def test_stop_and_target_use_the_executable_side() -> None:
    b = broker()
    b.submit(intent(Side.LONG, entry=50000, stop=49900, target=50200), tick(50000), T0)
    assert b.on_tick(tick("49899.9", 49900)) != []  # bid <= stop although ask == stop... exit
    b2 = broker()
    b2.submit(intent(Side.LONG, entry=50000, stop=49900, target=50200), tick(50000), T0)
    assert b2.on_tick(tick("49900.1", 49901)) == []  # bid above the stop: holds
    assert b2.on_tick(tick("50199.9", 50201)) == []  # ask beyond target, bid not: holds
    s = broker()
    s.submit(intent(Side.SHORT, entry=50000, stop=50100, target=49800), tick(50000), T0)
    assert s.on_tick(tick(49799, "49800.1")) == []  # bid through target, ask not: holds
    assert only(s.on_tick(tick(49799, 49800)), TradeClosed)[0].trade.exit_reason == "target"


# --- limit orders ----------------------------------------------------------------------------
def test_limit_rests_then_fills_maker_when_the_offer_crosses() -> None:
    b = broker()
    r = b.submit(intent(Side.LONG, "limit", entry="49900.04", stop=49800, target=50200),
                 tick(50000), T0)
    assert r.accepted and r.fills == [] and len(b.working_orders) == 1
    assert b.working_orders[0].price == D("49900.0")  # rounded down to the tick for a buy
    assert b.on_tick(tick(49950, "49950.1", ts=T0 + 1000)) == []
    [fill] = only(b.on_tick(tick("49899.9", "49900.0", ts=T0 + 2000)), Fill)
    assert fill.price == D("49900.0") and fill.liquidity == "maker"
    assert fill.fee == D("0.9980")  # 49900 x 0.1 x 0.0002
    assert b.working_orders == [] and b.position is not None


def test_marketable_limit_fills_at_the_touch_as_taker() -> None:
    b = broker()
    r = b.submit(intent(Side.SHORT, "limit", entry=49950, stop=50100, target=49700),
                 tick(50000), T0)
    [fill] = r.fills
    assert fill.price == D(50000) and fill.liquidity == "taker" and fill.slippage == D(-50)


def test_limit_expires_after_configured_candles_with_fresh_quotes() -> None:
    b = broker(limit_expiry_candles=3)
    b.submit(intent(Side.LONG, "limit", entry=49500, stop=49400, target=49800), tick(50000), T0)
    for i in range(2):
        b.on_tick(tick(50000, ts=T0 + (i + 1) * MIN - 500))
        assert b.on_candle(candle(i, 50000, 50010, 48000, 50000)) == []  # quote fresh: no range
    b.on_tick(tick(50000, ts=T0 + 3 * MIN - 500))
    [expired] = b.on_candle(candle(2, 50000, 50010, 49990, 50000))
    assert isinstance(expired, OrderExpired) and expired.ts == T0 + 3 * MIN
    assert b.working_orders == []


def test_limit_fills_on_candle_range_without_fresh_quote() -> None:
    b = broker()
    b.submit(intent(Side.SHORT, "limit", entry=50100, stop=50300, target=49700), tick(50000), T0)
    # no tick since submission: the candle's range decides
    assert b.on_candle(candle(0, 50000, 50099, 49990, 50050)) == []
    events = b.on_candle(candle(1, 50050, 50120, 50000, 50080))
    [fill] = only(events, Fill)
    assert fill.price == D(50100) and fill.liquidity == "maker" and fill.ts == T0 + 2 * MIN
    assert b.position is not None and b.position.opened_ms == T0 + 2 * MIN
    # the next stale candle gaps through the stop: fills at its open
    events = b.on_candle(candle(2, 50400, 50450, 50380, 50420))
    [closed] = only(events, TradeClosed)
    assert closed.trade.exit_price == D(50400) and closed.trade.exit_reason == "stop"


def test_cancel_working_orders() -> None:
    b = broker()
    b.submit(intent(Side.LONG, "limit", entry=49500, stop=49400, target=49800), tick(50000), T0)
    [ev] = b.cancel_working_orders("manual")
    assert isinstance(ev, OrderCanceled) and ev.reason == "manual"
    assert b.working_orders == []


# --- trailing stop ---------------------------------------------------------------------------
def test_trailing_stop_long() -> None:
    b = broker(trailing_stop_atr=D(2))
    b.submit(intent(Side.LONG, entry=50000, stop=49000, target=52000, atr=50), tick(50000), T0)
    b.on_tick(tick(50100))
    assert b.position is not None and b.position.trailing_stop == D(50000)  # 50100 - 2 x 50
    b.on_tick(tick(50300))
    assert b.position.trailing_stop == D(50200)
    b.on_tick(tick(50250))
    assert b.position.trailing_stop == D(50200)  # only ratchets
    assert b.position_view() is not None and b.position_view().stop == D(50200)  # type: ignore[union-attr]
    [closed] = only(b.on_tick(tick(50190)), TradeClosed)
    assert closed.trade.exit_reason == "trailing_stop" and closed.trade.exit_price == D(50190)
    assert closed.trade.gross_pnl == D("18.99")  # entry at the ask 50000.1


def test_trailing_stop_short() -> None:
    b = broker(trailing_stop_atr=D(1))
    b.submit(intent(Side.SHORT, entry=50000, stop=51000, target=48000, atr=100),
             tick(50000, 50000), T0)
    b.on_tick(tick(49700, 49700))
    assert b.position is not None and b.position.trailing_stop == D(49800)
    [closed] = only(b.on_tick(tick(49810, "49810.1")), TradeClosed)
    assert closed.trade.exit_reason == "trailing_stop"
    assert closed.trade.exit_price == D("49810.1")


def test_flatten_closes_at_market() -> None:
    b = broker()
    b.submit(intent(Side.LONG, entry=50000), tick(50000), T0)
    events = b.flatten(tick(50050, ts=T0 + 10), "manual flatten")
    [closed] = only(events, TradeClosed)
    assert closed.trade.exit_reason == "manual flatten" and b.position is None


# --- risk limits: every rejection reason -----------------------------------------------------
def rejected(b: PaperBroker, code: str, **kw: Any) -> str:
    t = kw.pop("tick", tick(50000))
    now = kw.pop("now", T0)
    r = b.submit(intent(**kw), t, now)
    assert not r.accepted and r.code == code, r.reason
    [ev] = only(r.events, OrderRejected)
    assert ev.code == code and ev.reason == r.reason
    return r.reason


def test_rejections_each_have_a_reason() -> None:
    assert "max_position_qty" in rejected(broker(), "max_position_qty", qty=2)
    assert "max_notional" in rejected(broker(max_notional=D(40000)), "max_notional", qty="0.9")
    assert "equity" in rejected(broker(max_position_qty=D(5), max_notional=D(10**6)),
                                "max_leverage", qty="1.1")
    assert "min_notional" in rejected(broker(min_notional=D(10)), "min_notional", qty="0.0001")
    assert "lot step" in rejected(broker(), "lot_step", qty="0.00015")
    assert "not ordered" in rejected(broker(), "invalid", stop=50100)
    assert "quote" in rejected(broker(), "no_quote", tick=None)
    b = broker()
    b.submit(intent(), tick(50000), T0)
    assert "already open" in rejected(b, "position_open", now=T0 + 1)
    b = broker()
    b.submit(intent(order_type="limit", entry=49500, stop=49400, target=49900), tick(50000), T0)
    assert "working" in rejected(b, "order_working", now=T0 + 1)


def test_caps_are_checked_at_the_fill_price() -> None:
    # a sell limit at 49000 is marketable at the bid 50000: it would fill there, so the
    # notional cap is checked at 50000 x 1 (> 49500), not at the limit 49000 x 1
    b = broker(max_notional=D(49500))
    assert "50000.00 exceeds max_notional" in rejected(
        b, "max_notional", side=Side.SHORT, order_type="limit", qty=1, entry=49000,
        stop=49500, target=48000)
    # a market buy fills at the ask plus slippage: 0.99 x 50005.2 = 49505.15 > 49502, while
    # without slippage 0.99 x 50000.1 = 49500.10 fits
    b = broker(max_notional=D(49502), slippage_bps=D(1))
    assert "49505.15 exceeds max_notional" in rejected(b, "max_notional", qty="0.99")
    assert broker(max_notional=D(49502)).submit(intent(qty="0.99"), tick(50000), T0).accepted


def test_orders_per_minute() -> None:
    b = broker(max_orders_per_minute=2)
    for i in range(2):
        r = b.submit(intent(order_type="limit", entry=49500, stop=49400, target=49900),
                     tick(50000), T0 + i)
        assert r.accepted
        b.cancel_working_orders("test")
    assert "last minute" in rejected(b, "rate_limit", now=T0 + 30_000)
    # a minute after the first order, one slot is free again
    r = b.submit(intent(order_type="limit", entry=49500, stop=49400, target=49900),
                 tick(50000), T0 + MIN + 1)
    assert r.accepted


def test_duplicate_client_order_id_is_not_placed_twice() -> None:
    b = broker()
    first = b.submit(intent(), tick(50000), T0)
    b.flatten(tick(50000), "x")
    again = b.submit(intent(), tick(50000), T0)
    assert first.order_id == again.order_id and again.code == "duplicate" and again.fills == []
    assert b.position is None


# --- daily loss cap --------------------------------------------------------------------------
def test_daily_loss_cap_closes_pauses_and_resets_next_day(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    b = PaperBroker(settings(slippage_bps=D(0), daily_loss_cap_pct=D("0.03"), leverage=D(10)),
                    INSTRUMENT, journal)
    r = b.submit(intent(Side.LONG, qty=1, entry=50000, stop=49000, target=52000),
                 tick(50000, 50000), T0 + 1000)
    assert r.accepted, r.reason
    assert b.day_start_equity == D(10000)
    # loss 250 + 30 entry fee = 280 < 300: holds
    assert b.on_tick(tick(49750, ts=T0 + 2000)) == []
    events = b.on_tick(tick(49700, ts=T0 + 3000))  # 300 + 30 >= 300
    [closed] = only(events, TradeClosed)
    assert closed.trade.exit_reason == "daily_loss_cap"
    [paused] = only(events, EntriesPaused)
    assert b.entries_paused_reason == paused.reason and "daily loss cap" in paused.reason
    assert b.realized_pnl_today == D(-300) - D(30) - D("29.82")
    assert "entries paused" in rejected(b, "entries_paused", now=T0 + 4000)
    # the pause survives a restart ...
    journal.close()
    journal = Journal(tmp_path / "j.sqlite")
    b = PaperBroker(settings(slippage_bps=D(0)), INSTRUMENT, journal)
    assert b.entries_paused_reason == paused.reason
    # ... and lifts on the next UTC day
    next_day = T0 + 86_400_000
    assert b.on_tick(tick(49700, ts=next_day)) == []
    assert b.entries_paused_reason is None and b.realized_pnl_today == 0
    assert b.submit(intent(), tick(49700, ts=next_day), next_day).accepted
    journal.close()


def test_event_to_dict_is_json_ready() -> None:
    import json

    b = broker()
    r = b.submit(intent(), tick(50000), T0)
    events = b.flatten(tick(50100), "manual")
    for event in [*r.events, *events]:
        text = json.dumps(event.to_dict())
        assert '"type"' in text
    assert json.loads(json.dumps(events[-1].to_dict()))["realized_pnl"] == str(
        only(events, TradeClosed)[0].trade.realized_pnl)
    assert isinstance(Decimal(r.fills[0].to_dict()["price"]), Decimal)


def test_stop_and_target_are_put_on_the_tick_grid() -> None:
    b = broker()
    b.submit(intent(Side.LONG, entry=50000, stop="49900.06", target="50200.09"), tick(50000), T0)
    assert b.position is not None
    assert (b.position.stop, b.position.target) == (D("49900.0"), D("50200.0"))
    s = broker()
    s.submit(intent(Side.SHORT, entry=50000, stop="50100.01", target="49800.01"), tick(50000),
             T0)
    assert s.position is not None
    assert (s.position.stop, s.position.target) == (D("50100.1"), D("49800.1"))


def test_quote_freshness_scales_with_the_clock_speed() -> None:
    def place(speed: float) -> PaperBroker:
        b = PaperBroker(settings(slippage_bps=D(0)), INSTRUMENT, clock_speed=speed)
        b.submit(intent(Side.LONG, "limit", entry=49900, stop=49800, target=50200),
                 tick(50000), T0)
        b.on_tick(tick(50000, ts=T0 + 40_000))  # 20 s before the candle closes
        return b

    # real time: a quote 20 s old is stale (stale_after 5 s) -> the range fills the limit
    assert only(place(1.0).on_candle(candle(0, 50000, 50010, 49890, 50000)), Fill)
    # simulator at 20x: 20 exchange-seconds are 1 wall second -> fresh, the range is ignored
    assert place(20.0).on_candle(candle(0, 50000, 50010, 49890, 50000)) == []


def test_a_tick_dated_days_back_never_rolls_the_risk_day_back(tmp_path: Path) -> None:
    """One tick stamped two days earlier must not bring back that day's budget: before the
    fix it rolled the day backwards and lifted the daily loss cap the same day."""
    journal = Journal(tmp_path / "j.sqlite")
    b = PaperBroker(settings(slippage_bps=D(0), daily_loss_cap_pct=D("0.03"), leverage=D(10)),
                    INSTRUMENT, journal)
    day = T0 + 5 * 86_400_000
    assert b.submit(intent(Side.LONG, qty=1, entry=50000, stop=49000, target=52000),
                    tick(50000, 50000, ts=day + 1000), day + 1000).accepted
    b.on_tick(tick(49700, ts=day + 3000))  # the cap: closed and paused
    assert b.entries_paused_reason is not None
    old = day - 2 * 86_400_000
    assert b.on_tick(tick(49700, ts=old)) == []
    assert b.entries_paused_reason is not None  # still paused: the day did not move back
    assert not b.submit(intent(), tick(49700, ts=day + 9000), day + 9000).accepted
    # ... and after a restart the journaled day still only moves forward
    journal.close()
    journal = Journal(tmp_path / "j.sqlite")
    b = PaperBroker(settings(slippage_bps=D(0)), INSTRUMENT, journal)
    b.on_tick(tick(49700, ts=old))
    assert b.entries_paused_reason is not None
    journal.close()
