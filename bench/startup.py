"""Figure 5, start-up: exec -> first tick on the embedded default.

``python -m laptop_agents run`` with a fresh temporary LA_DATA_DIR and LA_API_PORT=0 (the
built-in simulator, in-process): from just before the exec to the arrival of its "first tick"
log line on the bench's end of the stderr pipe.

Baseline, same run: exec -> a bare aiohttp server answering ``GET /healthz`` (it prints its
port once listening; the bench then asks).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import aiohttp

from bench.daemon import Daemon, bare_process, running
from bench.stats import Options
from bench.table import Row


async def daemon_first_tick(data_dir: Path) -> float:
    daemon = Daemon(data_dir)
    async with running(daemon):
        at, _, _ = await daemon.wait_for(r"first tick: bid=")
        return (at - daemon.exec_ns) / 1e9


async def bare_answer() -> float:
    bare = bare_process("serve")
    async with running(bare), aiohttp.ClientSession() as session:
        _, match, _ = await bare.wait_for(r"^(\d+)$")
        async with session.get(f"http://127.0.0.1:{match[1]}/healthz") as response:
            await response.read()
            assert response.status == 200
        return (time.monotonic_ns() - bare.exec_ns) / 1e9


async def run(options: Options) -> list[Row]:
    values: list[float] = []
    baseline: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-start-") as tmp:
        await bare_answer()  # warm the page cache for both (imports), not counted
        await daemon_first_tick(Path(tmp) / "warm")
        for rep in range(options.reps):
            baseline.append(await bare_answer())
            values.append(await daemon_first_tick(Path(tmp) / f"r{rep}"))
    return [Row("start-up: exec -> first tick", "s", values, baseline, "bare aiohttp",
                target="<= 0.8 s", check=lambda m, r: m <= 0.8,
                note="embedded simulator, fresh data dir, LA_API_PORT=0; baseline: exec -> "
                     "a bare aiohttp server's first answer")]
