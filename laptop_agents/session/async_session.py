"""The engine: market data, strategy, watchdog, heartbeat and position sync on one event loop.

Tasks (structured concurrency, one ``asyncio.TaskGroup``; a failure in one cancels the rest and
propagates; a stop request cancels them in a fixed order):

- ``market_data``  iterates ``provider.listen()``; every tick goes straight to the broker's
  SL/TP/trailing check (the event-driven watchdog) and every closed candle to the strategy queue.
- ``strategy``     takes closed candles from its bounded queue, runs the strategy in a thread
  executor on an immutable snapshot (a tuple) of the history, and applies the intent on the loop.
- ``watchdog``     every ``watchdog_interval`` (100 ms) re-checks the open position against the
  latest fresh price (the safety net) and refreshes the trading gate.
- ``heartbeat``    one health line per ``heartbeat_interval``; the only place that pets the
  service manager's watchdog.
- ``position_sync`` reconciles the in-memory broker with the journal.
- ``loop_lag``     samples event-loop lag.

Only the loop thread touches the broker, the history and the gate, so nothing needs a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from typing import Any, Protocol, TypeVar

from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.price_guard import PriceGuard
from laptop_agents.data.providers.neterrors import describe_connect_error
from laptop_agents.errors import LaptopAgentsError
from laptop_agents.metrics import Metrics
from laptop_agents.models import Candle, ConnectionEvent, ConnectionState, Instrument, Tick
from laptop_agents.session import adapters
from laptop_agents.session.clock_watch import ClockWatch
from laptop_agents.session.controller import FeedPublisher
from laptop_agents.session.gate import TradingGate
from laptop_agents.session.looplag import LoopLagSampler
from laptop_agents.session.render import candle_payload, jsonable, tick_payload

# Loop lag above this is not "sane": the heartbeat then withholds WATCHDOG=1 so the service
# manager restarts a process whose loop is stuck.
SANE_LOOP_LAG_S = 1.0
STATUS_PUBLISH_PERIOD_S = 1.0
GIL_SWITCH_INTERVAL_S = 0.001
T = TypeVar("T")
STRATEGY_FAILURE_LIMIT = 3  # consecutive strategy exceptions before the engine gives up
# Order in which a stop request cancels the tasks: first nothing new comes in, last the
# liveness reporting, so a slow shutdown is still visible.
SHUTDOWN_ORDER = ("market_data", "strategy", "watchdog", "position_sync", "clock_watch",
                  "loop_lag", "heartbeat", "readiness")
CLOCK_WATCH_INTERVAL_S = 1.0
QUOTE_CHECK_MIN_INTERVAL_S = 2.0  # REST depth reads asked for by the price guard, at most


class Notifier(Protocol):
    """The service manager (sd_notify). service.SdNotifier fits; NullNotifier does nothing."""

    def ready(self) -> object: ...

    def status(self, line: str) -> object: ...

    def watchdog(self) -> object: ...

    def stopping(self) -> object: ...

    def watchdog_interval(self) -> float | None: ...


class NullNotifier:
    def ready(self) -> None:
        pass

    def status(self, line: str) -> None:
        pass

    def watchdog(self) -> None:
        pass

    def stopping(self) -> None:
        pass

    def watchdog_interval(self) -> float | None:
        return None


class _NullPublisher:
    def publish(self, kind: str, payload: dict[str, Any]) -> None:
        pass


class _TaskInfo:
    __slots__ = ("interval", "last_run", "runs")

    def __init__(self, interval: str) -> None:
        self.interval = interval
        self.last_run: float | None = None
        self.runs = 0


class AsyncRunner:
    """The running engine; also the :class:`~laptop_agents.session.controller.Controller`."""

    def __init__(
        self,
        settings: Settings,
        *,
        provider: Any,
        rest: Any,
        broker: Any,
        journal: Any,
        strategy: Any,
        instrument: Instrument,
        clock: ExchangeClock,
        metrics: Metrics | None = None,
        notifier: Notifier | None = None,
    ) -> None:
        self.settings = settings
        self.provider = provider
        self.rest = rest
        self.broker = broker
        self.journal = journal
        self.strategy = strategy
        self.instrument = instrument
        self.clock = clock
        self.metrics = metrics or Metrics()
        self.notifier: Notifier = notifier or NullNotifier()
        self.source = settings.source
        self.symbol = settings.symbol
        self.guard = PriceGuard(band=settings.price_band_pct / 100,
                                confirm_quotes=settings.price_confirm_quotes,
                                confirm_seconds=settings.price_confirm_seconds)
        self.gate = TradingGate(
            stale_after=settings.stale_after,
            kill_file=settings.kill_file,
            store=journal,
            manual_pause=adapters.load_pause(journal),
            risk_reason=lambda: adapters.risk_reason(self.broker),
            suspect_for=self.guard.suspect_for,
        )
        self.clock_watch = ClockWatch(clock.local, clock, settings.pause_detect_seconds)
        self._quote_check: asyncio.Task[None] | None = None
        self._quote_check_at = float("-inf")
        self.lag = LoopLagSampler(metrics=self.metrics)
        self.history: deque[Candle] = deque(maxlen=settings.history_candles)
        self.first_tick = asyncio.Event()
        self.api_ready = asyncio.Event()
        self.stopped = asyncio.Event()
        self.last_tick: Tick | None = None
        self._last_tick_arrival: float | None = None  # perf_counter of the latest tick
        self._candles_q: asyncio.Queue[Candle] = asyncio.Queue(maxsize=settings.queue_size)
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="strategy")
        self._publisher: FeedPublisher = _NullPublisher()
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._info: dict[str, _TaskInfo] = {}
        self._started_mono = time.monotonic()
        self._last_status_publish = 0.0
        self._reconnects = 0
        self._candles_dropped = 0
        self._drift_count = 0
        self._decisions = 0
        self._item_errors = 0  # market-data items whose handling raised (and were skipped)
        self._last_decision: str = ""
        self._feed_state = "connecting"
        self.strategy_runtime_max = 0.0

    # ------------------------------------------------------------------------------------
    # construction
    # ------------------------------------------------------------------------------------
    @classmethod
    async def create(
        cls,
        settings: Settings,
        *,
        session: Any,
        clock: ExchangeClock | None = None,
        metrics: Metrics | None = None,
        notifier: Notifier | None = None,
        strategy: Any = None,
    ) -> AsyncRunner:
        """Build every part from ``settings`` on one aiohttp ``session``.

        ``clock`` estimates exchange time from the exchange's own timestamps; it is never the
        simulator's clock (tests inject one with a skewed laptop clock)."""
        from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
        from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider

        metrics = metrics or Metrics()
        clock = clock or ExchangeClock()
        rest = BitunixRestClient(session, settings, clock)
        instrument = await adapters.fetch_instrument(rest, settings.symbol,
                                                     settings.bitunix_rest_url)
        journal = adapters.open_journal(settings)
        broker = adapters.make_broker(settings, instrument, journal, lambda: clock.speed)
        if strategy is None:
            from laptop_agents.strategy import Supervisor

            strategy = Supervisor(settings)
        provider = BitunixWSProvider(session, settings, rest=rest, clock=clock, metrics=metrics)
        return cls(settings, provider=provider, rest=rest, broker=broker, journal=journal,
                   strategy=strategy, instrument=instrument, clock=clock, metrics=metrics,
                   notifier=notifier)

    # ------------------------------------------------------------------------------------
    # lifecycle
    # ------------------------------------------------------------------------------------
    def task_table(self) -> dict[str, tuple[Callable[[], Awaitable[None]], str]]:
        s = self.settings
        return {
            "market_data": (self._market_data_task, "event-driven (every tick/candle)"),
            "strategy": (self._strategy_task, f"every closed {s.interval} candle"),
            "watchdog": (self._watchdog_task,
                         f"every tick + {s.watchdog_interval * 1000:.0f} ms timer"),
            "heartbeat": (self._heartbeat_task, f"{self.heartbeat_interval():g} s"),
            "position_sync": (self._position_sync_task, f"{s.position_sync_interval:g} s"),
            "loop_lag": (self._loop_lag_task, f"{self.lag.interval * 1000:.0f} ms"),
            "clock_watch": (self._clock_watch_task, f"{CLOCK_WATCH_INTERVAL_S:g} s"),
            "readiness": (self._readiness_task, "once (API listening + first tick)"),
        }

    def heartbeat_interval(self) -> float:
        interval = self.settings.heartbeat_interval
        watchdog = self.notifier.watchdog_interval()
        if watchdog:
            interval = min(interval, watchdog)
        return interval

    async def run(self, stop: asyncio.Event | None = None) -> None:
        """Warm up, run every task until ``stop`` is set (or a task fails), then clean up.

        Raises the first :class:`LaptopAgentsError` a task raised (feed refused, auth), else the
        first other exception.
        """
        stop = stop or asyncio.Event()
        self._started_mono = time.monotonic()
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
            self._update_gauges()
            table = self.task_table()
            self._info = {name: _TaskInfo(interval) for name, (_, interval) in table.items()}
            self._log_banner()
            try:
                async with asyncio.TaskGroup() as group:
                    for name, (factory, _) in table.items():
                        self._tasks[name] = group.create_task(self._guard(name, factory),
                                                              name=name)
                    group.create_task(self._stop_when(stop), name="stopper")
            except BaseExceptionGroup as group_error:
                raise _first_error(group_error) from None
        finally:
            sys.setswitchinterval(previous_switch)
            await self._close()

    async def _prepare(self) -> None:
        await self.warm_up()
        await adapters.subscribe(self.provider, self.symbol, self.settings.interval)

    async def _guard(self, name: str, factory: Callable[[], Awaitable[None]]) -> None:
        try:
            await factory()
        except asyncio.CancelledError:
            raise
        except LaptopAgentsError as error:
            logger.error("task {} stopped: {}", name, error)
            raise
        except Exception:
            logger.exception("task {} crashed", name)
            raise

    async def _stop_when(self, stop: asyncio.Event) -> None:
        """Wait for the stop request (or for market data to end), then shut down in order."""
        feed = self._tasks["market_data"]
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({waiter, feed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if feed.done() and not stop.is_set():
            if feed.cancelled() or feed.exception() is not None:
                return  # the TaskGroup is already handling the failure
            logger.warning("market data ended; stopping")
        await self.shutdown()

    async def shutdown(self) -> None:
        """Stop new entries, optionally flatten, then cancel the tasks in order."""
        logger.info("shutting down: entries stopped")
        self.gate.shutting_down()
        self.notifier.stopping()
        self.notifier.status("stopping")
        if self.settings.flatten_on_exit:
            await self._flatten_on_exit()
        else:
            if adapters.position(self.broker) is not None:
                logger.info("open position kept (journaled): {}", adapters.describe_position(
                    self.broker))
            working = len(self.broker.working_orders)
            if working:
                logger.info("{} working order(s) kept (journaled)", working)
        for name in SHUTDOWN_ORDER:
            task = self._tasks.get(name)
            if task is None or task.done():
                continue
            task.cancel()
            await asyncio.wait({task}, timeout=2.0)
            logger.debug("task {} stopped", name)

    async def _flatten_on_exit(self) -> None:
        if adapters.position(self.broker) is None:
            return
        if self.last_tick is None or not self.gate.prices_fresh():
            logger.error("LA_FLATTEN_ON_EXIT: no fresh price; the position is kept (journaled)")
            return
        events = self.broker.flatten(self.last_tick, "shutdown")
        self._handle_events(events, None)
        logger.info("position closed on exit (LA_FLATTEN_ON_EXIT=true)")

    async def aclose(self) -> None:
        """Release the journal and the socket without running (idempotent)."""
        if not self.stopped.is_set():
            await self._close()

    async def _close(self) -> None:
        """Flush the journal and close the socket (the session belongs to the caller)."""
        if self.stopped.is_set():
            return
        self._executor.shutdown(wait=False, cancel_futures=True)
        with contextlib.suppress(Exception):
            await self.provider.close()
        try:
            if self.last_tick is not None or self.history:
                adapters.record_equity(self.journal, self.clock.now_ms(),
                                       adapters.equity(self.broker, self.last_tick))
            adapters.close_journal(self.journal)
        except Exception:
            logger.exception("journal flush failed")
        self.stopped.set()
        logger.info("engine stopped")

    def _log_banner(self) -> None:
        s = self.settings
        lines = [
            f"laptop-agents engine: source={s.source} symbol={s.symbol} interval={s.interval} "
            f"data_dir={s.data_dir}",
            f"  history: {len(self.history)} closed candles loaded "
            f"(warm-up needs {s.warmup_candles})",
        ]
        for name, info in self._info.items():
            lines.append(f"  task {name:<14} {info.interval}")
        gate = self.gate.reasons()
        if gate:
            lines.append("  gate: " + ", ".join(f"{k.value} ({v})" for k, v in gate.items()))
        logger.info("\n".join(lines))

    # ------------------------------------------------------------------------------------
    # warm-up
    # ------------------------------------------------------------------------------------
    async def warm_up(self) -> None:
        s = self.settings
        try:
            candles = await self.rest.klines(s.symbol, s.interval, limit=s.history_candles)
        except LaptopAgentsError:
            raise
        except Exception as error:  # warm-up over live candles still works, just later
            logger.warning("warm-up history over REST failed ({}); warming up live",
                           describe_connect_error(s.bitunix_rest_url, error))
            candles = []
        for candle in candles:
            if candle.closed:
                self.history.append(candle)
        self._update_warm()
        if self.history:
            adapters.observe_candle(self.broker, self.history[-1])
            self.guard.observe_close(self.history[-1].close)
            logger.info("warm-up: {} closed candles loaded, last open_time={}",
                        len(self.history), self.history[-1].open_time)

    def _update_warm(self) -> None:
        have, need = len(self.history), self.settings.warmup_candles
        if have >= need:
            self.gate.set_warm(True)
        else:
            self.gate.set_warm(False, f"{have}/{need} closed candles")

    # ------------------------------------------------------------------------------------
    # market_data
    # ------------------------------------------------------------------------------------
    # (The provider counts ticks, candles, reconnects and malformed frames in the metrics.)
    async def _market_data_task(self) -> None:
        start_after = self.history[-1].open_time if self.history else None
        stream: AsyncIterator[Any] = self.provider.listen(start_after_open_time=start_after)
        info = self._info["market_data"]
        async for item in stream:
            info.last_run = time.monotonic()
            info.runs += 1
            try:
                if isinstance(item, Tick):
                    self.on_tick(item, time.perf_counter())
                elif isinstance(item, Candle):
                    self.on_candle(item)
                elif isinstance(item, ConnectionEvent):
                    self.on_connection(item)
            except (LaptopAgentsError, asyncio.CancelledError):
                raise
            except Exception:
                # One item that trips a bug must not end market data (and, through the
                # TaskGroup, the daemon): count it, say which kind, go on with the next.
                self._item_errors += 1
                logger.exception("handling a {} failed ({} so far); skipped",
                                 type(item).__name__, self._item_errors)

    def _check_quote_over_rest(self) -> None:
        """Ask REST for the book when the guard holds a candidate move (one read at a time,
        at most every QUOTE_CHECK_MIN_INTERVAL_S): a real move is then accepted at once."""
        now = time.monotonic()
        if self._quote_check is not None and not self._quote_check.done():
            return
        if now - self._quote_check_at < QUOTE_CHECK_MIN_INTERVAL_S:
            return
        self._quote_check_at = now
        self._quote_check = asyncio.create_task(self._read_book(), name="quote-check")

    async def _read_book(self) -> None:
        try:
            book = await self.rest.depth(self.symbol, 1)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("price guard: REST depth read failed ({!r}); waiting for the "
                           "feed to confirm", error)
            self.guard.external_failed()
            return
        if book.bids and book.asks:
            self.guard.external(book.bids[0][0], book.asks[0][0])

    def on_tick(self, tick: Tick, arrived: float) -> None:
        if tick.symbol != self.symbol:
            return
        rejected = self.guard.check(tick)
        if rejected is not None:
            # Quarantined: no fill, exit, equity, strategy or chart ever sees this price.
            self.metrics.quotes_rejected.labels(reason=rejected.value).inc()
            if self.guard.external_wanted:
                self._check_quote_over_rest()
            return
        self.last_tick = tick
        self._last_tick_arrival = arrived
        self.gate.tick_arrived()
        if not self.gate.feed_connected and self._feed_state == "connecting":
            # Some providers only report CONNECTED implicitly with the first data.
            self._set_feed("connected")
        # The event-driven watchdog: exits are checked on the very tick that crosses.
        events = self.broker.on_tick(tick)
        if events:
            self._handle_events(events, arrived)
        self._publisher.publish("tick", tick_payload(tick))
        if not self.first_tick.is_set():
            logger.info("first tick: bid={} ask={}", tick.bid, tick.ask)
            self.first_tick.set()

    def on_candle(self, candle: Candle) -> None:
        if candle.symbol != self.symbol or candle.interval != self.settings.interval:
            return
        if not candle.closed:
            self._publisher.publish("candle", candle_payload(candle))
            return
        if self.history and candle.open_time <= self.history[-1].open_time:
            logger.debug("duplicate closed candle {} ignored", candle.open_time)
            return
        self.history.append(candle)
        self._update_warm()
        self.guard.observe_close(candle.close)
        logger.info("candle closed {} o={} h={} l={} c={} v={}", _fmt_ms(candle.open_time),
                    candle.open, candle.high, candle.low, candle.close, candle.volume)
        events = self.broker.on_candle(candle)
        if events:
            self._handle_events(events, None)
        self._publisher.publish("candle", candle_payload(candle))
        try:
            self._candles_q.put_nowait(candle)
        except asyncio.QueueFull:
            # The strategy only ever needs the latest snapshot; count what it skipped.
            self._candles_dropped += 1
            with contextlib.suppress(asyncio.QueueEmpty):
                self._candles_q.get_nowait()
            self._candles_q.put_nowait(candle)

    def on_connection(self, event: ConnectionEvent) -> None:
        if event.state is ConnectionState.LOST:
            self._set_feed("lost", event.reason)
            logger.warning("market data lost ({}): entries paused", event.reason or "no reason")
        elif event.state is ConnectionState.RECOVERED:
            self._reconnects += 1
            self._set_feed("connected")
            outage = "" if event.outage_s is None else f" after {event.outage_s:.1f}s"
            logger.info("market data recovered{} (reconnected, backfilled)", outage)
        elif event.state is ConnectionState.CONNECTED:
            self._set_feed("connected")
            logger.info("market data connected")
        self._publish_status(force=True)

    def _set_feed(self, state: str, detail: str = "") -> None:
        self._feed_state = state
        if state == "connected":
            self.gate.feed_up()
        else:
            self.gate.feed_down(detail or state)

    # ------------------------------------------------------------------------------------
    # strategy
    # ------------------------------------------------------------------------------------
    async def _strategy_task(self) -> None:
        loop = asyncio.get_running_loop()
        info = self._info["strategy"]
        failures = 0
        while True:
            candle = await self._candles_q.get()
            while not self._candles_q.empty():  # coalesce: decide on the latest history only
                candle = self._candles_q.get_nowait()
            context = adapters.strategy_context(self, tuple(self.history))
            started = time.perf_counter()
            try:
                decision = await loop.run_in_executor(self._executor, self.strategy.decide,
                                                      context)
            except Exception:
                # One bad candle must not stop the exits; a strategy that keeps failing is a bug
                # that ends the daemon (exit 70) rather than trading blind.
                failures += 1
                logger.exception("strategy failed on candle {} ({} in a row)",
                                 candle.open_time, failures)
                if failures >= STRATEGY_FAILURE_LIMIT:
                    raise
                continue
            failures = 0
            self.strategy_runtime_max = max(self.strategy_runtime_max,
                                            time.perf_counter() - started)
            info.last_run = time.monotonic()
            info.runs += 1
            self._decisions += 1
            self.apply_decision(decision, candle)

    def apply_decision(self, decision: Any, candle: Candle) -> None:
        intent = getattr(decision, "intent", None)
        reason = str(getattr(decision, "reason", ""))
        self._last_decision = reason
        if intent is None:
            logger.debug("strategy: no entry ({})", reason)
            return
        if adapters.position(self.broker) is not None:
            logger.info("strategy intent ignored: a position is already open")
            return
        if not self.gate.entries_allowed():
            logger.info("strategy intent not sent: entries paused ({})",
                        ", ".join(r.value for r in self.gate.reasons()))
            return
        if self.last_tick is None:
            return
        result = self.broker.submit(intent, self.last_tick, self.clock.now_ms())
        self.metrics.orders.inc()
        logger.info("order submitted: {} -> {}", adapters.describe_intent(intent),
                    result.reason)
        self._handle_events(adapters.result_events(result), None)
        self._publish_status(force=True)

    # ------------------------------------------------------------------------------------
    # watchdog
    # ------------------------------------------------------------------------------------
    async def _watchdog_task(self) -> None:
        info = self._info["watchdog"]
        interval = self.settings.watchdog_interval
        while True:
            await asyncio.sleep(interval)
            info.last_run = time.monotonic()
            info.runs += 1
            self.gate.refresh()
            self.watchdog_check()
            self._update_gauges()
            self._publish_status()

    def watchdog_check(self) -> None:
        """The 100 ms safety net: re-check exits against the latest price if it is fresh."""
        if self.last_tick is None or adapters.position(self.broker) is None:
            return
        if not self.gate.prices_fresh():
            return
        events = self.broker.on_tick(self.last_tick)
        if events:
            self._handle_events(events, self._last_tick_arrival)

    def _handle_events(self, events: Any, arrived: float | None) -> None:
        for event in events or ():
            kind = adapters.event_kind(event)
            trade = adapters.event_trade(event)
            if trade is not None:
                self.metrics.trades.inc()
                if arrived is not None:
                    self.metrics.watchdog_reaction.observe(time.perf_counter() - arrived)
                logger.info("trade closed pnl={} ({})", adapters.trade_pnl(trade),
                            adapters.describe_trade(trade))
                self._publisher.publish("trade", jsonable(trade))
                continue
            logger.info("{}", adapters.describe_event(event))
            if kind:
                self._publisher.publish("order", {"kind": kind, **_as_dict(event)})
        self._update_gauges()

    def _update_gauges(self) -> None:
        """Position size and equity for /metrics: after every broker event, at start-up (a
        restored position) and on every watchdog pass (the mark moves)."""
        position = adapters.position(self.broker)
        self.metrics.position_size.set(float(adapters.signed_size(position)))
        equity = self._equity()
        if equity is not None:
            self.metrics.equity.set(float(equity))
        age = self.gate.last_tick_age()
        if age is not None:
            self.metrics.last_quote_age.set(age)

    # ------------------------------------------------------------------------------------
    # heartbeat, readiness, position_sync, loop lag
    # ------------------------------------------------------------------------------------
    async def _heartbeat_task(self) -> None:
        info = self._info["heartbeat"]
        interval = self.heartbeat_interval()
        while True:
            self.beat()
            info.last_run = time.monotonic()
            info.runs += 1
            await asyncio.sleep(interval)

    def health_line(self, lag: float) -> str:
        age = self.gate.last_tick_age()
        equity = self._equity()
        return (
            f"feed={self._feed_state} tick_age={'-' if age is None else f'{age:.1f}s'} "
            f"position={adapters.describe_position(self.broker)} "
            f"equity={'-' if equity is None else equity} "
            f"loop_lag_ms={lag * 1000:.1f} reconnects={self._reconnects} "
            f"gate={','.join(r.value for r in self.gate.reasons()) or 'open'}"
        )

    def beat(self) -> None:
        # The worst lag since the previous beat: a single old hiccup must not keep withholding
        # WATCHDOG=1 (systemd would restart a healthy daemon), a stuck loop must.
        lag = self.lag.take_max_since_mark()
        line = self.health_line(lag)
        logger.info("heartbeat {}", line)
        self.notifier.status(line)
        self._update_gauges()
        lag_sane = lag < SANE_LOOP_LAG_S
        if lag_sane and self.gate.feed_connected and self.gate.prices_fresh():
            self.notifier.watchdog()
        else:
            # Before the first tick this is the normal start-up state, not news.
            level = "WARNING" if self.first_tick.is_set() else "DEBUG"
            logger.log(level, "heartbeat: not petting the service watchdog (lag_sane={}, "
                       "feed={}, fresh={})", lag_sane, self._feed_state,
                       self.gate.prices_fresh())

    async def _readiness_task(self) -> None:
        await self.first_tick.wait()
        await self.api_ready.wait()
        self.notifier.ready()
        logger.info("ready: API listening and market data flowing")

    async def _position_sync_task(self) -> None:
        info = self._info["position_sync"]
        while True:
            await asyncio.sleep(self.settings.position_sync_interval)
            self.position_sync()
            info.last_run = time.monotonic()
            info.runs += 1

    def position_sync(self) -> bool:
        """Compare the broker's position with the journal's; log and count drift.

        The exchange account is not reconciled: paper trading has no exchange position (the
        private socket is not used yet). Returns True when in sync.
        """
        drift = adapters.position_drift(self.broker, self.journal)
        if drift:
            self._drift_count += 1
            logger.error("position drift #{}: {}", self._drift_count, drift)
            return False
        equity = self._equity()
        if equity is not None:
            adapters.record_equity(self.journal, self.clock.now_ms(), equity)
        return True

    async def _clock_watch_task(self) -> None:
        info = self._info["clock_watch"]
        self.clock_watch.restart()
        while True:
            await asyncio.sleep(CLOCK_WATCH_INTERVAL_S)
            info.last_run = time.monotonic()
            info.runs += 1
            pause = self.clock_watch.check(CLOCK_WATCH_INTERVAL_S)
            if pause is not None:
                self.on_pause(pause)
            offset = self.clock_watch.report_offset()
            if offset is not None:
                self.metrics.clock_offset.set(offset)
                self.metrics.exchange_clock_rate.set(self.clock.speed)

    def on_pause(self, seconds: float) -> None:
        """The laptop slept or the loop stalled: nothing seen before is fresh, the socket may
        be dead without knowing, and the exchange-clock estimate ran on a stopped clock."""
        logger.warning("resumed after a pause of {:.0f} s: prices marked stale, reconnecting "
                       "and backfilling", seconds)
        self.metrics.pauses_detected.inc()
        self.gate.mark_stale()
        self.clock.forget()
        if hasattr(self.provider, "force_reconnect"):
            self.provider.force_reconnect(f"resumed after a pause of {seconds:.0f} s")
        self._publish_status(force=True)

    async def _loop_lag_task(self) -> None:
        loop = asyncio.get_running_loop()
        info = self._info["loop_lag"]
        while True:
            expected = loop.time() + self.lag.interval
            await asyncio.sleep(self.lag.interval)
            self.lag.record(loop.time() - expected)
            info.last_run = time.monotonic()
            info.runs += 1

    def _equity(self) -> Decimal | None:
        # Before the first tick the broker marks the position at the last candle close.
        return adapters.equity(self.broker, self.last_tick)

    # ------------------------------------------------------------------------------------
    # Controller
    # ------------------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        age = self.gate.last_tick_age()
        now = time.monotonic()
        equity = self._equity()
        return jsonable({
            "mode": "paper",
            "source": self.source,
            "symbol": self.symbol,
            "interval": self.settings.interval,
            "feed": {"state": self._feed_state,
                     "last_tick_age_s": None if age is None else round(age, 3),
                     "reconnects": self._reconnects,
                     "clock_offset_ms": self.clock.offset_ms() if self.clock.synced else None,
                     "exchange_clock_rate": round(self.clock.speed, 3),
                     "bid": None if self.last_tick is None else self.last_tick.bid,
                     "ask": None if self.last_tick is None else self.last_tick.ask},
            "data_health": self.data_health(),
            "gate": self.gate.snapshot(),
            "position": self._position_dict(),
            "working_orders": len(self.broker.working_orders),
            "equity": equity,
            "realized_pnl_today": adapters.realized_today(self.broker),
            "uptime_s": round(now - self._started_mono, 1),
            "loop_lag_ms": {"last": round(self.lag.last * 1000, 2),
                            "p99": round(self.lag.percentile(99) * 1000, 2),
                            "max": round(self.lag.recent_max() * 1000, 2)},
            "warmup": {"candles": len(self.history), "needed": self.settings.warmup_candles},
            "strategy": {"decisions": self._decisions, "last_reason": self._last_decision,
                         "candles_dropped": self._candles_dropped},
            "position_drift_count": self._drift_count,
            "tasks": {
                name: {
                    "state": _task_state(self._tasks.get(name)),
                    "interval": info.interval,
                    "last_run_age_s": None if info.last_run is None
                    else round(now - info.last_run, 3),
                }
                for name, info in self._info.items()
            },
        })

    def data_health(self) -> dict[str, Any]:
        """What the daemon refused to believe, and how fresh what it believes is."""
        stats = getattr(self.provider, "stats", None)

        def stat(name: str) -> int:
            value = getattr(stats, name, 0)
            return value if isinstance(value, int) else 0

        age = self.gate.last_tick_age()
        return {
            "quotes_accepted": self.guard.stats.accepted,
            "quotes_rejected": dict(self.guard.stats.rejected),
            "price_suspect_s": round(self.guard.suspect_for(), 3),
            "price_reference": self.guard.reference,
            "moves_confirmed": self.guard.stats.confirmed_moves,
            "malformed_frames": stat("malformed"),
            "implausible_timestamps": stat("implausible_ts"),
            "frame_errors": stat("frame_errors") + self._item_errors,
            "candles_rest_confirmed": stat("rest_confirmed"),
            "candles_ws_fallback": stat("ws_fallbacks"),
            "candle_gaps": stat("gaps"),
            "clock_offset_ms": self.clock.offset_ms() if self.clock.synced else None,
            "last_quote_age_s": None if age is None else round(age, 3),
            "pauses_detected": self.clock_watch.pauses,
        }

    def _position_dict(self) -> dict[str, Any] | None:
        if adapters.position(self.broker) is None:
            return None
        return adapters.position_view(self.broker, self.last_tick)

    def positions(self) -> list[dict[str, Any]]:
        view = self._position_dict()
        return [] if view is None else [jsonable(view)]

    def trades(self, limit: int, since_ms: int | None) -> list[dict[str, Any]]:
        if self.stopped.is_set():  # the journal is closed; the API lives a moment longer
            return []
        return [jsonable(t) for t in adapters.trades(self.journal, self.broker, limit, since_ms)]

    def candles(self, limit: int) -> list[dict[str, Any]]:
        chosen = list(self.history)[-limit:] if limit > 0 else []
        return [candle_payload(c) for c in chosen]

    def readiness(self) -> tuple[bool, list[str]]:
        reasons: list[str] = []
        if not self.gate.feed_connected:
            reasons.append("feed not connected")
        if not self.first_tick.is_set():
            reasons.append("no tick yet")
        elif not self.gate.prices_fresh():
            reasons.append("prices stale")
        if len(self.history) < self.settings.warmup_candles:
            reasons.append(f"warm-up {len(self.history)}/{self.settings.warmup_candles}")
        return (not reasons, reasons)

    async def pause(self, reason: str | None) -> dict[str, Any]:
        self.gate.pause(reason)
        self._publish_status(force=True)
        return self.status()

    async def resume(self) -> dict[str, Any]:
        self.gate.resume()
        self._publish_status(force=True)
        return self.status()

    async def flatten(self) -> dict[str, Any]:
        if adapters.position(self.broker) is None:
            return {"closed": False, "trade": None, "reason": "no open position"}
        if self.last_tick is None or not self.gate.prices_fresh():
            return {"closed": False, "trade": None, "reason": "no fresh price"}
        events = self.broker.flatten(self.last_tick, "manual")
        self._handle_events(events, None)
        trade = next((adapters.event_trade(e) for e in events or ()
                      if adapters.event_trade(e) is not None), None)
        self._publish_status(force=True)
        return {"closed": adapters.position(self.broker) is None, "trade": jsonable(trade)}

    def attach_feed(self, publisher: FeedPublisher) -> None:
        self._publisher = publisher

    def _publish_status(self, force: bool = False) -> None:
        if isinstance(self._publisher, _NullPublisher):
            return
        now = time.monotonic()
        if not force and now - self._last_status_publish < STATUS_PUBLISH_PERIOD_S:
            return
        self._last_status_publish = now
        self._publisher.publish("status", self.status())


async def run_async_session(
    settings: Settings,
    *,
    stop: asyncio.Event | None = None,
    clock: ExchangeClock | None = None,
    metrics: Metrics | None = None,
    notifier: Notifier | None = None,
    strategy: Any = None,
    on_runner: Callable[[AsyncRunner], Awaitable[None]] | None = None,
) -> AsyncRunner:
    """Run the engine with its own aiohttp session until ``stop`` is set; return the runner.

    ``on_runner`` is awaited once the runner is built and before it starts (the daemon serves
    the API there). The caller owns signals and logging.
    """
    import aiohttp

    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session, clock=clock,
                                          metrics=metrics, notifier=notifier, strategy=strategy)
        if on_runner is not None:
            await on_runner(runner)
        await runner.run(stop)
    return runner


class StoppedDuringStartup(Exception):
    """The stop event fired before start-up finished; the caller exits cleanly (0)."""


async def until_stopped(awaitable: Awaitable[T], stop: asyncio.Event) -> T:
    """Await ``awaitable`` unless ``stop`` fires first: then cancel it and raise
    :class:`StoppedDuringStartup`. A result that is ready wins over a simultaneous stop."""
    work: asyncio.Future[T] = asyncio.ensure_future(awaitable)
    waiter = asyncio.ensure_future(stop.wait())
    pending: set[asyncio.Future[Any]] = {work, waiter}
    try:
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
    if work.cancelled() or not work.done():
        raise StoppedDuringStartup
    return work.result()


def _first_error(group: BaseExceptionGroup) -> BaseException:
    """The error to surface from a TaskGroup failure: an exit-coded one wins."""
    leaves: list[BaseException] = []

    def walk(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                walk(inner)
        else:
            leaves.append(error)

    walk(group)
    for error in leaves:
        if isinstance(error, LaptopAgentsError):
            return error
    for error in leaves:
        if not isinstance(error, asyncio.CancelledError):
            return error
    return leaves[0] if leaves else group


def _task_state(task: asyncio.Task[None] | None) -> str:
    if task is None:
        return "not started"
    if not task.done():
        return "running"
    if task.cancelled():
        return "stopped"
    return "failed" if task.exception() is not None else "finished"


def _as_dict(event: Any) -> dict[str, Any]:
    value = jsonable(event)
    return value if isinstance(value, dict) else {"value": value}


def _fmt_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))
