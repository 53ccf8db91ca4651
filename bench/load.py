"""Figure 3, the API under load: loop lag and /status latency.

The daemon process (``--source bitunix``) takes the simulator's own WebSocket at the live rate
(depth_book1 every 310 ms, klines every 500 ms) and REST. Load, from the bench process:
50 WebSocket feed clients on ``/ws`` (every kind) and ``GET /status`` at 400 requests/s, open
loop (each request starts on schedule, whether or not the previous one answered).

- loop lag: every /status answer carries ``loop_lag_ms.last``, the daemon's latest 50 ms
  sample; consecutive repeats are collapsed, so the series is the daemon's own samples over
  the loaded period. The idle daemon is sampled the same way at 20 requests/s, no clients.
- /status latency: request start -> body read, p99, beside a bare aiohttp handler (another
  process) serving the same body, captured once, under the same load.
"""

from __future__ import annotations

import asyncio
import contextlib
import tempfile
import time
from pathlib import Path

import aiohttp
import orjson

from bench.daemon import bare_process, exchange_daemon, running
from bench.exchange import Exchange
from bench.stats import Options, percentile
from bench.table import Row

CLIENTS = 50
RATE = 400.0
IDLE_RATE = 20.0


async def _feed_clients(session: aiohttp.ClientSession, base: str, n: int,
                        received: list[int]) -> list[asyncio.Task[None]]:
    async def client(ws: aiohttp.ClientWebSocketResponse) -> None:
        async for message in ws:
            if message.type != aiohttp.WSMsgType.TEXT:
                break
            received[0] += 1

    sockets = [await session.ws_connect(f"{base}/ws") for _ in range(n)]
    return [asyncio.create_task(client(ws)) for ws in sockets]


async def hammer(base: str, rate: float, seconds: float, clients: int,
                 lag: bool) -> tuple[list[float], list[float], float]:
    """/status at ``rate`` for ``seconds`` beside ``clients`` feed sockets.

    Returns the latencies (s), the loop-lag samples (ms; empty unless ``lag``) and the feed
    messages received per second by all clients together.
    """
    latencies: list[float] = []
    answers: list[tuple[float, float]] = []  # (start, loop_lag_ms.last)
    received = [0]
    connector = aiohttp.TCPConnector(limit=64)
    async with aiohttp.ClientSession(connector=connector) as session:
        feeds = await _feed_clients(session, base, clients, received)
        await asyncio.sleep(0.5)
        received[0] = 0

        async def one() -> None:
            started = time.perf_counter()
            async with session.get(f"{base}/status") as response:
                body = await response.read()
            latencies.append(time.perf_counter() - started)
            if lag:
                answers.append((started, float(orjson.loads(body)["loop_lag_ms"]["last"])))

        tasks: list[asyncio.Task[None]] = []
        t0 = time.perf_counter()
        for i in range(int(rate * seconds)):
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - t0
        for feed in feeds:
            feed.cancel()
        await asyncio.gather(*feeds, return_exceptions=True)
    samples: list[float] = []
    for _, value in sorted(answers):
        if not samples or value != samples[-1]:
            samples.append(value)
    return latencies, samples, received[0] / elapsed


async def _capture(base: str) -> tuple[bytes, bytes]:
    """The daemon's /status body and one tick message of its feed."""
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{base}/status") as response:
            status = await response.read()
        async with session.ws_connect(f"{base}/ws?types=tick") as ws:
            async with asyncio.timeout(10):
                while True:
                    message = await ws.receive()
                    if b'"type":"tick"' in message.data.encode():
                        return status, message.data.encode()


async def run(options: Options) -> list[Row]:
    seconds = options.scale(5, 2)
    lag_loaded: list[float] = []
    lag_idle: list[float] = []
    status_p99: list[float] = []
    bare_p99: list[float] = []
    feed_rate: list[float] = []
    async with Exchange() as ex:
        with tempfile.TemporaryDirectory(prefix="bench-load-") as tmp:
            daemon = exchange_daemon(Path(tmp), ex.rest_url, ex.sim_ws_url)
            async with running(daemon):
                await daemon.ready()
                status, tick = await _capture(daemon.base)
                (Path(tmp) / "status.json").write_bytes(status)
                (Path(tmp) / "tick.json").write_bytes(tick)
                bare = bare_process("api", str(Path(tmp) / "status.json"),
                                    str(Path(tmp) / "tick.json"))
                async with running(bare):
                    _, match, _ = await bare.wait_for(r"^(\d+)$")
                    bare_base = f"http://127.0.0.1:{match[1]}"
                    await hammer(daemon.base, RATE, 1.0, CLIENTS, lag=False)  # warm-up
                    await hammer(bare_base, RATE, 1.0, CLIENTS, lag=False)
                    for _ in range(options.reps):
                        _, idle, _ = await hammer(daemon.base, IDLE_RATE, seconds, 0, lag=True)
                        lag_idle.append(percentile(idle, 99))
                        latencies, lags, rate = await hammer(daemon.base, RATE, seconds,
                                                             CLIENTS, lag=True)
                        lag_loaded.append(percentile(lags, 99))
                        status_p99.append(percentile(latencies, 99) * 1000)
                        feed_rate.append(rate / CLIENTS)
                        with contextlib.suppress(Exception):
                            latencies, _, _ = await hammer(bare_base, RATE, seconds, CLIENTS,
                                                           lag=False)
                            bare_p99.append(percentile(latencies, 99) * 1000)
    per_client = sorted(feed_rate)[len(feed_rate) // 2] if feed_rate else 0.0
    return [
        Row("loop lag p99, API under load", "ms", lag_loaded, lag_idle, "idle daemon",
            target="<= 5 ms", check=lambda m, r: m <= 5.0,
            note=f"daemon process on the simulator's live feed; {RATE:.0f} GET /status per "
                 f"s + {CLIENTS} /ws clients ({per_client:.1f} messages/s each), "
                 f"{seconds} s per repetition; idle: /status sampled at {IDLE_RATE:.0f}/s"),
        Row("/status p99 under load", "ms", status_p99, bare_p99, "bare aiohttp",
            target="ratio <= 1.3", check=lambda m, r: r <= 1.3,
            note="bare: an aiohttp handler answering the daemon's /status body (captured "
                 "once), /ws pushing at the same rate, in its own process"),
    ]
