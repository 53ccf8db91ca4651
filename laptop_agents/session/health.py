"""How the engine is doing: the heartbeat line, service-manager liveness, position sync, the
gauges and the data-health counters.

Only the loop thread calls it. The heartbeat is the only place that pets the service manager's
watchdog, and it withholds WATCHDOG=1 while the loop lags or the prices are not fresh.
"""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from loguru import logger

from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.metrics import Metrics
from laptop_agents.models import ConnectionState, Side
from laptop_agents.paper.models import Position
from laptop_agents.session.clock_watch import ClockWatch
from laptop_agents.session.describe import describe_position
from laptop_agents.session.equity import record_snapshot
from laptop_agents.session.gate import PauseReason
from laptop_agents.session.looplag import LoopLagSampler
from laptop_agents.session.ports import MarketData, Notifier
from laptop_agents.session.symbol_engine import SymbolEngine
from laptop_agents.session.views import DataHealthView
from laptop_agents.storage.journal import Journal

# Loop lag above this is not "sane": the heartbeat then withholds WATCHDOG=1 so the service
# manager restarts a process whose loop is stuck.
SANE_LOOP_LAG_S = 1.0


@dataclass
class FeedStatus:
    """The market-data connection as the engine last heard of it."""

    state: ConnectionState = ConnectionState.CONNECTING
    reconnects: int = 0
    item_errors: int = 0  # market-data items whose handling raised (and were skipped)
    drift_count: int = 0  # broker/journal position mismatches seen


def signed_size(position: Position | None) -> Decimal:
    if position is None:
        return Decimal(0)
    return position.qty if position.side is Side.LONG else -position.qty


class Health:
    def __init__(self, *, engine: SymbolEngine, journal: Journal, provider: MarketData,
                 clock: ExchangeClock, clock_watch: ClockWatch, lag: LoopLagSampler,
                 metrics: Metrics, notifier: Notifier, feed: FeedStatus,
                 engines: list[SymbolEngine] | None = None) -> None:
        self.engine = engine  # the primary symbol's
        self.engines = engines or [engine]  # every traded symbol's, the primary first
        self.journal = journal
        self.provider = provider
        self.clock = clock
        self.clock_watch = clock_watch
        self.lag = lag
        self.metrics = metrics
        self.notifier = notifier
        self.feed = feed
        self.first_tick: asyncio.Event = engine.first_tick
        engine.outcomes.money_moved = self.record_equity
        for each in self.engines:
            self._watch(each)

    def update_gauges(self) -> None:
        """The account's gauges for /metrics: after every broker event, at start-up (a
        restored position) and on every watchdog pass (the mark moves). Per-symbol gauges are
        read when /metrics is scraped (``_watch``): with many symbols, no cost per pass."""
        engine = self.engine
        broker, metrics = engine.broker, self.metrics
        metrics.equity.set(float(engine.equity()))
        metrics.balance.set(float(broker.balance))
        metrics.funding_paid.set(float(broker.funding_paid))
        metrics.margin_used.set(float(broker.margin_used))

    def _watch(self, engine: SymbolEngine) -> None:
        """One symbol's gauges, each a function of its engine evaluated at scrape time (on the
        loop: /metrics is served there)."""
        metrics, symbol, broker, gate = self.metrics, engine.symbol, engine.broker, engine.gate
        metrics.position_size.labels(symbol).set_function(
            lambda: float(signed_size(broker.position)))
        metrics.liquidation_price.labels(symbol).set_function(
            lambda: float(broker.liquidation_price() or 0))
        metrics.last_quote_age.labels(symbol).set_function(
            lambda: math.nan if (age := gate.last_tick_age()) is None else age)
        metrics.feed_connected.labels(symbol).set_function(lambda: float(gate.feed_connected))
        def paused_for(reason: PauseReason) -> Callable[[], float]:
            return lambda: float(reason in gate.reasons())

        for reason in PauseReason:
            metrics.entries_paused.labels(symbol, reason.value).set_function(paused_for(reason))

    def health_line(self, lag: float) -> str:
        engine = self.engine
        age = engine.gate.last_tick_age()
        line = (
            f"feed={self.feed.state.value} tick_age={'-' if age is None else f'{age:.1f}s'} "
            f"position={describe_position(engine.broker.position)} "
            f"equity={engine.equity()} "
            f"loop_lag_ms={lag * 1000:.1f} reconnects={self.feed.reconnects} "
            f"gate={','.join(r.value for r in engine.gate.reasons()) or 'open'}"
        )
        if len(self.engines) == 1:
            return line
        # Several symbols: the line above is the primary's; add the account's spread.
        open_ = sum(1 for e in self.engines if e.broker.position is not None)
        paused = sum(1 for e in self.engines if not e.gate.entries_allowed())
        return f"{line} symbols={len(self.engines)} positions={open_} paused={paused}"

    def beat(self) -> None:
        # The worst lag since the previous beat: a single old hiccup must not keep withholding
        # WATCHDOG=1 (systemd would restart a healthy daemon), a stuck loop must.
        lag = self.lag.take_max_since_mark()
        line = self.health_line(lag)
        logger.info("heartbeat {}", line)
        self.notifier.status(line)
        self.update_gauges()
        gate = self.engine.gate
        lag_sane = lag < SANE_LOOP_LAG_S
        if lag_sane and gate.feed_connected and gate.prices_fresh():
            self.notifier.watchdog()
        else:
            # Before the first tick this is the normal start-up state, not news.
            level = "WARNING" if self.first_tick.is_set() else "DEBUG"
            logger.log(level, "heartbeat: not petting the service watchdog (lag_sane={}, "
                       "feed={}, fresh={})", lag_sane, self.feed.state.value,
                       gate.prices_fresh())

    def position_sync(self, now_ms: int | None = None) -> bool:
        """Compare the broker's position with the journal's; log and count drift.

        The exchange account is not reconciled: paper trading has no exchange position (the
        private socket is not used yet). Returns True when in sync.
        """
        for engine in self.engines:
            drift = position_drift(engine.broker.position,
                                   self.journal.load_position(engine.symbol))
            if drift:
                self.feed.drift_count += 1
                logger.error("position drift #{} ({}): {}", self.feed.drift_count,
                             engine.symbol, drift)
                return False
        self.record_equity(self.clock.now_ms() if now_ms is None else now_ms)
        return True

    def record_equity(self, ts_ms: int) -> None:
        """An equity snapshot with its parts (session/equity.py): with every position sync and
        after every fill or funding settlement (``Outcomes.money_moved``)."""
        record_snapshot(self.journal, self.engine.broker, self.engine.equity(), ts_ms)

    def clock_tick(self) -> float | None:
        """The clock_watch timer: a detected pause (seconds) for the caller to act on."""
        pause = self.clock_watch.check(1.0)
        offset = self.clock_watch.report_offset()
        if offset is not None:
            self.metrics.clock_offset.set(offset)
            self.metrics.exchange_clock_rate.set(self.clock.speed)
        return pause

    def data_health(self) -> DataHealthView:
        """What the daemon refused to believe, and how fresh what it believes is."""
        stats = self.provider.stats
        guard = self.engine.guard
        age = self.engine.gate.last_tick_age()
        return DataHealthView(
            quotes_accepted=guard.stats.accepted,
            quotes_rejected=dict(guard.stats.rejected),
            marks_rejected=dict(guard.stats.marks_rejected),
            price_suspect_s=round(guard.suspect_for(), 3),
            price_reference=guard.reference,
            moves_confirmed=guard.stats.confirmed_moves,
            malformed_frames=stats.malformed,
            implausible_timestamps=stats.implausible_ts,
            frame_errors=stats.frame_errors + self.feed.item_errors,
            candles_rest_confirmed=stats.rest_confirmed,
            candles_ws_fallback=stats.ws_fallbacks,
            candle_gaps=stats.gaps,
            clock_offset_ms=self.clock.offset_ms() if self.clock.synced else None,
            last_quote_age_s=None if age is None else round(age, 3),
            pauses_detected=self.clock_watch.pauses,
        )


def position_drift(memory: Position | None, stored: Position | None) -> str | None:
    """How the in-memory position differs from the journal's, or None when they agree."""
    if memory is None and stored is None:
        return None
    if memory is None or stored is None:
        return f"broker={'flat' if memory is None else memory} journal={stored or 'flat'}"
    fields = ("side", "qty", "entry_price", "stop", "target", "trailing_stop")
    diffs = [f"{name}: broker={getattr(memory, name)} journal={getattr(stored, name)}"
             for name in fields if getattr(memory, name) != getattr(stored, name)]
    return "; ".join(diffs) or None


__all__ = ["SANE_LOOP_LAG_S", "FeedStatus", "Health", "position_drift", "signed_size"]
