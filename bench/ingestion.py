"""Figure 1, ingestion: depth_book1 frames per second from a local server.

Three consumers of the same blast of pre-built frames, from the same server process, in turn
within each repetition:

- baseline: aiohttp ``ws.receive()`` + ``orjson.loads``, nothing else;
- ``BitunixWSProvider.listen()``: parse, validate, exchange clock, Tick, queue;
- the whole engine (``AsyncRunner``): listen() + price guard + event-driven watchdog +
  feed hub (one subscribed client), counted as ticks handed to the engine.

Rates are taken at the consumer: from the first frame of the blast to the last.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from bench.engine import bench_settings, running_engine
from bench.exchange import Exchange
from bench.stats import Options
from bench.table import Row
from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider
from laptop_agents.metrics import Metrics
from laptop_agents.models import Tick
from laptop_agents.session.async_session import AsyncRunner

MAX_MSG = 8 * 1024 * 1024
RUN_TIMEOUT_S = 120.0
SETTLE_TIMEOUT_S = 10.0


async def _settled(clock: ExchangeClock) -> None:
    """Until the exchange clock knows the speed from a second of the live trickle.

    Measured before it settles, every push would be a clock sample (its deque of 80 fills in
    a millisecond under a blast, so the one-second span it needs is never reached): figure 1
    is the steady state, the first seconds after a connect are not.
    """
    async with asyncio.timeout(SETTLE_TIMEOUT_S):
        while not clock.rate_settled:  # noqa: ASYNC110 - the clock has no event to await
            await asyncio.sleep(0.05)


async def bare(ex: Exchange, n: int) -> float:
    """Frames/s of aiohttp receive + orjson.loads."""
    async with aiohttp.ClientSession() as session, session.ws_connect(
        ex.blast_ws_url, autoping=False, max_msg_size=MAX_MSG
    ) as ws:
        orjson.loads((await ws.receive()).data)  # connect
        blast = asyncio.create_task(ex.blast(n))
        t0 = 0.0
        async with asyncio.timeout(RUN_TIMEOUT_S):
            for i in range(n):
                message = await ws.receive()
                if message.type != aiohttp.WSMsgType.TEXT:
                    raise RuntimeError(f"blast socket closed: {message.type.name}")
                orjson.loads(message.data)
                if i == 0:
                    t0 = time.perf_counter()
        t1 = time.perf_counter()
        await blast
    await ex.call("wait_closed")
    return (n - 1) / (t1 - t0)


async def provider(ex: Exchange, n: int, data_dir: Path) -> tuple[float, int]:
    """Frames/s out of BitunixWSProvider.listen(); and the ticks it dropped (queue full)."""
    settings = bench_settings(ex.rest_url, ex.blast_ws_url, data_dir)
    async with aiohttp.ClientSession() as session:
        feed = BitunixWSProvider(session, settings, metrics=Metrics())
        await feed.subscribe_ticker(settings.symbol)
        count = 0
        t0 = 0.0
        done = asyncio.get_running_loop().create_future()
        armed = False

        async def consume() -> None:
            nonlocal count, t0
            async for item in feed.listen():
                if not armed or not isinstance(item, Tick):
                    continue
                count += 1
                if count == 1:
                    t0 = time.perf_counter()
                if count + feed.stats.dropped >= n and not done.done():
                    done.set_result(time.perf_counter())

        consumer = asyncio.create_task(consume())
        await ex.call("wait_sub")
        await _settled(feed.clock)
        await ex.call("live", on=False)
        await asyncio.sleep(0.4)  # nothing of the trickle left in flight
        dropped_before = feed.stats.dropped
        armed = True
        blast = asyncio.create_task(ex.blast(n))
        async with asyncio.timeout(RUN_TIMEOUT_S):
            t1 = await done
        await blast
        await ex.call("live", on=True)
        consumer.cancel()
        await asyncio.gather(consumer, return_exceptions=True)
        await feed.close()
    await ex.call("wait_closed")
    return (count - 1) / (t1 - t0), feed.stats.dropped - dropped_before


def _dropped(runner: AsyncRunner) -> int:
    feed = runner.provider
    return feed.stats.dropped if isinstance(feed, BitunixWSProvider) else 0


async def engine(ex: Exchange, n: int, data_dir: Path) -> tuple[float, int]:
    """Ticks/s handed to the whole engine; and the ticks the provider dropped."""
    settings = bench_settings(ex.rest_url, ex.blast_ws_url, data_dir)
    async with running_engine(settings) as (runner, counter):
        await _settled(runner.clock)
        await ex.call("live", on=False)
        await asyncio.sleep(0.4)
        dropped_before = _dropped(runner)
        reached = counter.arm(n)
        blast = asyncio.create_task(ex.blast(n))
        async with asyncio.timeout(RUN_TIMEOUT_S):
            # Dropped ticks never reach the engine: stop waiting once every frame is accounted.
            while not reached.done() and counter.count + _dropped(runner) - dropped_before < n:
                await asyncio.wait({reached}, timeout=0.05)
        t1 = reached.result() if reached.done() else time.perf_counter()
        await blast
        await ex.call("live", on=True)
        t0 = counter.first_at or t1
        dropped = _dropped(runner) - dropped_before
    await ex.call("wait_closed")
    return (counter.count - 1) / (t1 - t0), dropped


async def run(options: Options) -> list[Row]:
    n = options.scale(100_000, 20_000)
    rows: dict[str, list[float]] = {"bare": [], "provider": [], "engine": []}
    drops = {"provider": 0, "engine": 0}
    async with Exchange() as ex:
        with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
            await bare(ex, n // 10)  # warm up both ends (imports, allocator)
            for rep in range(options.reps):
                rows["bare"].append(await bare(ex, n))
                rate, dropped = await provider(ex, n, Path(tmp) / f"p{rep}")
                rows["provider"].append(rate)
                drops["provider"] += dropped
                rate, dropped = await engine(ex, n, Path(tmp) / f"e{rep}")
                rows["engine"].append(rate)
                drops["engine"] += dropped
    def note(kind: str) -> str:
        return (f"{n:,} frames per repetition; {drops[kind]:,} ticks dropped by the provider "
                "(its queue full) in all") if drops[kind] else f"{n:,} frames per repetition"

    return [
        Row("ingestion: provider listen()", "frames/s", rows["provider"], rows["bare"],
            "bare", target="ratio >= 0.50", check=lambda m, r: r >= 0.50,
            note=note("provider")),
        Row("ingestion: whole engine", "frames/s", rows["engine"], rows["bare"], "bare",
            target="ratio >= 0.35", check=lambda m, r: r >= 0.35, note=note("engine")),
    ]
