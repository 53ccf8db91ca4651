"""Figure 4, bursts: 100,000 depth_book1 frames at once; the longest loop hold.

The daemon process (``--source bitunix``: WebSocket from the blaster, REST from the simulator,
heartbeat every 0.5 s) takes the burst while a separate client polls its ``/healthz`` every
10 ms over one keep-alive connection: the slowest answer is the longest time the loop was held
(plus one request's own cost). The heartbeat is on time when no gap between two heartbeat log
lines exceeds the interval by more than the hold target.

Baseline, same run: the bare consumer process (aiohttp receive + orjson.loads, beside an
aiohttp ``/healthz``) takes the same burst under the same probe.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import re
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.daemon import Daemon, Process, bare_process, exchange_daemon, running
from bench.exchange import Exchange
from bench.stats import Options
from bench.table import Row

PROBE_PERIOD_S = 0.010
HEARTBEAT_S = 0.5
HOLD_TARGET_MS = 20.0
SETTLE_S = 1.5  # after the last frame is written: the consumer empties its socket
HEARTBEAT_LINE = r"session\.health: heartbeat "


async def probe(base: str, stop: asyncio.Event) -> list[float]:
    """GET /healthz every PROBE_PERIOD_S until ``stop``; each answer's latency in seconds."""
    latencies: list[float] = []
    connector = aiohttp.TCPConnector(limit=1)
    async with aiohttp.ClientSession(connector=connector) as session:
        next_at = time.perf_counter()
        while not stop.is_set():
            started = time.perf_counter()
            async with session.get(f"{base}/healthz") as response:
                await response.read()
            latencies.append(time.perf_counter() - started)
            next_at += PROBE_PERIOD_S
            await asyncio.sleep(max(0.0, next_at - time.perf_counter()))
    return latencies


async def burst_hold(ex: Exchange, base: str, path: str, n: int) -> tuple[float, int, int]:
    """Longest /healthz answer (ms) during a burst of ``n`` frames to ``path``; and the
    monotonic ns window of the burst (for the heartbeat check)."""
    stop = asyncio.Event()
    prober = asyncio.create_task(probe(base, stop))
    await asyncio.sleep(0.3)
    start = time.monotonic_ns()
    await ex.blast(n, path=path)
    await asyncio.sleep(SETTLE_S)
    end = time.monotonic_ns()
    stop.set()
    latencies = await prober
    return max(latencies) * 1000, start, end


def heartbeat_lateness(daemon: Process, start: int, end: int) -> float:
    """The longest gap between heartbeat lines around [start, end], minus the interval (ms)."""
    pattern = re.compile(HEARTBEAT_LINE)
    beats = [at for at, text in daemon.lines if pattern.search(text)]
    before = [b for b in beats if b < start]
    inside = [b for b in beats if start <= b <= end]
    window = before[-1:] + inside
    if len(window) < 2:
        return float("inf")
    gaps = [(b - a) / 1e9 for a, b in itertools.pairwise(window)]
    return (max(gaps) - HEARTBEAT_S) * 1000


async def run(options: Options) -> list[Row]:
    n = options.scale(100_000, 20_000)
    holds: list[float] = []
    bare_holds: list[float] = []
    lateness: list[float] = []
    async with Exchange() as ex:
        with tempfile.TemporaryDirectory(prefix="bench-burst-") as tmp:
            daemon: Daemon = exchange_daemon(Path(tmp), ex.rest_url, ex.blast_ws_url,
                                             LA_HEARTBEAT_INTERVAL=str(HEARTBEAT_S))
            bare = bare_process("consume", ex.blast_ws_url.replace("/public/", "/bare/"))
            async with running(daemon), running(bare):
                await daemon.ready()
                _, match, _ = await bare.wait_for(r"^(\d+)$")
                bare_base = f"http://127.0.0.1:{match[1]}"
                await ex.blast(n // 10, path="/public/")  # warm-up, not counted
                await asyncio.sleep(SETTLE_S)
                for _ in range(options.reps):
                    hold, start, end = await burst_hold(ex, daemon.base, "/public/", n)
                    holds.append(hold)
                    lateness.append(heartbeat_lateness(daemon, start, end))
                    with contextlib.suppress(Exception):
                        bare_holds.append((await burst_hold(ex, bare_base, "/bare/", n))[0])
    note = (f"{n:,} frames per burst, daemon process (--source bitunix); /healthz polled "
            f"every {PROBE_PERIOD_S * 1000:.0f} ms")
    return [
        Row("burst: longest loop hold", "ms", holds, bare_holds, "bare consumer",
            target=f"<= {HOLD_TARGET_MS:.0f} ms", check=lambda m, r: m <= HOLD_TARGET_MS,
            note=note),
        Row("burst: heartbeat lateness", "ms", lateness, target=f"<= {HOLD_TARGET_MS:.0f} ms",
            check=lambda m, r: m <= HOLD_TARGET_MS,
            note=f"longest gap between heartbeat lines minus LA_HEARTBEAT_INTERVAL="
                 f"{HEARTBEAT_S:g} s"),
    ]
