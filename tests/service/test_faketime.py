"""The real daemon under Debian's faketime: the laptop's clock five minutes behind or ahead of
an exchange (a separate simulator, not under faketime) whose clock runs 20x faster than the
daemon believes. Every closed candle reaches the strategy once, with REST's values, across a
dropped connection and a silent stall."""

from __future__ import annotations

import asyncio
import glob
import shutil
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange
from tests.support.daemon import DaemonProcess
from tests.support.waiting import wait_until_async

TOKEN = "faketime-test-token-0123"
MINUTE = 60_000

pytestmark = pytest.mark.skipif(shutil.which("faketime") is None,
                                reason="Debian's faketime is not installed (.ci/run installs it)")


# The library itself, preloaded: Debian's `faketime` wrapper keeps a named semaphore and
# shared memory per wrapper PID in /dev/shm and leaves them behind when the daemon it wraps
# is stopped by a signal; on a machine that ran it often, a reused PID then fails with
# "sem_open: File exists". Without the wrapper nothing is shared or left behind.
LIBFAKETIME = next(iter(sorted(glob.glob("/usr/lib/*/faketime/libfaketime.so.1")
                               + glob.glob("/usr/lib/faketime/libfaketime.so.1"))), None)


def faketime_prefix(skew: str) -> list[str]:
    return [] if LIBFAKETIME else ["faketime", "-f", skew]


def faketime_env(skew: str) -> dict[str, str]:
    return {"LD_PRELOAD": LIBFAKETIME, "FAKETIME": skew} if LIBFAKETIME else {}


async def status(http: aiohttp.ClientSession, base: str) -> dict[str, Any]:
    async with http.get(f"{base}/status") as response:
        result: dict[str, Any] = await response.json()
        return result


@pytest.mark.parametrize("skew", ["-5m", "+5m"])
async def test_skewed_laptop_against_a_20x_exchange(skew: str, tmp_path: Path) -> None:
    async with SimExchange(SimOptions(seed=9, speed=20.0, kline_push_ms=250, depth_push_ms=100,
                                      history_minutes=400)) as sim:
        daemon = DaemonProcess(tmp_path / "data", TOKEN, prefix=faketime_prefix(skew), env={
            **faketime_env(skew), "LA_SOURCE": "bitunix", "LA_BITUNIX_WS_URL": sim.ws_url,
            "LA_BITUNIX_PRIVATE_WS_URL": sim.private_ws_url,
            "LA_BITUNIX_REST_URL": sim.rest_url, "LA_HISTORY_CANDLES": "120",
            "LA_WS_SILENCE_TIMEOUT": "1", "LA_WS_PING_INTERVAL": "0.5",
            "LA_WS_PONG_TIMEOUT": "1", "LA_WS_BACKOFF_INITIAL": "0.1",
            "LA_CANDLE_CLOSE_GRACE": "0.2",
            # Only the wall clock is off, as on a laptop without NTP.
            "FAKETIME_DONT_FAKE_MONOTONIC": "1",
        })
        try:
            base = await asyncio.to_thread(daemon.url)
            async with aiohttp.ClientSession() as http:
                async def reconnects(n: int) -> bool:
                    return int((await status(http, base))["feed"]["reconnects"]) >= n

                async def ticking() -> bool:
                    age = (await status(http, base))["feed"]["last_tick_age_s"]
                    return age is not None and age < 1

                await wait_until_async(ticking, 20, "first ticks")
                offset = (await status(http, base))["feed"]["clock_offset_ms"]
                assert offset is None or abs(offset) > 60_000  # the laptop is minutes off
                sim.drop_all()
                await wait_until_async(lambda: reconnects(1), 10, "reconnect after a drop")
                sim.stall()  # silent: 1 s of it is 20 s at the exchange
                await wait_until_async(lambda: reconnects(2), 10, "reconnect after a stall")
                async def last_open() -> int:
                    async with http.get(f"{base}/candles?limit=1") as response:
                        return int((await response.json())["candles"][-1]["open_time"])

                first = await last_open()

                async def more_candles() -> bool:
                    return await last_open() >= first + 2 * MINUTE

                await wait_until_async(more_candles, 15, "live candles after the stall")
                async with http.get(f"{base}/candles?limit=40") as response:
                    candles = (await response.json())["candles"]
        finally:
            await asyncio.to_thread(daemon.stop)
        opens = [c["open_time"] for c in candles]
        assert opens == list(range(opens[0], opens[0] + MINUTE * len(opens), MINUTE))
        truth = sim.closed_candles("BTCUSDT", "1min", start_ms=opens[0],
                                   end_ms=opens[-1] + MINUTE)
        assert [(c["open_time"], c["open"], c["high"], c["low"], c["close"], c["volume"])
                for c in candles] == [
            (t.open_time, str(t.open), str(t.high), str(t.low), str(t.close), str(t.volume))
            for t in truth]
        assert "Traceback" not in daemon.log(400)
