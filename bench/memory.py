"""Figure 6, memory: resident set of the daemon process over a long fast run.

The daemon (``--source bitunix``, WebSocket from the blaster, REST from the simulator, API on)
takes a 100,000-frame warm-up, then one million frames per repetition as fast as it reads
them. After each million (once its tick counter stops moving) its VmRSS is read from
/proc/<pid>/status: "steady" is that RSS, "growth" is the change over the million.

Baseline, same run: the bare consumer process (aiohttp receive + orjson.loads) on the same
frames.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import aiohttp

from bench.daemon import bare_process, exchange_daemon, running
from bench.exchange import Exchange
from bench.stats import Options, rss_mb
from bench.table import Row

QUIET_S = 0.5  # the tick counter (all but) unchanged this long: the burst is consumed
TRICKLE = 10  # ... the blaster's live trickle still adds ~3 ticks a second
DRAIN_TIMEOUT_S = 300.0


async def _counter(session: aiohttp.ClientSession, url: str, key: str) -> float:
    async with session.get(url) as response:
        if key == "frames":
            return float((await response.json())["frames"])
        for line in (await response.text()).splitlines():
            if line.startswith(key + " "):
                return float(line.split()[1])
    return 0.0


async def _drained(session: aiohttp.ClientSession, url: str, key: str,
                   target: float | None = None) -> float:
    """Poll a counter until it reaches ``target`` (or stops moving); its last value."""
    last = -float(TRICKLE)
    async with asyncio.timeout(DRAIN_TIMEOUT_S):
        while True:
            value = await _counter(session, url, key)
            done = value >= target if target is not None else value - last < TRICKLE
            if done:
                return value
            last = value
            await asyncio.sleep(QUIET_S if target is None else 0.05)


async def _accepted(session: aiohttp.ClientSession, base: str) -> int:
    async with session.get(f"{base}/status") as response:
        return int((await response.json())["data_health"]["quotes_accepted"])


async def run(options: Options) -> list[Row]:
    n = options.scale(1_000_000, 100_000)
    warm = n // 10
    steady: list[float] = []
    growth: list[float] = []
    bare_steady: list[float] = []
    bare_growth: list[float] = []
    async with Exchange() as ex:
        with tempfile.TemporaryDirectory(prefix="bench-memory-") as tmp:
            daemon = exchange_daemon(Path(tmp), ex.rest_url, ex.blast_ws_url)
            bare = bare_process("consume", ex.blast_ws_url.replace("/public/", "/bare/"))
            async with running(daemon), running(bare), aiohttp.ClientSession() as http:
                await daemon.ready()
                _, match, _ = await bare.wait_for(r"^(\d+)$")
                metrics = f"{daemon.base}/metrics"
                frames = f"http://127.0.0.1:{match[1]}/frames"
                await ex.blast(warm, path="/public/")
                await _drained(http, metrics, "la_ticks_total")
                await ex.blast(warm, path="/bare/")
                sent_bare = warm
                await _drained(http, frames, "frames", sent_bare)
                before, bare_before = rss_mb(daemon.pid), rss_mb(bare.pid)
                accepted = -await _accepted(http, daemon.base)
                for _ in range(options.reps):
                    await ex.blast(n, path="/public/")
                    await _drained(http, metrics, "la_ticks_total")
                    after = rss_mb(daemon.pid)
                    steady.append(after)
                    growth.append(after - before)
                    before = after
                    await ex.blast(n, path="/bare/")
                    sent_bare += n
                    await _drained(http, frames, "frames", sent_bare)
                    bare_after = rss_mb(bare.pid)
                    bare_steady.append(bare_after)
                    bare_growth.append(bare_after - bare_before)
                    bare_before = bare_after
                accepted += await _accepted(http, daemon.base)
    note = (f"daemon process; {warm:,}-frame warm-up, then {n:,} frames per repetition "
            f"(VmRSS after each); the engine accepted {accepted / (n * options.reps):.1%} "
            "of them (any rest: dropped at the provider's full queue)")
    return [
        Row("memory: steady RSS", "MB", steady, bare_steady, "bare consumer",
            target="<= 80 MB", check=lambda m, r: m <= 80.0, note=note),
        Row(f"memory: growth over {n:,} frames", "MB", growth, bare_growth, "bare consumer",
            target="<= 2 MB", check=lambda m, r: m <= 2.0),
    ]
