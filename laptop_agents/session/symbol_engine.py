"""SymbolEngine: everything the loop owns about one symbol.

Its candle history, its last accepted quote (and when it arrived), the price guard that judges
every quote, the gate's market inputs (fresh prices, warm-up), the strategy that decides on its
closed candles and the queue that feeds it. Running a second symbol means a second SymbolEngine
over the same account, not edits to every method (docs/architecture.md).

Every method runs on the event loop; the strategy runs in a thread on an immutable
:class:`StrategyContext` and hands back a :class:`Decision` that is applied here.
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import operator
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Executor
from decimal import Decimal

from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.price_guard import PriceGuard
from laptop_agents.data.providers.neterrors import describe_connect_error
from laptop_agents.errors import LaptopAgentsError
from laptop_agents.metrics import Metrics
from laptop_agents.models import Candle, Instrument, MarkPrice, Tick, interval_ms
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.readable import price, stamp
from laptop_agents.session.describe import describe_intent
from laptop_agents.session.funding_sync import FundingSync
from laptop_agents.session.gate import TradingGate
from laptop_agents.session.outcomes import Outcomes
from laptop_agents.session.ports import MarketRest
from laptop_agents.session.render import candle_view, tick_view
from laptop_agents.session.tasks import InlineExecutor
from laptop_agents.session.timeline import Timeline
from laptop_agents.session.warm_history import CandleCache, load_history
from laptop_agents.strategy.base import Decision, Strategy, StrategyContext

STRATEGY_FAILURE_LIMIT = 3  # consecutive strategy exceptions before the engine gives up
QUOTE_CHECK_MIN_INTERVAL_S = 2.0  # REST depth reads asked for by the price guard, at most


# close_time <= t is open_time <= t - interval for the one interval a history holds; a C
# attribute getter is the cheaper key on the decision path.
_open_time = operator.attrgetter("open_time")


def strategy_context(candles: tuple[Candle, ...], broker: PaperBroker, tick: Tick | None,
                     instrument: Instrument) -> StrategyContext:
    """The strategy's whole view: closed candles, the position, equity and the rules."""
    last_exit = broker.last_exit_ms
    # Candles are in time order: a binary search, not a scan of the whole history per decision.
    since_exit = None if last_exit is None or not candles else len(candles) - bisect.bisect_right(
        candles, last_exit - interval_ms(candles[-1].interval), key=_open_time)
    return StrategyContext(
        candles=candles, position=broker.position_view(), equity=broker.equity(tick),
        instrument=instrument, candles_since_exit=since_exit,
        has_working_order=bool(broker.working_orders),
        available=broker.available, committed_notional=broker.wallet.committed_notional(),
    )


def _fmt_ms(ms: int) -> str:
    return time.strftime("%Y-%m-%d %H:%M", time.gmtime(ms / 1000))


def _describe_candle(candle: Candle) -> str:
    return (f"{_fmt_ms(candle.open_time)} o={candle.open} h={candle.high} l={candle.low} "
            f"c={candle.close} v={candle.volume}")


class SymbolEngine:
    def __init__(self, settings: Settings, *, instrument: Instrument, broker: PaperBroker,
                 strategy: Strategy, gate: TradingGate, guard: PriceGuard, rest: MarketRest,
                 clock: ExchangeClock, metrics: Metrics, outcomes: Outcomes,
                 on_change: Callable[[], None] = lambda: None,
                 candle_cache: CandleCache | None = None,
                 timeline: Timeline | None = None) -> None:
        self.settings = settings
        self.symbol = instrument.symbol
        self.interval = settings.interval
        self.instrument = instrument
        self.broker = broker
        self.strategy = strategy
        self.gate = gate
        self.guard = guard
        self.rest = rest
        self.clock = clock
        self.metrics = metrics
        self.outcomes = outcomes
        self.timeline = timeline or Timeline(clock)
        self._on_change = on_change  # the controller republishes status after an order
        self.candle_cache = candle_cache or CandleCache(None, None)  # none: REST alone
        # The strategy declares the closed candles it needs; history always holds at least those.
        self.warmup = strategy.warmup
        self.history_size = max(settings.history_candles, strategy.warmup)
        self.history: deque[Candle] = deque(maxlen=self.history_size)
        self.last_tick: Tick | None = None
        self.last_tick_arrival: float | None = None  # perf_counter of the latest tick
        self.last_mark: MarkPrice | None = None
        self.first_tick = asyncio.Event()
        self._first_seen = False  # first_tick is set (a bool: read on every tick)
        self._feed_tick: Tick | None = None  # the latest accepted tick not yet published
        self._feed_pending = False
        self.candles: asyncio.Queue[Candle] = asyncio.Queue(maxsize=settings.queue_size)
        self.candles_dropped = 0
        self.decisions = 0
        self.last_decision = ""
        self.strategy_runtime_max = 0.0
        self._quote_check: asyncio.Task[None] | None = None
        self._quote_check_at = float("-inf")
        self.funding = FundingSync(self.symbol, broker, rest, settings.bitunix_rest_url,
                                   lambda events: outcomes.report(events, None),
                                   monotonic=self.timeline.mono)

    # --- warm-up --------------------------------------------------------------------------
    async def warm_up(self) -> None:
        """Closed candles over REST before any task starts; live ones join without a gap."""
        try:
            candles = await load_history(self.rest, self.candle_cache, self.symbol,
                                         self.interval, self.history_size)
        except LaptopAgentsError:
            raise
        except Exception as error:  # warm-up over live candles still works, just later
            logger.warning("warm-up history over REST failed ({}); warming up live",
                           describe_connect_error(self.settings.bitunix_rest_url, error))
            candles = []
        self.history.extend(c for c in candles if c.closed)
        self.update_warm()
        if self.history:
            last = self.history[-1]
            self.broker.observe(candle=last)  # a mark price before the first tick
            self.guard.observe_close(last.close)
            logger.info("warm-up: {} closed candles loaded, last open_time={}",
                        len(self.history), stamp(last.open_time))
        await self.funding.catch_up()  # settlements missed while the daemon was down

    def update_warm(self) -> None:
        have, need = len(self.history), self.warmup
        if have >= need:
            self.gate.set_warm(True)
        else:
            self.gate.set_warm(False, f"{have}/{need} closed candles")

    # --- market events --------------------------------------------------------------------
    def on_tick(self, tick: Tick, arrived: float) -> None:
        if tick.symbol != self.symbol:
            return
        rejected = self.guard.check(tick)
        if rejected is not None:
            # Quarantined: no fill, exit, equity, strategy or chart ever sees this price.
            self.metrics.quotes_rejected.labels(self.symbol, rejected.value).inc()
            if self.guard.external_wanted:
                self._check_quote_over_rest()
            return
        self.last_tick = tick
        self.last_tick_arrival = arrived
        self.gate.tick_arrived()
        # The event-driven watchdog: exits are checked on the very tick that crosses.
        events = self.broker.on_tick(tick)
        if events:
            self.outcomes.report(events, arrived)
        if self.outcomes.attached:  # no feed hub, no view to build on the tick path
            self._publish_tick_soon(tick)
        if not self._first_seen:
            self._first_seen = True
            logger.info("first tick: bid={} ask={}", price(self.symbol, tick.bid),
                        price(self.symbol, tick.ask))
            self.first_tick.set()

    def on_mark(self, mark: MarkPrice) -> None:
        """The exchange's mark price and funding state (the ``price`` channel)."""
        if mark.symbol != self.symbol:
            return
        rejected = self.guard.judge_mark(mark.mark)
        if rejected is not None:
            # A mark can liquidate: one that the quotes do not support is never used.
            self.metrics.quotes_rejected.labels(self.symbol, f"mark_{rejected.value}").inc()
            return
        self.last_mark = mark
        events = self.broker.on_mark(mark)
        if events:
            self.outcomes.report(events, None)
        self.funding.on_mark(mark)

    def _publish_tick_soon(self, tick: Tick) -> None:
        """The feed gets the latest accepted tick once per turn of the loop.

        A browser only ever gets the latest quote (the hub coalesces ticks), so building and
        encoding a view for every tick of a burst was work thrown away: the latest tick is
        kept and published once the loop turns, after the burst's ticks of this turn (the
        watchdog above still sees every one of them). In a quiet market that is every tick.
        """
        self._feed_tick = tick
        if not self._feed_pending:
            self._feed_pending = True
            asyncio.get_running_loop().call_soon(self._publish_tick)

    def _publish_tick(self) -> None:
        self._feed_pending = False
        tick = self._feed_tick
        if tick is not None:
            self.outcomes.publisher.publish("tick", tick_view(tick))

    def on_candle(self, candle: Candle) -> None:
        if candle.symbol != self.symbol or candle.interval != self.interval:
            return
        if not candle.closed:
            # A running candle is the stream's word only: the chart shows it while it agrees
            # with the prices the guard believes.
            if self.guard.in_band(candle.high) and self.guard.in_band(candle.low):
                self.outcomes.publisher.publish("candle", candle_view(candle))
            return
        if self.history and candle.open_time <= self.history[-1].open_time:
            logger.debug("duplicate closed candle {} ignored", stamp(candle.open_time))
            return
        self.history.append(candle)
        self.update_warm()
        if candle.confirmed:  # REST's values; pushes alone never move the price reference
            self.guard.observe_close(candle.close)
            self.candle_cache.add([candle], (candle.open_time, candle.close_time))
        # Lazy: the time is formatted only when the line is written (a backtest logs none).
        logger.opt(lazy=True).info("candle closed {}", lambda: _describe_candle(candle))
        events = self.broker.on_candle(candle)
        if events:
            self.outcomes.report(events, None)
        if self.outcomes.attached:  # no feed hub, no view to build
            self.outcomes.publisher.publish("candle", candle_view(candle))
        try:
            self.candles.put_nowait(candle)
        except asyncio.QueueFull:
            # The strategy only ever needs the latest snapshot; count what it skipped.
            self.candles_dropped += 1
            with contextlib.suppress(asyncio.QueueEmpty):
                self.candles.get_nowait()
            self.candles.put_nowait(candle)

    def watchdog_check(self) -> bool:
        """The 100 ms safety net: re-check exits against the latest price if it is fresh.
        True when the broker was asked (a step a replay must repeat)."""
        if self.last_tick is None or self.broker.position is None:
            return False
        if not self.gate.prices_fresh():
            return False
        events = self.broker.on_tick(self.last_tick)
        if events:
            self.outcomes.report(events, self.last_tick_arrival)
        return True

    def equity(self) -> Decimal:
        """Before the first tick the broker marks the position at the last candle close."""
        return self.broker.equity(self.last_tick)

    def close(self) -> None:
        """Stop a REST check of the guard that is still under way (the session is closing)."""
        if self._quote_check is not None:
            self._quote_check.cancel()
        self.funding.close()
        self.candle_cache.close()

    # --- the price guard's REST check -----------------------------------------------------
    def _check_quote_over_rest(self) -> None:
        """Ask REST for the book when the guard holds a candidate move (one read at a time,
        at most every QUOTE_CHECK_MIN_INTERVAL_S): a real move is then accepted at once."""
        now = self.timeline.mono()
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
            logger.warning("price guard: REST depth read failed ({}); waiting for the feed "
                           "to confirm", describe_connect_error(self.settings.bitunix_rest_url,
                                                                 error))
            self.guard.external_failed()
            return
        if book.bids and book.asks:
            self.guard.external(book.bids[0][0], book.asks[0][0])

    # --- the strategy ---------------------------------------------------------------------
    async def decide_forever(self, executor: Executor,
                             on_decision: Callable[[], None] = lambda: None) -> None:
        """Take closed candles, run the strategy off the loop, apply its decisions."""
        loop = asyncio.get_running_loop()
        failures = 0
        while True:
            candle = await self.candles.get()
            # Where in the stream the context is taken and the decision applied depends on
            # the strategy thread's speed: the timeline pins both (a replay repeats them).
            await self.timeline.point("context")
            while not self.candles.empty():  # coalesce: decide on the latest history only
                candle = self.candles.get_nowait()
            idle = self.nothing_to_decide()
            if idle is not None:
                # Its answer could only be dropped (apply_decision would refuse it): the
                # strategy is not asked, and says so (docs/strategies.md, "When decide runs").
                self.last_decision = idle
                self.timeline.decided()
                continue
            context = strategy_context(tuple(self.history), self.broker, self.last_tick,
                                       self.instrument)
            started = time.perf_counter()
            try:
                if isinstance(executor, InlineExecutor):  # no future, no self-pipe wake-up
                    decision = self.strategy.decide(context)
                else:
                    decision = await loop.run_in_executor(executor, self.strategy.decide,
                                                          context)
            except Exception:
                # One bad candle must not stop the exits; a strategy that keeps failing is a bug
                # that ends the daemon (exit 70) rather than trading blind.
                failures += 1
                logger.exception("strategy failed on candle {} ({} in a row)",
                                 candle.open_time, failures)
                if failures >= STRATEGY_FAILURE_LIMIT:
                    raise
                self.timeline.decided()
                continue
            failures = 0
            self.strategy_runtime_max = max(self.strategy_runtime_max,
                                            time.perf_counter() - started)
            self.decisions += 1
            stamp = await self.timeline.point("decision")
            self.apply_decision(decision, stamp.now_ms)
            self.timeline.decided()
            on_decision()

    def nothing_to_decide(self) -> str | None:
        """Why no entry could be sent now (entries are paused: warm-up, daily cap, manual,
        feed...), so the strategy need not be asked; None when its decision can matter. An
        open position does not count: the strategy still sees every candle then."""
        reasons = self.gate.reasons()
        if reasons:
            return f"not asked: entries paused ({', '.join(r.value for r in reasons)})"
        return None

    def apply_decision(self, decision: Decision, now_ms: int | None = None) -> None:
        intent = decision.intent
        self.last_decision = decision.reason
        if intent is None:
            logger.debug("strategy: no entry ({})", decision.reason)
            return
        if self.broker.position is not None:
            logger.info("strategy intent ignored: a position is already open")
            return
        if not self.gate.entries_allowed():
            logger.info("strategy intent not sent: entries paused ({})",
                        ", ".join(r.value for r in self.gate.reasons()))
            return
        if self.last_tick is None:
            return
        now = self.clock.now_ms() if now_ms is None else now_ms
        result = self.broker.submit(intent, self.last_tick, now)
        self.metrics.orders.labels(self.symbol).inc()
        if result.accepted:
            logger.info("order submitted: {} -> {}", describe_intent(intent, self.symbol),
                        result.reason)
        else:
            logger.info("order rejected: {} ({})", describe_intent(intent, self.symbol),
                        result.reason)
        self.outcomes.report(result.events, None)
        self._on_change()


__all__ = ["STRATEGY_FAILURE_LIMIT", "SymbolEngine", "strategy_context"]
