"""Laptop sleep: a jump of the wall clock past the monotonic one (what a suspend looks like)
marks prices stale, replaces the socket, backfills the missed candles and says so once."""

from __future__ import annotations

import asyncio
import itertools
import time
from pathlib import Path
from typing import Any

import aiohttp

from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.session.async_session import AsyncRunner
from tests.session.helpers import AlwaysEnter
from tests.support.logs import captured_logs
from tests.support.sim import engine_settings
from tests.support.waiting import wait_until


class SleepyLaptop:
    """The real clocks, except that ``sleep(s)`` moves the wall clock ``s`` ahead at once."""

    def __init__(self) -> None:
        self.slept = 0.0

    def sleep(self, seconds: float) -> None:
        self.slept += seconds

    def wall(self) -> float:
        return time.time() + self.slept

    def mono(self) -> float:
        return time.monotonic()


async def test_a_sleep_is_detected_and_the_feed_recovers_without_a_gap(
        sim: Any, tmp_path: Path) -> None:
    laptop = SleepyLaptop()
    strategy = AlwaysEnter()
    strategy.armed.clear()
    settings = engine_settings(sim, tmp_path / "data", pause_detect_seconds=5.0)
    stop = asyncio.Event()
    with captured_logs("INFO") as logs:
        async with aiohttp.ClientSession() as session:
            runner = await AsyncRunner.create(settings, session=session, strategy=strategy,
                                              clock=ExchangeClock(laptop))
            runner.api_ready.set()
            task = asyncio.create_task(runner.run(stop))
            try:
                await wait_until(runner.gate.entries_allowed, 10, "gate open")
                assert runner.controller.status().data_health.pauses_detected == 0
                last_before = runner.engine.history[-1].open_time
                laptop.sleep(30)  # the lid closes and opens
                await wait_until(lambda: runner.clock_watch.pauses == 1, 3, "pause detected")
                await wait_until(lambda: runner.controller.status().feed.reconnects >= 1, 5,
                                 "socket replaced")
                await wait_until(runner.gate.entries_allowed, 5, "gate reopens")
                await wait_until(lambda: runner.engine.history[-1].open_time > last_before, 5,
                                 "candles after the pause")
                times = [c.open_time for c in runner.engine.history]
                assert all(b - a == 60_000 for a, b in itertools.pairwise(times))
                assert runner.provider.stats.forced_reconnects == 1
                assert runner.controller.status().data_health.pauses_detected == 1
                assert "la_pauses_detected_total 1.0" in runner.metrics.render().decode()
            finally:
                stop.set()
                await asyncio.wait_for(task, 5)
    said = [message for _, message in logs if message.startswith("resumed after a pause")]
    assert len(said) == 1 and said[0].startswith("resumed after a pause of 30 s"), said
