"""The engine: market data, strategy, watchdog, heartbeat and position sync on one event loop.

``AsyncRunner`` composes the parts (docs/architecture.md has the picture):

- a :class:`SymbolEngine` per symbol: history, last accepted quote, price guard, strategy;
- the :class:`TradingGate`: may new entries go in, may exits run;
- :class:`Health`: heartbeat, liveness for the service manager, position sync, gauges;
- the :class:`EngineController` facade the API and the CLI call;
- a :class:`TaskSupervisor` running the tasks under one TaskGroup:

  ``market_data`` iterates ``provider.listen()``; every tick goes to the symbol engine (price
  guard, then the broker's event-driven exit check), every closed candle to its strategy
  queue. ``strategy`` runs the strategy in a thread on an immutable context. ``watchdog``
  re-checks exits every 100 ms (the safety net). ``heartbeat``, ``position_sync``,
  ``loop_lag``, ``clock_watch`` and ``readiness`` report and watch.

Only the loop thread touches the broker, the history and the gate, so nothing needs a lock.
``run_async_session`` is the one entry point the CLI and the daemon use.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Executor, ThreadPoolExecutor

import aiohttp
from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.price_guard import PriceGuard
from laptop_agents.errors import LaptopAgentsError
from laptop_agents.metrics import Metrics
from laptop_agents.models import (
    Candle,
    ConnectionEvent,
    ConnectionState,
    MarketEvent,
    MarkPrice,
    Tick,
)
from laptop_agents.session.clock_watch import ClockWatch
from laptop_agents.session.control import EngineController
from laptop_agents.session.describe import banner
from laptop_agents.session.health import FeedStatus, Health
from laptop_agents.session.looplag import LoopLagSampler
from laptop_agents.session.outcomes import Outcomes
from laptop_agents.session.ports import Notifier
from laptop_agents.session.startup import StoppedDuringStartup, until_stopped
from laptop_agents.session.symbol_engine import SymbolEngine
from laptop_agents.session.symbol_set import SymbolSet, symbol_gate
from laptop_agents.session.tasks import TaskInfo, TaskSpec, TaskSupervisor
from laptop_agents.session.timeline import Stamp, Timeline
from laptop_agents.session.wiring import EngineParts, SymbolParts, build_parts, open_journal
from laptop_agents.strategy.base import Strategy

GIL_SWITCH_INTERVAL_S = 0.001
CLOCK_WATCH_INTERVAL_S = 1.0
YIELD_EVERY = 64  # items handled between two hand-overs of the loop when a backlog drains


class AsyncRunner:
    """The running engine of one or several symbols over one paper account."""

    def __init__(self, settings: Settings, parts: EngineParts) -> None:
        self.settings = settings
        self.provider = parts.provider
        self.rest = parts.rest
        self.broker = parts.broker
        self.journal = parts.journal
        self.clock = parts.clock
        self.metrics = parts.metrics
        self.notifier = parts.notifier
        self.notifications = parts.notifications  # webhooks (laptop_agents/notify/)
        # Live: the real clocks. Recording or replaying: the record/ package's timelines.
        self.timeline = parts.timeline or Timeline(parts.clock)
        self.api_ready = asyncio.Event()
        self.stopped = asyncio.Event()
        self.feed = FeedStatus()
        self.lag = LoopLagSampler(metrics=self.metrics)
        self.clock_watch = ClockWatch(self.clock.local, self.clock,
                                      settings.pause_detect_seconds)
        self.outcomes = Outcomes(self.metrics, after=self._events_reported,
                                 notifications=self.notifications)
        symbols = parts.symbols()
        self.symbols = SymbolSet([self._symbol_engine(settings, parts, one, len(symbols) > 1)
                                  for one in symbols], parts.journal)
        self.engine = self.symbols.primary  # the one-symbol fields of /status describe it
        self.gate = self.engine.gate
        # Items are handed to their symbol's engine: one dict lookup per tick.
        self._route = self.symbols.by_symbol
        self.health = Health(engine=self.engine, journal=parts.journal, provider=parts.provider,
                             clock=parts.clock, clock_watch=self.clock_watch, lag=self.lag,
                             metrics=self.metrics, notifier=parts.notifier, feed=self.feed,
                             engines=list(self.symbols))
        self.supervisor = TaskSupervisor(self.task_table())
        self.controller = EngineController(
            settings, engine=self.engine, journal=parts.journal, health=self.health,
            feed=self.feed, lag=self.lag, outcomes=self.outcomes,
            tasks=self.supervisor.states, stopped=self.stopped, symbols=self.symbols)
        self._executor: Executor = parts.executor or ThreadPoolExecutor(max_workers=1,
                                                              thread_name_prefix="strategy")

    def _symbol_engine(self, settings: Settings, parts: EngineParts, one: SymbolParts,
                       several: bool) -> SymbolEngine:
        guard = PriceGuard(band=settings.price_band_pct / 100,
                           confirm_quotes=settings.price_confirm_quotes,
                           confirm_seconds=settings.price_confirm_seconds,
                           monotonic=self.timeline.mono)
        broker = one.broker
        gate = symbol_gate(settings, parts.journal, one.instrument.symbol, several, guard,
                           lambda: broker.entries_paused_reason, self.timeline)
        return SymbolEngine(
            settings, instrument=one.instrument, broker=broker, strategy=one.strategy,
            gate=gate, guard=guard, rest=parts.rest, clock=parts.clock,
            metrics=self.metrics, outcomes=self.outcomes,
            on_change=lambda: self.controller.publish_status(force=True),
            candle_cache=one.candles, timeline=self.timeline)

    @classmethod
    async def create(cls, settings: Settings, *, session: aiohttp.ClientSession,
                     clock: ExchangeClock | None = None, metrics: Metrics | None = None,
                     notifier: Notifier | None = None, strategy: Strategy | None = None,
                     strategies: Mapping[str, Strategy] | None = None) -> AsyncRunner:
        """Build every part from ``settings`` (session/wiring.py) on one aiohttp session."""
        return cls(settings, await build_parts(settings, session=session, clock=clock,
                                               metrics=metrics, notifier=notifier,
                                               strategy=strategy, strategies=strategies))

    # --- the tasks ------------------------------------------------------------------------
    def heartbeat_interval(self) -> float:
        interval = self.settings.heartbeat_interval
        watchdog = self.notifier.watchdog_interval()
        return min(interval, watchdog) if watchdog else interval

    def task_table(self) -> dict[str, TaskSpec]:
        s, timer = self.settings, self.timeline.timer
        return {
            "market_data": TaskSpec(self._market_data, "event-driven (every tick/candle)"),
            "strategy": TaskSpec(self._strategy, f"every closed {s.interval} candle"),
            "watchdog": TaskSpec(timer("watchdog", s.watchdog_interval, self._watchdog_pass),
                                 f"every tick + {s.watchdog_interval * 1000:.0f} ms timer"),
            "heartbeat": TaskSpec(self._heartbeat, f"{self.heartbeat_interval():g} s"),
            "position_sync": TaskSpec(timer("sync", s.position_sync_interval, self._sync_pass),
                                      f"{s.position_sync_interval:g} s"),
            "loop_lag": TaskSpec(self._loop_lag, f"{self.lag.interval * 1000:.0f} ms"),
            "clock_watch": TaskSpec(timer("pause", CLOCK_WATCH_INTERVAL_S, self._clock_pass),
                                    f"{CLOCK_WATCH_INTERVAL_S:g} s"),
            "readiness": TaskSpec(self._readiness, "once (API listening + first tick)"),
        }

    async def _market_data(self, info: TaskInfo) -> None:
        start_after = self.symbols.start_after()
        handled = 0
        # The timeline sees each item as it is handled (a recorder appends it to its buffer).
        items = self.timeline.feed(self.provider.listen(start_after_open_time=start_after))
        async for item in items:
            info.ran()
            handled += 1
            try:
                self.on_market_event(item)
            except (LaptopAgentsError, asyncio.CancelledError):
                raise
            except Exception:
                # One item that trips a bug must not end market data (and, through the
                # TaskGroup, the daemon): count it, say which kind, go on with the next.
                self.feed.item_errors += 1
                logger.exception("handling a {} failed ({} so far); skipped",
                                 type(item).__name__, self.feed.item_errors)
            if handled % YIELD_EVERY == 0:
                # A backlog never holds the loop (see YIELD_EVERY). After the item, not before:
                # whatever runs meanwhile then happens between two items, as a replay has it.
                await asyncio.sleep(0)

    def on_market_event(self, item: MarketEvent) -> None:
        if isinstance(item, Tick):
            engine = self._route.get(item.symbol)
            if engine is None:
                return  # a symbol nobody trades
            engine.on_tick(item, time.perf_counter())
            if self.feed.state is ConnectionState.CONNECTING and not engine.gate.feed_connected:
                # Some providers only report CONNECTED implicitly with the first data.
                self._set_feed(ConnectionState.CONNECTED)
        elif isinstance(item, Candle):
            if (engine := self._route.get(item.symbol)) is not None:
                engine.on_candle(item)
        elif isinstance(item, MarkPrice):
            if (engine := self._route.get(item.symbol)) is not None:
                engine.on_mark(item)
        else:
            self.on_connection(item)

    def on_connection(self, event: ConnectionEvent) -> None:
        self.notifications.connection(event)
        on = event.symbols  # empty: the one socket every symbol is on
        if event.state is ConnectionState.LOST:
            self._set_feed(ConnectionState.LOST, event.reason, on)
            logger.warning("market data lost ({}): entries paused", event.reason or "no reason")
        elif event.state is ConnectionState.RECOVERED:
            self.feed.reconnects += 1
            self._set_feed(ConnectionState.CONNECTED, "", on)
            outage = "" if event.outage_s is None else f" after {event.outage_s:.1f}s"
            logger.info("market data recovered{} (reconnected, backfilled)", outage)
        elif event.state is ConnectionState.CONNECTED:
            self._set_feed(ConnectionState.CONNECTED, "", on)
            logger.info("market data connected")
        self.controller.publish_status(force=True)

    def _events_reported(self) -> None:
        """After broker events (orders, fills, trades): gauges and /status follow at once."""
        self.health.update_gauges()
        self.controller.status_changed()

    def _set_feed(self, state: ConnectionState, detail: str = "",
                  symbols: tuple[str, ...] = ()) -> None:
        """A connection's state reaches the gates of the symbols on it (empty: all)."""
        for gate in self.symbols.gates(symbols):
            if state is ConnectionState.CONNECTED:
                gate.feed_up()
            else:
                gate.feed_down(detail or state.value)
        # The feed as a whole: lost while any of its sockets is.
        everywhere = all(gate.feed_connected for gate in self.symbols.gates())
        self.feed.state = state if not symbols or not everywhere else ConnectionState.CONNECTED

    async def _strategy(self, info: TaskInfo) -> None:
        if self.symbols.several:
            await self.symbols.decide_forever(self._executor, info.ran)
        else:
            await self.engine.decide_forever(self._executor, on_decision=info.ran)

    def _watchdog_pass(self, stamp: Stamp) -> float | None:
        checked = self.symbols.watchdog(self.notifications.gate)
        self.health.update_gauges()
        self.controller.publish_status()
        return 0.0 if checked else None  # only a pass that reached the broker is replayed

    def _sync_pass(self, stamp: Stamp) -> float | None:
        self.health.position_sync(stamp.now_ms)
        return 0.0

    async def _heartbeat(self, info: TaskInfo) -> None:
        interval = self.heartbeat_interval()
        while True:
            self.health.beat()
            info.ran()
            await asyncio.sleep(interval)

    async def _loop_lag(self, info: TaskInfo) -> None:
        loop = asyncio.get_running_loop()
        while True:
            expected = loop.time() + self.lag.interval
            await asyncio.sleep(self.lag.interval)
            self.lag.record(loop.time() - expected)
            info.ran()

    def _clock_pass(self, stamp: Stamp) -> float | None:
        # A replay hands back the pause that was detected; live, the clocks are compared.
        pause = stamp.value if self.timeline.replaying else self.health.clock_tick()
        if pause is not None:
            self.on_pause(pause)
        return pause

    def on_pause(self, seconds: float) -> None:
        """The laptop slept or the loop stalled: nothing seen before is fresh, the socket may
        be dead without knowing, and the exchange-clock estimate ran on a stopped clock."""
        logger.warning("resumed after a pause of {:.0f} s: prices marked stale, reconnecting "
                       "and backfilling", seconds)
        self.metrics.pauses_detected.inc()
        self.symbols.mark_stale()
        self.clock.forget()
        self.provider.force_reconnect(f"resumed after a pause of {seconds:.0f} s")
        self.controller.publish_status(force=True)

    async def _readiness(self, info: TaskInfo) -> None:
        await self.engine.first_tick.wait()
        await self.api_ready.wait()
        self.notifier.ready()
        info.ran()
        logger.info("ready: API listening and market data flowing")

    # --- lifecycle ------------------------------------------------------------------------
    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Warm up, run every task until ``stop`` is set (or a task fails), then clean up.

        Raises the first :class:`LaptopAgentsError` a task raised (feed refused, auth), else
        the first other exception.
        """
        stop = stop or asyncio.Event()
        # A CPU-bound strategy thread holds the GIL for up to the switch interval (5 ms) each
        # time the loop wants it back, and an exit's journal transaction gives the GIL up at
        # every SQLite call. A 1 ms interval keeps a crossing tick's exit fast meanwhile.
        previous_switch = sys.getswitchinterval()
        sys.setswitchinterval(min(previous_switch, GIL_SWITCH_INTERVAL_S))
        try:
            try:
                # A signal during a slow warm-up (REST retries on a bad network) must still
                # end the process cleanly within the shutdown budget, not after the retries.
                await until_stopped(self._prepare(), stop)
            except StoppedDuringStartup:
                logger.info("stop requested during warm-up: not starting the tasks")
                return
            self.health.update_gauges()
            logger.info(banner(self.settings, len(self.engine.history),
                               self.engine.strategy.name, self.engine.warmup,
                               {name: info.interval for name, info in self.supervisor.info.items()},
                               self.gate.reasons()))
            self.clock_watch.restart()  # measure from now: warm-up took time
            self.notifications.started(self.settings.source, self.engine.strategy.name)
            await self.supervisor.run(stop, self.shutdown)
        finally:
            sys.setswitchinterval(previous_switch)
            await self._close()

    async def _prepare(self) -> None:
        await self.symbols.warm_up()
        await self.symbols.subscribe(self.provider, self.settings.interval)

    async def shutdown(self) -> None:
        """Stop new entries, optionally flatten; the supervisor then cancels in order."""
        await self.timeline.point("stop")  # a flatten on exit judges freshness here
        logger.info("shutting down: entries stopped")
        self.symbols.shutting_down()
        self.notifier.stopping()
        self.notifier.status("stopping")
        if self.settings.flatten_on_exit:
            self.outcomes.report(self.symbols.flatten_on_exit(), None)
        else:
            self.symbols.log_kept()

    async def aclose(self) -> None:
        """Release the journal and the socket without running (idempotent)."""
        if not self.stopped.is_set():
            await self._close()

    async def _close(self) -> None:
        """Flush the journal and close the socket (the session belongs to the caller)."""
        if self.stopped.is_set():
            return
        self._executor.shutdown(wait=False, cancel_futures=True)
        self.symbols.close()
        with contextlib.suppress(Exception):
            await self.provider.close()
        try:
            if any(e.last_tick is not None or e.history for e in self.symbols):
                self.journal.record_equity(self.clock.now_ms(), self.engine.equity())
            self.journal.close()
        except Exception:
            logger.exception("journal flush failed")
        await self.timeline.aclose()
        await self.notifications.aclose()  # "stopped", then a flush of at most 1.5 s
        self.stopped.set()
        logger.info("engine stopped")


async def run_async_session(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    clock: ExchangeClock | None = None,
    metrics: Metrics | None = None,
    notifier: Notifier | None = None,
    strategy: Strategy | None = None,
    on_runner: Callable[[AsyncRunner], Awaitable[None]] | None = None,
) -> AsyncRunner:
    """Run the engine until ``stop`` is set; return the runner.

    With ``source=sim`` the embedded simulator is started first (and stopped last); the engine
    still learns its time from the simulator's pushes. One aiohttp session carries every REST
    and WebSocket connection. ``on_runner`` is awaited once the runner is built and before it
    starts (the daemon serves the API there). A stop during the build (trading rules over a
    bad network) raises :class:`StoppedDuringStartup`. The caller owns signals and logging.
    """
    stop = stop or asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        if settings.source == "sim":
            from laptop_agents.sim.embedded import start_embedded, stop_embedded

            journal = open_journal(settings)  # holds where the simulated market resumes
            stack.callback(journal.close)
            sim, settings = await start_embedded(settings, journal)
            stack.push_async_callback(stop_embedded, sim, journal)
            logger.info("embedded simulator on {} (speed x{:g}, seed {})",
                        settings.bitunix_ws_url, settings.sim_speed, settings.sim_seed)
        session = await stack.enter_async_context(aiohttp.ClientSession())
        runner = await until_stopped(
            AsyncRunner.create(settings, session=session, clock=clock, metrics=metrics,
                               notifier=notifier, strategy=strategy), stop)
        stack.push_async_callback(runner.aclose)  # if on_runner fails (the API port is taken)
        if on_runner is not None:
            await on_runner(runner)
        await runner.run(stop)
    return runner


__all__ = ["AsyncRunner", "StoppedDuringStartup", "run_async_session", "until_stopped"]
