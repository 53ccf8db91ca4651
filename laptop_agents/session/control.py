"""EngineController: the facade the HTTP API and the CLI client call (freqtrade's rpc idea).

It reads the engine's state into views and turns operator requests (pause, resume, flatten)
into engine actions. Every method runs on the event loop and never blocks it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.paper.models import TradeClosed
from laptop_agents.session.controller import FeedPublisher
from laptop_agents.session.health import FeedStatus, Health
from laptop_agents.session.looplag import LoopLagSampler
from laptop_agents.session.outcomes import Outcomes
from laptop_agents.session.render import candle_payload, jsonable, position_payload
from laptop_agents.session.symbol_engine import SymbolEngine
from laptop_agents.storage.journal import Journal

STATUS_PUBLISH_PERIOD_S = 1.0


class EngineController:
    def __init__(self, settings: Settings, *, engine: SymbolEngine, journal: Journal,
                 health: Health, feed: FeedStatus, lag: LoopLagSampler, outcomes: Outcomes,
                 tasks: Callable[[], dict[str, dict[str, object]]],
                 stopped: asyncio.Event) -> None:
        self.settings = settings
        self.engine = engine
        self.journal = journal
        self.health = health
        self.feed = feed
        self.lag = lag
        self.outcomes = outcomes
        self.metrics = health.metrics
        self._tasks = tasks
        self._stopped = stopped
        self.started_mono = time.monotonic()
        self._last_status_publish = 0.0

    # --- reading --------------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        engine, gate, tick = self.engine, self.engine.gate, self.engine.last_tick
        age = gate.last_tick_age()
        clock = self.health.clock
        view: dict[str, Any] = jsonable({
            "mode": "paper",
            "source": self.settings.source,
            "symbol": engine.symbol,
            "interval": engine.interval,
            "feed": {"state": self.feed.state,
                     "last_tick_age_s": None if age is None else round(age, 3),
                     "reconnects": self.feed.reconnects,
                     "clock_offset_ms": clock.offset_ms() if clock.synced else None,
                     "exchange_clock_rate": round(clock.speed, 3),
                     "bid": None if tick is None else tick.bid,
                     "ask": None if tick is None else tick.ask},
            "data_health": self.health.data_health(),
            "gate": gate.snapshot(),
            "position": self._position(),
            "working_orders": len(engine.broker.working_orders),
            "equity": engine.equity(),
            "realized_pnl_today": engine.broker.realized_pnl_today,
            "uptime_s": round(time.monotonic() - self.started_mono, 1),
            "loop_lag_ms": {"last": round(self.lag.last * 1000, 2),
                            "p99": round(self.lag.percentile(99) * 1000, 2),
                            "max": round(self.lag.recent_max() * 1000, 2)},
            "warmup": {"candles": len(engine.history), "needed": self.settings.warmup_candles},
            "strategy": {"decisions": engine.decisions, "last_reason": engine.last_decision,
                         "candles_dropped": engine.candles_dropped},
            "position_drift_count": self.feed.drift_count,
            "tasks": self._tasks(),
        })
        return view

    def _position(self) -> dict[str, Any] | None:
        broker, tick = self.engine.broker, self.engine.last_tick
        position = broker.position
        if position is None:
            return None
        return position_payload(position, None if tick is None else broker.unrealized_pnl(tick))

    def positions(self) -> list[dict[str, Any]]:
        view = self._position()
        return [] if view is None else [view]

    def trades(self, limit: int, since_ms: int | None) -> list[dict[str, Any]]:
        if self._stopped.is_set():  # the journal is closed; the API lives a moment longer
            return []
        return [jsonable(t) for t in self.journal.trades(limit, since_ms)]

    def candles(self, limit: int) -> list[dict[str, Any]]:
        chosen = list(self.engine.history)[-limit:] if limit > 0 else []
        return [candle_payload(c) for c in chosen]

    def readiness(self) -> tuple[bool, list[str]]:
        """(ready, reasons not ready): feed connected, a fresh tick seen, strategy warm."""
        engine, gate = self.engine, self.engine.gate
        reasons: list[str] = []
        if not gate.feed_connected:
            reasons.append("feed not connected")
        if not engine.first_tick.is_set():
            reasons.append("no tick yet")
        elif not gate.prices_fresh():
            reasons.append("prices stale")
        if len(engine.history) < self.settings.warmup_candles:
            reasons.append(f"warm-up {len(engine.history)}/{self.settings.warmup_candles}")
        return (not reasons, reasons)

    # --- acting ---------------------------------------------------------------------------
    async def pause(self, reason: str | None) -> dict[str, Any]:
        self.engine.gate.pause(reason)
        self.publish_status(force=True)
        return self.status()

    async def resume(self) -> dict[str, Any]:
        self.engine.gate.resume()
        self.publish_status(force=True)
        return self.status()

    async def flatten(self) -> dict[str, Any]:
        engine = self.engine
        if engine.broker.position is None:
            return {"closed": False, "trade": None, "reason": "no open position"}
        if engine.last_tick is None or not engine.gate.prices_fresh():
            return {"closed": False, "trade": None, "reason": "no fresh price"}
        events = engine.broker.flatten(engine.last_tick, "manual")
        self.outcomes.report(events, None)
        trade = next((e.trade for e in events if isinstance(e, TradeClosed)), None)
        self.publish_status(force=True)
        return {"closed": engine.broker.position is None, "trade": jsonable(trade)}

    def attach_feed(self, publisher: FeedPublisher) -> None:
        """The API hands the engine its WebSocket hub: tick, candle, trade, order and status
        messages go there."""
        self.outcomes.publisher = publisher

    def publish_status(self, force: bool = False) -> None:
        """At most once a second, or at once on a state change (``force``)."""
        if not self.outcomes.attached:
            return
        now = time.monotonic()
        if not force and now - self._last_status_publish < STATUS_PUBLISH_PERIOD_S:
            return
        self._last_status_publish = now
        try:
            self.outcomes.publisher.publish("status", self.status())
        except Exception:  # a view that fails to render must not stop trading
            logger.exception("publishing status failed")


__all__ = ["STATUS_PUBLISH_PERIOD_S", "EngineController"]
