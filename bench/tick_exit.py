"""Figure 2, tick -> exit: a crossing best bid/offer leaves the exchange's socket; how long
until the exit fill is committed to the journal?

In-process engine, real socket, real journal: the engine (``AsyncRunner``) runs in the bench
process against the exchange process over a real local WebSocket, and commits fills to a real
SQLite journal (WAL, synchronous=FULL) in a temporary directory. A trial opens a long
position through ``runner.broker.submit``, waits a random fraction of the watchdog period,
asks the exchange to write one crossing frame (alternately through the stop and through the
target) and waits for the exit. Two clocks, both CLOCK_MONOTONIC (comparable across the two
processes):

- socket -> commit: the exchange's time just before it wrote the frame, to the return of the
  broker call that committed the exit (a wrapper around ``broker.on_tick``);
- in-engine: the daemon's own ``la_watchdog_reaction_seconds`` observation of that trial
  (from the tick's hand-over to the engine, after parsing and the provider's queue, to the
  fill reported), read as the change of the histogram's sum.

Baseline, same run, same engine: a poll-only watchdog. Ticks still pass the price guard and
set the latest price, but the exit is only checked by the engine's 100 ms watchdog timer.
"""

from __future__ import annotations

import asyncio
import random
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from bench import tick_exit_daemon
from bench.engine import TickCounter, bench_settings, running_engine
from bench.exchange import Exchange
from bench.stats import Options, percentile
from bench.table import Row
from laptop_agents.models import Side, Tick
from laptop_agents.paper.models import BrokerEvent, TradeClosed
from laptop_agents.session.async_session import AsyncRunner
from laptop_agents.session.render import tick_view
from laptop_agents.session.symbol_engine import SymbolEngine
from laptop_agents.strategy.base import OrderIntent

D = Decimal
QTY = D("0.001")
BAND = D("200")  # stop and target this far from the entry
CROSS = D("300")  # the crossing quote this far from the centre
TRIAL_TIMEOUT_S = 5.0
REACTION_SUM = "la_watchdog_reaction_seconds_sum"


def _poll_only(engine: SymbolEngine) -> Callable[[Tick, float], None]:
    """SymbolEngine.on_tick without the event-driven exit check (the poller baseline)."""

    def on_tick(tick: Tick, arrived: float) -> None:
        if tick.symbol != engine.symbol or engine.guard.check(tick) is not None:
            return
        engine.last_tick = tick
        engine.last_tick_arrival = arrived
        engine.gate.tick_arrived()
        engine.outcomes.publisher.publish("tick", tick_view(tick))

    return on_tick


class _ExitWatch:
    """Wraps ``broker.on_tick``: the monotonic ns at which an exit's commit returned."""

    def __init__(self, runner: AsyncRunner) -> None:
        self.exited: asyncio.Future[int] | None = None
        broker = runner.broker
        inner = broker.on_tick

        def on_tick(tick: Tick) -> list[BrokerEvent]:
            events = inner(tick)
            if any(isinstance(e, TradeClosed) for e in events):
                now = time.monotonic_ns()
                if self.exited is not None and not self.exited.done():
                    self.exited.set_result(now)
            return events

        setattr(broker, "on_tick", on_tick)  # noqa: B010 - an instance override

    def arm(self) -> asyncio.Future[int]:
        self.exited = asyncio.get_running_loop().create_future()
        return self.exited


async def _settle(runner: AsyncRunner, counter: TickCounter, ex: Exchange,
                  center: Decimal) -> None:
    """Put the latest accepted quote back at ``center`` (the next entry's price)."""
    async with asyncio.timeout(TRIAL_TIMEOUT_S):
        while (tick := runner.engine.last_tick) is None or tick.bid != center:
            handed = counter.arm(1)
            await ex.quote(center, center + D("0.1"))
            await handed


async def _trials(runner: AsyncRunner, counter: TickCounter, ex: Exchange, watch: _ExitWatch,
                  n: int, delay: float, rng: random.Random) -> tuple[list[float], list[float]]:
    """``n`` trials; (socket -> commit, in-engine) seconds."""
    external: list[float] = []
    internal: list[float] = []
    registry = runner.metrics.registry
    for i in range(n):
        center = await ex.center()
        await _settle(runner, counter, ex, center)
        tick = runner.engine.last_tick
        assert tick is not None and runner.broker.position is None
        intent = OrderIntent(Side.LONG, "market", QTY, tick.ask, center - BAND, center + BAND,
                             "bench", "tick->exit trial", D("10"))
        result = runner.broker.submit(intent, tick, runner.clock.now_ms())
        assert result.accepted, result.reason
        await asyncio.sleep(rng.uniform(0, delay))
        exited = watch.arm()
        before = registry.get_sample_value(REACTION_SUM) or 0.0
        bid = center - CROSS if i % 2 == 0 else center + CROSS
        sent = await ex.quote(bid, bid + D("0.1"))
        committed = await asyncio.wait_for(exited, TRIAL_TIMEOUT_S)
        await asyncio.sleep(0)  # the engine reports (and observes) right after the commit
        external.append((committed - sent) / 1e9)
        internal.append((registry.get_sample_value(REACTION_SUM) or 0.0) - before)
    return external, internal


async def run(options: Options) -> list[Row]:
    n_event = options.scale(200, 40)
    n_poll = options.scale(100, 20)
    rng = random.Random(13)
    series: dict[str, list[list[float]]] = {k: [] for k in ("ev_x", "ev_i", "po_x", "po_i")}
    async with Exchange() as ex:
        with tempfile.TemporaryDirectory(prefix="bench-exit-") as tmp:
            settings = bench_settings(ex.rest_url, ex.blast_ws_url, Path(tmp))
            async with running_engine(settings) as (runner, counter):
                await ex.call("live", on=False)  # only the trials' frames from here on
                watch = _ExitWatch(runner)
                period = settings.watchdog_interval
                await _trials(runner, counter, ex, watch, 10, 0.01, rng)  # warm-up, not counted
                for _ in range(options.reps):
                    x, i = await _trials(runner, counter, ex, watch, n_event, period / 5, rng)
                    series["ev_x"].append(x)
                    series["ev_i"].append(i)
                    setattr(runner.engine, "on_tick", _poll_only(runner.engine))  # noqa: B010
                    try:
                        x, i = await _trials(runner, counter, ex, watch, n_poll, period, rng)
                    finally:
                        delattr(runner.engine, "on_tick")
                    series["po_x"].append(x)
                    series["po_i"].append(i)
                await ex.call("live", on=True)
            await ex.call("wait_closed")
            daemon_rows = await tick_exit_daemon.run(options, ex)

    def pct(key: str, p: float) -> list[float]:
        return [percentile(s, p) * 1000 for s in series[key]]

    where = (f"in-process engine, real socket, real journal; {n_event} trials per repetition "
             f"(poller: {n_poll})")
    return [
        Row("tick->exit p50, socket->commit", "ms", pct("ev_x", 50), pct("po_x", 50),
            "poll-100ms", target="<= 0.5 ms", check=lambda m, r: m <= 0.5, note=where),
        Row("tick->exit p99, socket->commit", "ms", pct("ev_x", 99), pct("po_x", 99),
            "poll-100ms", target="<= 2 ms, ratio <= 0.02",
            check=lambda m, r: m <= 2.0 and r <= 0.02),
        Row("tick->exit p50, in-engine histogram", "ms", pct("ev_i", 50), pct("po_i", 50),
            "poll-100ms", note="la_watchdog_reaction_seconds: tick handed to the engine -> "
            "exit reported; excludes the socket, the parse and the provider's queue"),
        Row("tick->exit p99, in-engine histogram", "ms", pct("ev_i", 99), pct("po_i", 99),
            "poll-100ms"),
        *daemon_rows,
    ]
