"""The price guard in the running engine: crafted best bid/offer frames, sent over the real
socket by the simulator, never move money; real moves still do."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from laptop_agents.models import Side
from laptop_agents.session.gate import PauseReason
from laptop_agents.strategy.base import OrderIntent
from tests.session.helpers import QTY, AlwaysEnter
from tests.session.test_engine_sim import running
from tests.support.waiting import wait_until

D = Decimal


def inject_bbo(sim: Any, bid: str, ask: str) -> int:
    """Send one crafted depth_book1 frame to every public connection (past any stall)."""
    frame = {"ch": "depth_book1", "symbol": "BTCUSDT", "ts": sim.clock.now_ms(),
             "data": {"b": [[bid, "1.0"]], "a": [[ask, "1.0"]]}}
    return sum(conn.send(frame, force=True) for conn in sim.connections if not conn.private)


def open_long(runner: Any, sim: Any, stop_pct: str = "0.02") -> None:
    tick = runner.engine.last_tick
    assert tick is not None
    stop = (tick.bid * (1 - D(stop_pct))).quantize(D("0.1"))
    target = (tick.ask * (1 + D(stop_pct))).quantize(D("0.1"))
    intent = OrderIntent(side=Side.LONG, order_type="market", qty=QTY, entry=tick.ask,
                         stop=stop, target=target, setup="test", reason="guard test",
                         atr=D("10"))
    assert runner.broker.submit(intent, tick, sim.clock.now_ms()).accepted
    assert runner.broker.position is not None


async def rejected(runner: Any, n: int) -> None:
    await wait_until(lambda: sum(runner.engine.guard.stats.rejected.values()) >= n, 5,
                     f"{n} quarantined quote(s)")


async def test_one_crafted_frame_neither_stops_out_nor_takes_profit(
        sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter()
    strategy.armed.clear()
    async with running(sim, tmp_path, strategy) as runner:
        await wait_until(runner.gate.entries_allowed, 10, "gate open")
        open_long(runner, sim)
        equity = runner.broker.equity(runner.engine.last_tick)
        assert inject_bbo(sim, "1", "1.1") >= 1  # far below the stop
        await rejected(runner, 1)
        assert inject_bbo(sim, "99999999", "100000000") >= 1  # far above the target
        await rejected(runner, 2)
        await asyncio.sleep(0.3)  # real ticks flow on meanwhile
        assert runner.broker.position is not None
        assert runner.journal.trades(10, None) == []
        assert abs(runner.broker.equity(runner.engine.last_tick) - equity) < equity * D("0.01")
        assert runner.engine.guard.stats.rejected == {"outside_band": 2}
        assert runner.controller.status().data_health.quotes_rejected == {"outside_band": 2}
        metrics = runner.metrics.render().decode()
        assert 'la_quotes_rejected_total{reason="outside_band",symbol="BTCUSDT"} 2.0' in metrics


async def test_a_crafted_frame_does_not_fill_a_resting_limit(sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter()
    strategy.armed.clear()
    async with running(sim, tmp_path, strategy) as runner:
        await wait_until(runner.gate.entries_allowed, 10, "gate open")
        tick = runner.engine.last_tick
        assert tick is not None
        price = (tick.bid * D("0.99")).quantize(D("0.1"))
        intent = OrderIntent(side=Side.LONG, order_type="limit", qty=QTY, entry=price,
                             stop=price - 200, target=price + 400, setup="test",
                             reason="resting", atr=D("10"))
        assert runner.broker.submit(intent, tick, sim.clock.now_ms()).reason == (
            "limit order working")
        assert inject_bbo(sim, "1", "1.1") >= 1
        await rejected(runner, 1)
        assert runner.broker.position is None
        assert len(runner.broker.working_orders) == 1


async def test_quarantine_pauses_entries_and_exits_wait_for_a_real_crossing(
        sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter()
    strategy.armed.clear()
    async with running(sim, tmp_path, strategy, stale_after=1.0, ws_silence_timeout=30.0,
                       ws_ping_interval=10.0, ws_pong_timeout=10.0) as runner:
        await wait_until(runner.gate.entries_allowed, 10, "gate open")
        open_long(runner, sim)
        position = runner.broker.position
        assert position is not None and position.stop is not None
        sim.stall()  # only crafted frames from now on
        loop = asyncio.get_running_loop()
        until = loop.time() + 1.6
        while loop.time() < until:  # the stop "crossed", over and over, for > stale_after
            inject_bbo(sim, "1", "1.1")
            await asyncio.sleep(0.05)
        assert PauseReason.PRICE_SUSPECT in runner.gate.reasons()
        assert runner.broker.position is not None  # never exited at a quarantined price
        # The real market now falls through the stop: the exit fills there, not at 0.9.
        stop = position.stop
        sim.unstall()
        sim.script_price(stop - 30, pushes=20)
        await wait_until(lambda: runner.broker.position is None, 10, "exit at a real price")
        trade = runner.journal.trades(1, None)[0]
        assert trade.exit_reason == "stop"
        assert stop - 200 < trade.exit_price <= stop
        await wait_until(lambda: PauseReason.PRICE_SUSPECT not in runner.gate.reasons(), 5,
                         "suspect cleared")


async def test_an_item_whose_handling_raises_is_counted_and_market_data_goes_on(
        sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter()
    strategy.armed.clear()
    async with running(sim, tmp_path, strategy) as runner:
        await wait_until(runner.gate.entries_allowed, 10, "gate open")
        real_on_tick = runner.broker.on_tick
        calls = [0]

        def on_tick_failing_once(tick: Any) -> Any:
            calls[0] += 1
            if calls[0] == 1:
                raise ArithmeticError("a bug met by one tick")
            return real_on_tick(tick)

        runner.broker.on_tick = on_tick_failing_once  # type: ignore[method-assign]
        await wait_until(lambda: calls[0] >= 5, 5, "ticks after the failing one")
        assert runner.controller.status().data_health.frame_errors == 1
        assert runner.controller.status().tasks["market_data"].state == "running"


async def test_candles_built_from_pushes_never_move_the_price_reference(
        sim: Any, tmp_path: Path) -> None:
    import dataclasses

    strategy = AlwaysEnter()
    strategy.armed.clear()
    async with running(sim, tmp_path, strategy) as runner:
        await wait_until(runner.gate.entries_allowed, 10, "gate open")
        engine = runner.engine
        reference = engine.guard.reference
        assert reference is not None
        last = engine.history[-1]
        crafted = dataclasses.replace(  # a closed candle REST could not confirm, far off
            last, open_time=last.open_time + 10 * 60_000, open=D(1), high=D(1), low=D(1),
            close=D(1), confirmed=False)
        engine.on_candle(crafted)
        assert engine.history[-1] is crafted  # shown and traded on as the stream said ...
        assert engine.guard.reference is not None and engine.guard.in_band(reference)
        assert engine.guard.check(runner.engine.last_tick) is None  # ... never a reference


def inject_mark(sim: Any, mark: str) -> int:
    """Send one crafted `price` frame (mark and index) to every public connection."""
    frame = {"ch": "price", "symbol": "BTCUSDT", "ts": sim.clock.now_ms(),
             "data": {"mp": mark, "ip": mark, "fr": "0.01", "ft": "", "nft": ""}}
    return sum(conn.send(frame, force=True) for conn in sim.connections if not conn.private)


async def test_a_crafted_mark_price_never_liquidates(sim: Any, tmp_path: Path) -> None:
    """A mark far beyond the liquidation price, not backed by any quote, is counted and never
    used: no liquidation, no equity change; the real marks go on being used."""
    strategy = AlwaysEnter()
    strategy.armed.clear()
    async with running(sim, tmp_path, strategy) as runner:
        await wait_until(runner.gate.entries_allowed, 10, "gate open")
        await wait_until(lambda: runner.broker.last_mark is not None, 10, "a real mark")
        open_long(runner, sim, stop_pct="0.3")  # the stop is beyond the liquidation price
        liquidation = runner.broker.liquidation_price()
        assert liquidation is not None
        balance = runner.broker.balance
        assert inject_mark(sim, str((liquidation / 2).quantize(D("0.1")))) >= 1
        await wait_until(lambda: runner.engine.guard.stats.marks_rejected, 5, "mark refused")
        seen = runner.broker.last_mark
        await wait_until(lambda: runner.broker.last_mark is not seen, 5, "the next real mark")
        assert runner.broker.position is not None and runner.journal.trades(10, None) == []
        assert runner.broker.balance == balance
        assert runner.engine.guard.stats.marks_rejected == {"outside_band": 1}
        assert runner.controller.status().data_health.marks_rejected == {"outside_band": 1}
        metrics = runner.metrics.render().decode()
        assert ('la_quotes_rejected_total{reason="mark_outside_band",symbol="BTCUSDT"} 1.0'
                in metrics)
