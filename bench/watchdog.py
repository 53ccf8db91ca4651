"""The watchdog micro-benchmark: how much sooner an event-driven watchdog exits than polling.

A position is open with a stop. At a random instant a tick that crosses the stop arrives on a
queue (as the market-data task would deliver it). Three designs react:

- event: the engine's design - the tick is checked by the real PaperBroker as it arrives;
- poll-100ms: a timer checks the latest price every 100 ms (a typical polling watchdog);
- loop-5s: a strategy loop checks every 5 s (freqtrade's default cadence).

Reaction time = crossing tick's arrival -> exit fill, in-process, no socket (figure 2 adds the
socket, the parser and the real engine). Each repetition takes the median of its trials; the
table reports them against the event-driven design. A last row shows what the journal's
durable (synchronous=FULL) fill writes add to a reaction.
"""

from __future__ import annotations

import asyncio
import itertools
import random
import statistics
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench.stats import Options
from bench.table import Row
from laptop_agents.config import Settings
from laptop_agents.models import DEFAULT_BTCUSDT, Side, Tick
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.models import TradeClosed
from laptop_agents.storage.journal import Journal
from laptop_agents.strategy.base import OrderIntent

D = Decimal
ENTRY = D("50000.0")
STOP = D("49900.0")
TARGET = D("50400.0")


def _tick(bid: Decimal, ts: int) -> Tick:
    return Tick("BTCUSDT", bid, bid + D("0.1"), D(1), D(1), bid, ts)


def _open(broker: PaperBroker, ts: int) -> None:
    intent = OrderIntent(Side.LONG, "market", D("0.01"), ENTRY, STOP, TARGET, "bench",
                         "bench entry", D(50))
    result = broker.submit(intent, _tick(ENTRY, ts), ts)
    assert result.accepted, result.reason


async def _trial(broker: PaperBroker, period: float | None, rng: random.Random, ts: int) -> float:
    """One crossing tick; returns seconds from its arrival to the exit fill."""
    _open(broker, ts)
    queue: asyncio.Queue[tuple[float, Tick]] = asyncio.Queue()
    latest: list[tuple[float, Tick]] = []
    done: asyncio.Future[float] = asyncio.get_running_loop().create_future()

    def check(arrived: float, tick: Tick) -> None:
        if not done.done() and any(isinstance(e, TradeClosed) for e in broker.on_tick(tick)):
            done.set_result(time.perf_counter() - arrived)

    async def consumer() -> None:
        while True:
            arrived, tick = await queue.get()
            if period is None:
                check(arrived, tick)
            else:
                latest[:] = [(arrived, tick)]

    async def poller(interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            if latest:
                check(*latest[0])

    tasks = [asyncio.create_task(consumer())]
    if period is not None:
        tasks.append(asyncio.create_task(poller(period)))
    # The market does not know the poller's phase: the crossing tick lands at a uniformly
    # random point of the polling period.
    await asyncio.sleep(rng.uniform(0, period or 0.05))
    queue.put_nowait((time.perf_counter(), _tick(STOP - D(5), ts + 1)))
    reaction = await done
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return reaction


_minutes = itertools.count()


async def _median_reaction(broker: PaperBroker, period: float | None, trials: int,
                           seed: int) -> float:
    rng = random.Random(seed)
    results: list[float] = []
    for _ in range(trials):
        # Each entry needs its own instant: the broker treats a repeated client order id
        # (symbol, setup, side, time) as the same order and places nothing.
        ts = 1_767_225_600_000 + next(_minutes) * 60_000
        results.append(await _trial(broker, period, rng, ts))
    return statistics.median(results)


async def run(options: Options) -> list[Row]:
    settings = Settings(max_orders_per_minute=1000, daily_loss_cap_pct=D("1"))
    broker = PaperBroker(settings, DEFAULT_BTCUSDT)
    trials = {"event": options.scale(40, 10), "poll-100ms": options.scale(40, 10),
              "loop-5s": 1}
    periods = {"event": None, "poll-100ms": 0.1, "loop-5s": 5.0}
    medians: dict[str, list[float]] = {name: [] for name in [*trials, "journaled"]}
    with tempfile.TemporaryDirectory(prefix="bench-watchdog-") as tmp:
        journal = Journal(Path(tmp) / "bench.sqlite3")
        durable = PaperBroker(settings, DEFAULT_BTCUSDT, journal)
        for rep in range(options.reps):
            for name, n in trials.items():
                medians[name].append(
                    await _median_reaction(broker, periods[name], n, seed=rep) * 1000)
            medians["journaled"].append(
                await _median_reaction(durable, None, trials["event"], seed=100 + rep) * 1000)
        journal.close()
    event = medians["event"]
    note = "in-process PaperBroker, ticks on a queue, no socket; median per repetition"
    return [
        Row("watchdog micro: event vs poll-100ms", "ms", event, medians["poll-100ms"],
            "poll-100ms", note=note),
        Row("watchdog micro: event vs loop-5s", "ms", event, medians["loop-5s"], "loop-5s",
            note="one loop-5s trial per repetition"),
        Row("watchdog micro: journaled vs in-memory", "ms", medians["journaled"], event,
            "in-memory", note="fills fsynced to the SQLite journal (WAL, synchronous=FULL)"),
    ]
