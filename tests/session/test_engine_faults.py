"""Failure paths of the engine: crashing tasks, a refused feed, the bounded candle queue, the
daily loss cap and a short warm-up as gate reasons, and a stop request during start-up."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from laptop_agents.errors import EXIT_FEED_REFUSED, EXIT_OK, FeedRefusedError
from laptop_agents.session.async_session import AsyncRunner
from laptop_agents.session.daemon import serve
from laptop_agents.session.ports import NullNotifier
from tests.session.helpers import AlwaysEnter
from tests.session.test_engine_sim import running
from tests.support.sim import engine_settings
from tests.support.waiting import wait_until

# A fixed simulated mid-day, so no UTC midnight (which lifts the daily loss cap) falls inside.
NOON_MS = int(datetime(2025, 1, 15, 12, 0, tzinfo=UTC).timestamp() * 1000)


class CrashingNotifier(NullNotifier):
    def status(self, line: str) -> None:
        raise RuntimeError("notifier bug")


async def test_a_crashing_task_cancels_its_siblings_and_propagates(
        sim: Any, tmp_path: Path) -> None:
    settings = engine_settings(sim, tmp_path / "data")
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session,
                                          notifier=CrashingNotifier(), strategy=AlwaysEnter())
        # The heartbeat's first beat raises: a plain error, not an ExceptionGroup, comes out.
        with pytest.raises(RuntimeError, match="notifier bug"):
            await asyncio.wait_for(runner.run(asyncio.Event()), 10)
    tasks = runner.supervisor.tasks
    assert tasks["heartbeat"].done() and not tasks["heartbeat"].cancelled()
    for name in ("market_data", "strategy", "watchdog", "position_sync", "loop_lag"):
        assert tasks[name].cancelled(), name
    assert runner.stopped.is_set()
    # the journal is closed, the controller still answers
    assert runner.controller.trades(1, None) == []


async def test_a_refused_feed_ends_the_run_with_its_exit_code(
        sim: Any, tmp_path: Path) -> None:
    settings = engine_settings(sim, tmp_path / "data", ws_refused_limit=2,
                               ws_backoff_initial=0.05, ws_backoff_max=0.1)
    sim.reject_handshakes(10_000, status=403)
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session,
                                          strategy=AlwaysEnter())
        with pytest.raises(FeedRefusedError) as error:
            await asyncio.wait_for(runner.run(asyncio.Event()), 10)
    assert error.value.exit_code == EXIT_FEED_REFUSED
    assert all(task.done() for task in runner.supervisor.tasks.values())
    assert runner.stopped.is_set()


async def test_the_candle_queue_is_bounded_and_keeps_the_newest(
        sim: Any, tmp_path: Path) -> None:
    settings = engine_settings(sim, tmp_path / "data", queue_size=10)
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session,
                                          strategy=AlwaysEnter())
        try:
            await runner.engine.warm_up()
            last = runner.engine.history[-1]
            # Nobody consumes the queue (the strategy task is not running): 15 closed candles.
            for i in range(1, 16):
                runner.engine.on_candle(
                    dataclasses.replace(last, open_time=last.open_time + i * 60_000))
            queue = runner.engine.candles
            queued = [queue.get_nowait() for _ in range(queue.qsize())]
            assert [c.open_time for c in queued] == [last.open_time + i * 60_000
                                                     for i in range(6, 16)]
            assert runner.controller.status().strategy.candles_dropped == 5
            # the deque is bounded too
            assert len(runner.engine.history) == settings.history_candles
        finally:
            await runner.aclose()


@pytest.mark.parametrize("sim_options", [{"start_ms": NOON_MS}])
async def test_daily_loss_cap_pauses_entries_but_not_the_engine(
        sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter()
    # 0.001% of 10 000 USDT = 0.1 USDT: the entry's taker fee alone crosses it.
    async with running(sim, tmp_path, strategy, daily_loss_cap_pct="0.00001") as runner:
        await wait_until(lambda: runner.journal.trades(1, None), 8, "the cap's flatten")
        assert runner.journal.trades(1, None)[0].exit_reason == "daily_loss_cap"
        status = runner.controller.status()
        assert "daily_loss_cap" in status.gate.reasons
        assert "daily loss cap" in status.gate.details["daily_loss_cap"]
        # The engine goes on with its candles; the strategy, whose entry could only be
        # refused, is not asked meanwhile, and the engine says why.
        calls, last = strategy.calls, runner.engine.history[-1].open_time
        await wait_until(lambda: runner.engine.history[-1].open_time >= last + 120_000, 5,
                         "two candles while capped")
        assert runner.engine.last_decision == "not asked: entries paused (daily_loss_cap)"
        assert strategy.calls == calls
        assert runner.broker.position is None  # the always-entering strategy stays out
        assert len(runner.journal.trades(10, None)) == 1
        assert all(t.state == "running" for t in runner.controller.status().tasks.values()
                   if t.state != "finished")


class ShortHistory:
    """The real REST client, but the warm-up returns two candles fewer than needed."""

    def __init__(self, rest: Any, short_by: int) -> None:
        self._rest = rest
        self._short_by = short_by

    async def klines(self, *args: Any, **kwargs: Any) -> Any:
        return (await self._rest.klines(*args, **kwargs))[self._short_by:]

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rest, name)


async def test_short_warm_up_keeps_entries_paused_until_enough_live_candles(
        sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter()
    strategy.warmup = 100  # the gate waits for the strategy's own warm-up
    settings = engine_settings(sim, tmp_path / "data", history_candles=100)
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session,
                                          strategy=strategy)
        runner.engine.rest = ShortHistory(runner.rest, short_by=2)
        runner.api_ready.set()
        task = asyncio.create_task(runner.run(stop))
        try:
            await wait_until(runner.engine.first_tick.is_set, 10, "first tick")
            assert len(runner.engine.history) == 98
            details = runner.controller.status().gate.details
            assert details["warmup"] == "98/100 closed candles"
            assert "warm-up 98/100" in runner.controller.readiness()[1]
            await wait_until(lambda: runner.broker.position is not None, 8, "entry")
            # The first live candle (99/100) found entries paused, so the strategy was not
            # asked; the second one (100/100) was, and traded.
            assert strategy.calls >= 1
            assert len(runner.engine.history) >= 100
            assert "warmup" not in runner.controller.status().gate.reasons
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)


class HangingKlines:
    def __init__(self, rest: Any) -> None:
        self._rest = rest
        self.entered = asyncio.Event()

    async def klines(self, *args: Any, **kwargs: Any) -> Any:
        self.entered.set()
        await asyncio.Event().wait()  # a REST call that never answers

    def __getattr__(self, name: str) -> Any:
        return getattr(self._rest, name)


async def test_stop_during_a_hanging_warm_up_ends_the_run_at_once(
        sim: Any, tmp_path: Path) -> None:
    settings = engine_settings(sim, tmp_path / "data")
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session,
                                          strategy=AlwaysEnter())
        rest = HangingKlines(runner.rest)
        runner.engine.rest = rest
        task = asyncio.create_task(runner.run(stop))
        await asyncio.wait_for(rest.entered.wait(), 5)
        stop.set()
        await asyncio.wait_for(task, 1.0)
    assert runner.supervisor.tasks == {}  # no task was started
    assert runner.stopped.is_set()


async def _silent_server() -> AsyncIterator[tuple[int, asyncio.Event]]:
    """A loopback TCP server that accepts connections and never answers."""
    connected = asyncio.Event()
    writers: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        writers.append(writer)
        connected.set()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    try:
        yield server.sockets[0].getsockname()[1], connected
    finally:
        for writer in writers:
            writer.close()
        server.close()
        await server.wait_closed()


async def test_a_signal_while_the_exchange_hangs_at_start_up_exits_0(tmp_path: Path) -> None:
    """`serve()` while fetching the trading rules from a REST endpoint that never answers
    (10 s timeout, retried): the stop request ends it cleanly at once, not after 40 s."""
    async for port, connected in _silent_server():
        from laptop_agents.config import Settings

        settings = Settings(source="bitunix", data_dir=tmp_path / "data", api_enabled=False,
                            bitunix_rest_url=f"http://127.0.0.1:{port}",
                            bitunix_ws_url=f"ws://127.0.0.1:{port}/public/")
        stop = asyncio.Event()
        task = asyncio.create_task(serve(settings, stop=stop, notifier=NullNotifier(),
                                         install_signals=False, strategy=AlwaysEnter()))
        await asyncio.wait_for(connected.wait(), 5)
        stop.set()
        assert await asyncio.wait_for(task, 2.0) == EXIT_OK
