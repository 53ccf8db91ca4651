"""The engine end to end against the in-process simulator over real loopback sockets."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from laptop_agents.paper.models import Trade
from laptop_agents.session.async_session import AsyncRunner
from laptop_agents.session.views import FeedPayload, view_json
from tests.session.helpers import QTY, AlwaysEnter
from tests.support.sim import engine_settings
from tests.support.waiting import wait_until

FEE_QUANTUM = Decimal("0.00000001")


class RecordingNotifier:
    def __init__(self) -> None:
        self.events: list[tuple[float, str, str]] = []

    def _add(self, kind: str, text: str = "") -> None:
        self.events.append((time.monotonic(), kind, text))

    def ready(self) -> None:
        self._add("ready")

    def status(self, line: str) -> None:
        self._add("status", line)

    def watchdog(self) -> None:
        self._add("watchdog")

    def stopping(self) -> None:
        self._add("stopping")

    def watchdog_interval(self) -> float | None:
        return None

    def kinds(self) -> list[str]:
        return [kind for _, kind, _ in self.events]


class Publisher:
    """Records each message's data as the WebSocket feed sends it (JSON)."""

    def __init__(self) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []

    def publish(self, kind: str, payload: FeedPayload) -> None:
        self.messages.append((kind, json.loads(view_json(payload))))


@asynccontextmanager
async def running(sim: Any, tmp_path: Path, strategy: Any = None,
                  notifier: Any = None, **overrides: Any) -> AsyncIterator[AsyncRunner]:
    settings = engine_settings(sim, tmp_path / "data", **overrides)
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session,
                                          notifier=notifier, strategy=strategy)
        runner.api_ready.set()
        task = asyncio.create_task(runner.run(stop))
        try:
            await wait_until(lambda: runner.engine.first_tick.is_set() or task.done(), 10,
                             "first tick")
            if task.done():
                await task
            yield runner
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)


def journal_trades(runner: AsyncRunner) -> list[Trade]:
    return list(reversed(runner.journal.trades(100, None)))  # oldest first


def assert_pnl_consistent(runner: AsyncRunner, trade: Trade) -> None:
    fills = [f for f in runner.journal.fills()
             if f.order_id in (trade.trade_id, f"{trade.trade_id}:exit")]
    entry = next(f for f in fills if f.kind == "entry")
    exit_ = next(f for f in fills if f.kind == "exit")
    taker = runner.settings.taker_fee
    assert entry.price == trade.entry_price and exit_.price == trade.exit_price
    gross = (trade.exit_price - trade.entry_price) * trade.qty
    assert trade.gross_pnl == gross
    expected_fees = (trade.entry_price * trade.qty * taker).quantize(FEE_QUANTUM) + (
        trade.exit_price * trade.qty * taker).quantize(FEE_QUANTUM)
    assert trade.fees == expected_fees == entry.fee + exit_.fee
    assert trade.realized_pnl == gross - expected_fees


async def test_entry_on_closed_candle_then_stop_and_target_exits(
        sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter()
    notifier = RecordingNotifier()
    publisher = Publisher()
    async with running(sim, tmp_path, strategy, notifier) as runner:
        runner.controller.attach_feed(publisher)
        assert len(runner.engine.history) == 150  # warm-up over REST, so the first candle trades
        assert "warmup" not in runner.controller.status().gate.reasons
        assert runner.gate.entries_allowed() or await wait_until(
            runner.gate.entries_allowed, 5, "gate open")
        candles_before = runner.metrics.candles._value.get()
        await wait_until(lambda: runner.broker.position is not None, 5, "entry")
        assert runner.metrics.candles._value.get() >= candles_before + 1
        strategy.armed.clear()
        position = runner.broker.position
        assert position.qty == QTY and position.stop is not None
        # 1) a scripted tick below the stop closes the position through the watchdog.
        stop_bid = position.stop - Decimal("5")
        sim.script_price(stop_bid, stop_bid + Decimal("0.1"), pushes=1)
        await wait_until(lambda: runner.broker.position is None, 5, "stop exit")
        first = journal_trades(runner)
        assert [t.exit_reason for t in first] == ["stop"]
        assert first[0].exit_price < position.stop
        assert runner.metrics.watchdog_reaction._sum.get() < 0.5
        # 2) the next entry closes at its target.
        strategy.armed.set()
        await wait_until(lambda: runner.broker.position is not None, 5, "second entry")
        strategy.armed.clear()
        target = runner.broker.position.target
        sim.script_price(target + Decimal("5"), target + Decimal("5.1"), pushes=1)
        await wait_until(lambda: runner.broker.position is None, 5, "target exit")
        status = runner.controller.status()
        assert status.position is None
        trades = journal_trades(runner)
        assert [t.exit_reason for t in trades] == ["stop", "target"]
        assert trades[0].realized_pnl < 0 < trades[1].realized_pnl
        for trade in trades:
            assert_pnl_consistent(runner, trade)
    kinds = {kind for kind, _ in publisher.messages}
    assert {"tick", "candle", "trade", "status"} <= kinds
    published_trades = [p for kind, p in publisher.messages if kind == "trade"]
    assert [p["exit_reason"] for p in published_trades] == ["stop", "target"]
    assert isinstance(published_trades[0]["realized_pnl"], str)
    assert "ready" in notifier.kinds() and "stopping" in notifier.kinds()
    assert notifier.kinds().index("ready") < notifier.kinds().index("stopping")


async def test_real_supervisor_runs_over_warmup_and_live_candles(
        sim: Any, tmp_path: Path) -> None:
    async with running(sim, tmp_path) as runner:
        await wait_until(lambda: runner.engine.decisions >= 3, 10, "three strategy decisions")
        status = runner.controller.status()
        assert status.strategy.last_reason
        assert all(t.state == "running" for name, t in status.tasks.items()
                   if name != "readiness")
        assert runner.gate.snapshot()["trading_allowed"] in (True, False)
    assert type(runner.engine.strategy).__name__ == "Supervisor"


@pytest.mark.parametrize("sim_options", [{"speed": 60.0, "kline_push_ms": 100,
                                          "depth_push_ms": 20}])
async def test_slow_strategy_does_not_delay_watchdog_or_heartbeat(
        sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter(burn_s=0.5)
    notifier = RecordingNotifier()
    async with running(sim, tmp_path, strategy, notifier, heartbeat_interval=0.2) as runner:
        await wait_until(lambda: runner.broker.position is not None, 8, "entry")
        strategy.armed.clear()
        runner.lag.reset()
        beats_from = len(notifier.events)
        # Cross the stop while the strategy is busy burning CPU in its thread.
        await wait_until(strategy.busy.is_set, 5, "strategy busy", interval=0.005)
        stop = runner.broker.position.stop
        sim.script_price(stop - Decimal("5"), stop - Decimal("4.9"), pushes=1)
        await wait_until(lambda: runner.broker.position is None, 5, "stop exit")
        assert strategy.busy.is_set() or strategy.calls >= 2
        # Keep the slow strategy running for a few more candles while sampling the loop.
        calls = strategy.calls
        await wait_until(lambda: strategy.calls >= calls + 3, 10, "three more slow decisions")
        lag_p99 = runner.lag.percentile(99)
        samples = runner.lag.count
        reaction = runner.metrics.watchdog_reaction._sum.get()
        beats = [t for t, kind, _ in notifier.events[beats_from:] if kind == "status"]
    print(f"slow strategy: lag p99 {lag_p99 * 1000:.1f} ms over {samples} samples, "
          f"reaction {reaction * 1000:.2f} ms, max heartbeat gap "
          f"{max(b - a for a, b in itertools.pairwise(beats)) * 1000:.0f} ms")
    assert runner.engine.strategy_runtime_max >= 0.5
    assert samples > 20
    assert lag_p99 < 0.05, f"loop lag p99 {lag_p99 * 1000:.1f} ms"
    assert reaction < 0.05, f"watchdog reaction {reaction * 1000:.1f} ms"
    gaps = [b - a for a, b in itertools.pairwise(beats)]
    assert len(gaps) >= 5
    assert max(gaps) < 0.2 + 0.1, f"heartbeat gaps {gaps}"


async def test_feed_drop_pauses_entries_until_reconnect_and_backfill(
        sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter()
    strategy.armed.clear()
    publisher = Publisher()
    async with running(sim, tmp_path, strategy, ws_refused_limit=1000,
                       ws_backoff_initial=0.05, ws_backoff_max=0.1) as runner:
        runner.controller.attach_feed(publisher)
        await wait_until(runner.gate.entries_allowed, 5, "gate open")
        last_before = runner.engine.history[-1].open_time
        # An outage long enough to miss candles: refuse reconnects, then drop the socket.
        await sim.refuse_connections()
        sim.drop_all()
        await wait_until(
            lambda: "feed_disconnected" in runner.controller.status().gate.reasons,
            5, "feed reason")
        assert not runner.gate.entries_allowed()
        assert runner.controller.readiness()[0] is False
        start_wall = time.monotonic()
        # 2.5 wall s = 150 simulated s at 60x: at least two candles close during the outage.
        await wait_until(lambda: time.monotonic() - start_wall > 2.5, 4, "outage")
        assert "feed_disconnected" in runner.controller.status().gate.reasons
        assert runner.controller.status().feed.reconnects == 0
        await sim.accept_connections()
        await wait_until(lambda: runner.controller.status().feed.reconnects >= 1, 10,
                         "reconnect")
        await wait_until(runner.gate.entries_allowed, 5, "gate reopens")
        # The missed candles were backfilled before the gate reopened: no gap in history.
        assert runner.engine.history[-1].open_time >= last_before + 2 * 60_000
        times = [c.open_time for c in runner.engine.history]
        assert all(b - a == 60_000 for a, b in itertools.pairwise(times))
        feed_states = [p["feed"]["state"] for kind, p in publisher.messages if kind == "status"]
        assert "lost" in feed_states
        assert feed_states[-1] == "connected"


async def test_flatten_on_exit_closes_the_position(sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter()
    async with running(sim, tmp_path, strategy, flatten_on_exit=True) as runner:
        await wait_until(lambda: runner.broker.position is not None, 5, "entry")
        strategy.armed.clear()
    from laptop_agents.storage.journal import Journal

    journal = Journal(runner.journal.path)
    try:
        trades = journal.trades(10, None)
        assert journal.load_position("BTCUSDT") is None
    finally:
        journal.close()
    assert [t.exit_reason for t in trades] == ["shutdown"]


async def test_controller_pause_resume_and_kill_file(sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter()
    strategy.armed.clear()
    kill = tmp_path / "KILL"
    async with running(sim, tmp_path, strategy, kill_file=kill) as runner:
        await wait_until(runner.gate.entries_allowed, 5, "gate open")
        paused = await runner.controller.pause("operator")
        assert paused.gate.reasons == ["manual"]
        assert runner.journal.pause_state() == (True, "operator")
        strategy.armed.set()
        # Paused, the strategy is not asked (its entry could only be refused); the engine
        # goes on with its candles and says why.
        calls, last = strategy.calls, runner.engine.history[-1].open_time
        await wait_until(lambda: runner.engine.history[-1].open_time >= last + 120_000, 5,
                         "two candles while paused")
        assert runner.engine.last_decision == "not asked: entries paused (manual)"
        assert strategy.calls == calls
        assert runner.broker.position is None
        strategy.armed.clear()
        kill.touch()
        resumed = await runner.controller.resume()
        assert resumed.gate.reasons == ["kill_switch"]
        assert runner.journal.pause_state() == (False, None)
        kill.unlink()
        strategy.armed.set()
        await wait_until(lambda: runner.broker.position is not None, 5, "entry after resume")
        strategy.armed.clear()
        assert runner.controller.positions()[0].side == "long"
        # position_sync: in step with the journal, then a deliberate drift is seen and counted.
        assert runner.health.position_sync() is True
        drifted = dataclasses.replace(runner.broker.position, stop=Decimal("1"))
        runner.journal.update_position(drifted)
        assert runner.health.position_sync() is False
        assert runner.controller.status().position_drift_count == 1
        result = await runner.controller.flatten()
        assert result.closed is True and result.trade.exit_reason == "manual"
        assert runner.controller.trades(10, None)[0].exit_reason == "manual"
        assert len(runner.controller.candles(5)) == 5
        assert runner.controller.readiness() == (True, [])


class Exploding:
    name = "exploding"
    warmup = 1

    def __init__(self) -> None:
        self.calls = 0

    def decide(self, ctx: Any) -> Any:
        self.calls += 1
        raise RuntimeError(f"strategy bug #{self.calls}")


async def test_a_failing_strategy_ends_the_run_after_three_tries(
        sim: Any, tmp_path: Path) -> None:
    strategy = Exploding()
    settings = engine_settings(sim, tmp_path / "data")
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session,
                                          strategy=strategy)
        with pytest.raises(RuntimeError, match="strategy bug #3"):
            await asyncio.wait_for(runner.run(asyncio.Event()), 15)
    assert strategy.calls == 3
    assert runner.stopped.is_set()
    assert all(task.done() for task in runner.supervisor.tasks.values())


async def test_silent_feed_marks_prices_stale_then_recovers(sim: Any, tmp_path: Path) -> None:
    notifier = RecordingNotifier()
    strategy = AlwaysEnter()
    strategy.armed.clear()
    async with running(sim, tmp_path, strategy, notifier, stale_after=0.8,
                       ws_silence_timeout=2.5, ws_ping_interval=1.0,
                       ws_pong_timeout=2.0) as runner:
        await wait_until(runner.gate.entries_allowed, 5, "gate open")
        runner.health.beat()
        assert notifier.kinds()[-1] == "watchdog"  # healthy: systemd's watchdog is petted
        # The health line: feed state, tick age, position, equity, loop lag, reconnects, gate.
        line = notifier.events[-2][2]
        assert re.fullmatch(r"feed=connected tick_age=\d+\.\ds position=flat "
                            r"equity=10000(\.0+)? loop_lag_ms=\d+\.\d reconnects=0 gate=open",
                            line), line
        sim.stall()
        await wait_until(lambda: "stale_prices" in runner.controller.status().gate.reasons, 3,
                         "stale reason")
        assert not runner.gate.exits_allowed()
        assert "prices stale" in runner.controller.readiness()[1]
        runner.health.beat()
        assert notifier.kinds()[-1] == "status"  # stale: no WATCHDOG=1 this beat
        assert "gate=stale_prices" in notifier.events[-1][2]
        # The provider notices the silence, reconnects (the stall only hits old sockets).
        await wait_until(lambda: runner.controller.status().feed.reconnects >= 1, 10,
                         "reconnect")
        await wait_until(runner.gate.entries_allowed, 5, "gate reopens")
        runner.health.beat()
        assert notifier.kinds()[-1] == "watchdog"
        assert "feed=connected" in notifier.events[-2][2]
        assert re.search(r" reconnects=[1-9]", notifier.events[-2][2])


async def test_watchdog_timer_exits_without_a_new_tick(sim: Any, tmp_path: Path) -> None:
    """The 100 ms safety net: a position whose stop is already crossed by the latest price is
    closed by the timer even when no further tick arrives."""
    from laptop_agents.models import Side
    from laptop_agents.strategy.base import OrderIntent

    strategy = AlwaysEnter()
    strategy.armed.clear()
    async with running(sim, tmp_path, strategy, stale_after=3.0, ws_silence_timeout=10.0,
                       ws_ping_interval=10.0, ws_pong_timeout=10.0) as runner:
        await wait_until(runner.gate.entries_allowed, 5, "gate open")
        sim.stall()  # no more ticks on this socket
        loop = asyncio.get_running_loop()
        seen = [runner.engine.last_tick, loop.time()]

        def ticks_stopped() -> bool:  # no new tick for 0.2 s: in-flight pushes have landed
            if runner.engine.last_tick is not seen[0]:
                seen[:] = [runner.engine.last_tick, loop.time()]
            return loop.time() - float(seen[1]) > 0.2  # type: ignore[arg-type]

        await wait_until(ticks_stopped, 3, "ticks to stop")
        tick = runner.engine.last_tick
        assert tick is not None
        intent = OrderIntent(side=Side.LONG, order_type="market", qty=QTY, entry=tick.ask,
                             stop=tick.bid, target=tick.ask + 1000, setup="test",
                             reason="stop already at the bid", atr=Decimal("10"))
        before = runner.metrics.watchdog_reaction._sum.get()
        result = runner.broker.submit(intent, tick, sim.clock.now_ms())
        assert result.accepted and runner.broker.position is not None
        await wait_until(lambda: runner.broker.position is None, 1.0, "timer exit")
        assert runner.engine.last_tick is tick  # no new price arrived: the timer did it
        assert runner.journal.trades(1, None)[0].exit_reason == "stop"
        assert runner.metrics.watchdog_reaction._sum.get() > before
