"""The real engine in the bench process: ``AsyncRunner`` over a real socket to the
:class:`~bench.exchange.Exchange` (the blaster for the WebSocket, the simulator for REST),
a real SQLite journal in a temporary directory, and a :class:`FeedHub` with one subscribed
client whose socket is a no-op (so every tick is encoded for the feed, as in the daemon).
The daemon's logging is set up as in the daemon (INFO, its formatter), writing to /dev/null.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import time
from collections.abc import AsyncIterator, Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from loguru import logger

from laptop_agents.api.hub import FeedHub
from laptop_agents.config import Settings
from laptop_agents.logging_setup import setup_logging
from laptop_agents.models import MarketEvent, Tick
from laptop_agents.session.async_session import AsyncRunner

START_TIMEOUT_S = 30.0


def bench_settings(rest_url: str, ws_url: str, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "source": "bitunix", "bitunix_rest_url": rest_url, "bitunix_ws_url": ws_url,
        "data_dir": data_dir, "api_enabled": False, "ws_backoff_initial": 0.1,
        "ws_backoff_max": 0.5, "max_orders_per_minute": 10_000,
        "daily_loss_cap_pct": Decimal("1"),
    }
    values.update(overrides)
    return Settings(**values)


async def _noop_send(data: bytes) -> None:
    return None


class TickCounter:
    """Counts ticks handed to the engine; ``until(n)`` waits for the n-th."""

    def __init__(self) -> None:
        self.count = 0
        self.target = 0
        self.reached: asyncio.Future[float] | None = None
        self.first_at: float | None = None

    def hit(self, now: Callable[[], float]) -> None:
        self.count += 1
        if self.first_at is None:
            self.first_at = now()
        if self.reached is not None and self.count >= self.target and not self.reached.done():
            self.reached.set_result(now())

    def arm(self, n: int) -> asyncio.Future[float]:
        self.count, self.target, self.first_at = 0, n, None
        self.reached = asyncio.get_running_loop().create_future()
        return self.reached


@contextlib.asynccontextmanager
async def running_engine(settings: Settings) -> AsyncIterator[tuple[AsyncRunner, TickCounter]]:
    """A started engine whose first tick has arrived; stopped on exit."""
    counter = TickCounter()
    with open(os.devnull, "w") as devnull:  # noqa: ASYNC230 - /dev/null never blocks
        setup_logging(settings, stream=devnull)
        try:
            async with _engine(settings, counter) as runner:
                yield runner, counter
        finally:
            logger.remove()


@contextlib.asynccontextmanager
async def _engine(settings: Settings, counter: TickCounter) -> AsyncIterator[AsyncRunner]:
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session)
        hub = FeedHub(buffer_size=settings.api_ws_buffer,
                      stall_timeout=settings.api_ws_stall_timeout)
        client = hub.add_client(_noop_send, lambda: None, name="bench")
        client.start()
        runner.controller.attach_feed(hub)
        handle = runner.on_market_event

        def counted(item: MarketEvent) -> None:
            handle(item)
            if isinstance(item, Tick):
                counter.hit(time.perf_counter)

        setattr(runner, "on_market_event", counted)  # noqa: B010 - an instance override
        runner.api_ready.set()
        stop = asyncio.Event()
        task = asyncio.create_task(runner.run(stop), name="bench-engine")
        try:
            async with asyncio.timeout(START_TIMEOUT_S):
                first = asyncio.create_task(runner.engine.first_tick.wait())
                done, _ = await asyncio.wait({first, task}, return_when=asyncio.FIRST_COMPLETED)
                if task in done:
                    task.result()
                    raise RuntimeError("engine stopped before its first tick")
            yield runner
        finally:
            stop.set()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, 10.0)
            await client.stop()
