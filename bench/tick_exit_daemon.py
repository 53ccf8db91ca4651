"""Figure 2's cross-check in the real daemon process: one crossing frame per daemon start.

A long position is seeded into a fresh journal before the start (as tests/engine/
test_restart.py does); ``python -m laptop_agents run --source bitunix`` restores it, connects
to the blaster and the simulator, and the exchange writes one frame through the stop. Two
figures per start:

- socket -> log line: the exchange's write to the arrival of the daemon's "trade closed" line
  on the bench's end of its stderr pipe (it is logged right after the journal commit, so this
  adds a log line's formatting and the pipe);
- in-daemon: ``la_watchdog_reaction_seconds_sum`` from its ``/metrics`` (the one observation).

No poller baseline here: the process cannot be switched to a poll-only design.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from decimal import Decimal
from pathlib import Path

import aiohttp

from bench.daemon import exchange_daemon, running
from bench.exchange import Exchange
from bench.stats import Options
from bench.table import Row
from laptop_agents.config import Settings
from laptop_agents.models import DEFAULT_BTCUSDT, Side, Tick
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.session.wiring import journal_path
from laptop_agents.storage.journal import Journal
from laptop_agents.strategy.base import OrderIntent

D = Decimal
BAND = D("200")
CROSS = D("300")


def seed_position(data_dir: Path, center: Decimal, rest_url: str, ws_url: str) -> None:
    # The daemon's own market URLs: a non-default market has a journal of its own.
    settings = Settings(source="bitunix", data_dir=data_dir, bitunix_rest_url=rest_url,
                        bitunix_ws_url=ws_url)
    data_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(journal_path(settings))
    broker = PaperBroker(settings, DEFAULT_BTCUSDT, journal)
    now = time.time_ns() // 1_000_000
    tick = Tick("BTCUSDT", center, center + D("0.1"), D(1), D(1), center, now)
    intent = OrderIntent(Side.LONG, "market", D("0.001"), tick.ask, center - BAND,
                         center + BAND, "bench", "seeded", D("10"))
    result = broker.submit(intent, tick, now)
    assert result.accepted, result.reason
    journal.close()


async def one_start(ex: Exchange, data_dir: Path) -> tuple[float, float]:
    """(socket -> log line, in-daemon) seconds for one crossing frame."""
    center = await ex.center()
    seed_position(data_dir, center, ex.rest_url, ex.blast_ws_url)
    daemon = exchange_daemon(data_dir, ex.rest_url, ex.blast_ws_url)
    async with running(daemon), aiohttp.ClientSession() as http:
        await daemon.ready()
        _, _, index = await daemon.wait_for(r"ready: API listening")
        await asyncio.sleep(0.3)  # let start-up's bookkeeping settle
        center = await ex.center()
        sent = await ex.quote(center - CROSS, center - CROSS + D("0.1"), path="/public/")
        logged, _, _ = await daemon.wait_for(r"trade closed pnl=", timeout=10, start=index)
        async with http.get(f"{daemon.base}/metrics") as response:
            text = await response.text()
    internal = next(float(line.split()[1]) for line in text.splitlines()
                    if line.startswith("la_watchdog_reaction_seconds_sum "))
    return (logged - sent) / 1e9, internal


async def run(options: Options, ex: Exchange) -> list[Row]:
    external: list[float] = []
    internal: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-exit-daemon-") as tmp:
        for rep in range(options.reps):
            x, i = await one_start(ex, Path(tmp) / f"r{rep}")
            external.append(x * 1000)
            internal.append(i * 1000)
    return [
        Row("tick->exit, daemon process: socket->log", "ms", external,
            note="real daemon process, one crossing frame per start (position seeded into "
                 "the journal); ends at the 'trade closed' line's arrival on the pipe"),
        Row("tick->exit, daemon process: in-daemon", "ms", internal),
    ]
