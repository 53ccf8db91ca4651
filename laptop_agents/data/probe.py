"""`laptop-agents probe`: connect, subscribe, count what flows for a while, then exit.

Exit 0 when ticks arrived, EXIT_NO_DATA (1) otherwise. FeedRefusedError (69) and
AuthenticationError (77) propagate to the CLI, which maps them to their exit codes. With
``--source sim`` the simulator is started in this process first. The summary is the command's
output, so it goes to stdout.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

import aiohttp

from laptop_agents.config import Settings
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider
from laptop_agents.errors import EXIT_NO_DATA, EXIT_OK
from laptop_agents.logging_setup import setup_logging
from laptop_agents.models import Candle, ConnectionEvent, ConnectionState, Tick

Say = Callable[[str], None]


def run_probe(settings: Settings, seconds: float, out: Say, err: Say) -> int:
    """Watch the feed for ``seconds``; the report goes to ``out`` (the CLI's stdout), the
    verdict "no data" to ``err``. Logs go through loguru as in the daemon."""
    setup_logging(settings)  # same sinks and secret scrubbing as the daemon
    return asyncio.run(_probe(settings, seconds, out, err))


async def _probe(settings: Settings, seconds: float, out: Say, err: Say) -> int:
    sim = None
    if settings.source == "sim":
        from laptop_agents.sim.embedded import start_embedded

        sim, settings = await start_embedded(settings)
    try:
        # The probe learns the exchange's time (and speed) from the exchange, as the daemon.
        return await _watch(settings, seconds, out, err)
    finally:
        if sim is not None:
            await sim.stop()


async def _watch(settings: Settings, seconds: float, out: Say, err: Say) -> int:
    ticks = candles = 0
    last_tick: Tick | None = None
    last_candle: Candle | None = None
    events: list[str] = []
    started = time.monotonic()
    out(f"probe: {settings.source} {settings.bitunix_ws_url} {settings.symbol} "
        f"{settings.interval} for {seconds:g}s")
    async with aiohttp.ClientSession() as session:
        rest = BitunixRestClient(session, settings)
        provider = BitunixWSProvider(session, settings, rest=rest)
        await provider.subscribe_kline(settings.symbol, settings.interval)
        await provider.subscribe_ticker(settings.symbol)
        try:
            async with asyncio.timeout(seconds):
                async for item in provider.listen():
                    if isinstance(item, Tick):
                        ticks += 1
                        last_tick = item
                    elif isinstance(item, Candle):
                        candles += 1
                        last_candle = item
                        out(f"closed candle {item.open_time} O {item.open} H {item.high} "
                            f"L {item.low} C {item.close} V {item.volume}")
                    elif isinstance(item, ConnectionEvent):
                        events.append(item.state.value)
                        if item.state is not ConnectionState.CONNECTED:
                            out(f"connection {item.state.value} {item.reason}".rstrip())
        except TimeoutError:
            pass
        finally:
            await provider.close()
        stats = provider.stats
    elapsed = time.monotonic() - started
    out(f"ticks: {ticks}")
    out(f"closed candles: {candles}")
    out(f"reconnects: {stats.reconnects}")
    out(f"malformed frames: {stats.malformed}")
    if last_tick is not None:
        out(f"last tick: bid {last_tick.bid} ask {last_tick.ask} last {last_tick.last}")
    if last_candle is None and ticks:
        out("no candle closed yet (a candle closes once per interval)")
    out(f"elapsed: {elapsed:.1f}s")
    if ticks == 0:
        err("probe: no market data flowed")
        return EXIT_NO_DATA
    return EXIT_OK
