"""EngineController: the facade the HTTP API and the CLI client call (freqtrade's rpc idea).

It reads the engine's state into the typed views of session/views.py and turns operator
requests (pause, resume, flatten) into engine actions. Every method runs on the event loop and
never blocks it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import orjson
from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.models import ConnectionState
from laptop_agents.paper.models import TradeClosed
from laptop_agents.session.controller import FeedPublisher
from laptop_agents.session.equity import equity_history
from laptop_agents.session.gate import PauseReason
from laptop_agents.session.health import FeedStatus, Health
from laptop_agents.session.looplag import LoopLagSampler
from laptop_agents.session.outcomes import Outcomes
from laptop_agents.session.render import candle_view, position_view, trade_view
from laptop_agents.session.status_cache import StatusCache
from laptop_agents.session.symbol_engine import SymbolEngine
from laptop_agents.session.symbol_set import SymbolSet
from laptop_agents.session.views import (
    AccountView,
    CandleView,
    EquityHistory,
    FeedView,
    FlattenResult,
    FundingView,
    GateView,
    LoopLagView,
    PositionView,
    StatusView,
    StrategyView,
    SymbolView,
    TaskView,
    TickView,
    TradeView,
    WarmupView,
    view_json,
)
from laptop_agents.storage.journal import Journal

STATUS_PUBLISH_PERIOD_S = 1.0


def gate_fields(engine: SymbolEngine) -> dict[str, Any]:
    """The gate's snapshot as GateView's fields, typed as the view declares them."""
    snap = engine.gate.snapshot()
    return {"trading_allowed": snap["trading_allowed"], "exits_allowed": snap["exits_allowed"],
            "reasons": [PauseReason(r) for r in snap["reasons"]],
            "details": {PauseReason(k): v for k, v in snap["details"].items()}}


class EngineController:
    def __init__(self, settings: Settings, *, engine: SymbolEngine, journal: Journal,
                 health: Health, feed: FeedStatus, lag: LoopLagSampler, outcomes: Outcomes,
                 tasks: Callable[[], dict[str, TaskView]],
                 stopped: asyncio.Event, symbols: SymbolSet | None = None) -> None:
        self.settings = settings
        self.engine = engine  # the primary symbol's: the one-symbol fields of /status
        self.symbols = symbols or SymbolSet([engine], journal)
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
        self._status_body = StatusCache(self._status_bytes, lambda: lag.taken)

    # --- reading --------------------------------------------------------------------------
    def status(self, with_symbols: bool = True) -> StatusView:
        engine, lag = self.engine, self.lag
        every = {"symbols": {e.symbol: self._symbol(e) for e in self.symbols}} if with_symbols \
            else {}
        return StatusView(
            mode="paper",
            source=self.settings.source,
            symbol=engine.symbol,
            interval=engine.interval,
            feed=self._feed(),
            data_health=self.health.data_health(),
            gate=GateView.model_validate(engine.gate.snapshot()),
            position=self._position(),
            working_orders=len(engine.broker.working_orders),
            equity=engine.equity(),
            realized_pnl_today=engine.broker.realized_pnl_today,
            account=self.account(),
            funding=self._funding(),
            uptime_s=round(time.monotonic() - self.started_mono, 1),
            loop_lag_ms=LoopLagView(last=round(lag.last * 1000, 2),
                                    p99=round(lag.percentile(99) * 1000, 2),
                                    max=round(lag.recent_max() * 1000, 2)),
            warmup=WarmupView(candles=len(engine.history), needed=engine.warmup),
            strategy=StrategyView(decisions=engine.decisions, last_reason=engine.last_decision,
                                  candles_dropped=engine.candles_dropped),
            position_drift_count=self.feed.drift_count,
            tasks=self._tasks(),
            **every,
        )

    def _status_bytes(self) -> bytes:
        """The /status body: the view without its ``symbols``, then that block encoded from
        plain values (orjson), the same JSON as ``view_json(self.status())`` at a third of
        the cost, which counts with many symbols (tests/session/test_many_symbols.py compares
        the two)."""
        top = view_json(self.status(with_symbols=False))
        block = orjson.dumps({e.symbol: self._symbol_json(e) for e in self.symbols},
                             default=str)  # Decimals as the views' strings
        return top[:-1] + b',"symbols":' + block + b"}"

    def _symbol_json(self, engine: SymbolEngine) -> dict[str, object]:
        tick, broker = engine.last_tick, engine.broker
        position = self._position(engine) if broker.position is not None else None
        return {
            "feed": self._feed_fields(engine), "gate": dict(engine.gate.snapshot()),
            "position": None if position is None else orjson.loads(view_json(position)),
            "working_orders": len(broker.working_orders),
            "last_quote": None if tick is None else {
                "symbol": tick.symbol, "bid": tick.bid, "ask": tick.ask,
                "bid_size": tick.bid_size, "ask_size": tick.ask_size, "last": tick.last,
                "ts": tick.ts},
            "warmup": {"candles": len(engine.history), "needed": engine.warmup},
            "strategy": {"decisions": engine.decisions, "last_reason": engine.last_decision,
                         "candles_dropped": engine.candles_dropped},
        }

    def _symbol(self, engine: SymbolEngine) -> SymbolView:
        """One symbol's entry. Built with ``model_construct`` (no validation): every value
        comes from the engine's own typed state, and /status renders one per symbol, often
        (a validated build cost ~40 µs a symbol: 2 ms of the loop per request at 50).
        tests/api/test_real_engine.py checks the answers against the schema."""
        tick, broker = engine.last_tick, engine.broker
        return SymbolView.model_construct(
            feed=self._feed(engine), gate=GateView.model_construct(**gate_fields(engine)),
            position=self._position(engine) if broker.position is not None else None,
            working_orders=len(broker.working_orders),
            last_quote=None if tick is None else TickView.model_construct(
                symbol=tick.symbol, bid=tick.bid, ask=tick.ask, bid_size=tick.bid_size,
                ask_size=tick.ask_size, last=tick.last, ts=tick.ts),
            warmup=WarmupView.model_construct(candles=len(engine.history),
                                              needed=engine.warmup),
            strategy=StrategyView.model_construct(
                decisions=engine.decisions, last_reason=engine.last_decision,
                candles_dropped=engine.candles_dropped))

    def traded_symbols(self) -> list[str]:
        return list(self.symbols.by_symbol)

    def status_json(self) -> bytes:
        """The /status body: rendered once per change, not once per request
        (session/status_cache.py says when it is rendered again)."""
        return self._status_body.body()

    def status_changed(self) -> None:
        """Something /status shows changed (not a continuously moving field): the next
        request renders it afresh."""
        self._status_body.invalidate()

    def _feed(self, engine: SymbolEngine | None = None) -> FeedView:
        return FeedView.model_construct(**self._feed_fields(engine))

    def _feed_fields(self, engine: SymbolEngine | None = None) -> dict[str, Any]:
        engine = engine or self.engine
        age, tick = engine.gate.last_tick_age(), engine.last_tick
        clock = self.health.clock
        state = self.feed.state
        if engine is not self.engine or self.symbols.several:  # this symbol's connection
            connected = engine.gate.feed_connected
            state = ConnectionState.CONNECTED if connected else (
                ConnectionState.CONNECTING if state is ConnectionState.CONNECTING
                else ConnectionState.LOST)
        return {"state": state, "last_tick_age_s": None if age is None else round(age, 3),
                "reconnects": self.feed.reconnects,
                "clock_offset_ms": clock.offset_ms() if clock.synced else None,
                "exchange_clock_rate": round(clock.speed, 3),
                "bid": None if tick is None else tick.bid,
                "ask": None if tick is None else tick.ask}

    def account(self) -> AccountView:
        broker = self.engine.broker
        return AccountView(
            starting_equity=broker.starting_equity, balance=broker.balance,
            equity=self.engine.equity(), realized_pnl=broker.realized_pnl,
            fees_paid=broker.fees_paid, funding_paid=broker.funding_paid,
            liquidation_fees=broker.liquidation_fees, margin_used=broker.margin_used,
            available=broker.available)

    def _funding(self) -> FundingView:
        engine = self.engine
        mark, upcoming = engine.broker.last_mark, engine.funding.upcoming
        next_ms = mark.next_settlement_ms if mark is not None else None
        if upcoming is not None and upcoming.next_settlement_ms is not None:
            next_ms = upcoming.next_settlement_ms
        return FundingView(
            mark_price=None if mark is None else mark.mark,
            index_price=None if mark is None else mark.index,
            last_rate=None if mark is None else mark.funding_rate,
            last_settlement_ms=None if mark is None else mark.last_settlement_ms,
            next_rate=None if upcoming is None else upcoming.rate, next_settlement_ms=next_ms)

    def _position(self, engine: SymbolEngine | None = None) -> PositionView | None:
        engine = engine or self.engine
        broker, tick = engine.broker, engine.last_tick
        position = broker.position
        if position is None:
            return None
        mark = broker.last_mark
        return position_view(position, None if tick is None else broker.unrealized_pnl(tick),
                             None if mark is None else mark.mark, broker.liquidation_price())

    def positions(self) -> list[PositionView]:
        """Every open position, one per symbol at most, in the symbols' order."""
        return [view for e in self.symbols if (view := self._position(e)) is not None]

    def trades(self, limit: int, since_ms: int | None,
               symbol: str | None = None) -> list[TradeView]:
        """Closed trades of every symbol (or of ``symbol``), newest first."""
        if self._stopped.is_set():  # the journal is closed; the API lives a moment longer
            return []
        return [trade_view(t) for t in self.journal.trades(limit, since_ms, symbol)]

    def candles(self, limit: int, symbol: str | None = None) -> list[CandleView]:
        """The last closed candles of ``symbol`` (default: the first symbol)."""
        engine = self.symbols.get(symbol)
        if engine is None:
            return []
        chosen = list(engine.history)[-limit:] if limit > 0 else []
        return [candle_view(c) for c in chosen]

    def equity(self, since_ms: int, points: int) -> EquityHistory:
        if self._stopped.is_set():  # the journal is closed
            return EquityHistory(recorded=0, points=[])
        return equity_history(self.journal, since_ms, points)

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
        if len(engine.history) < engine.warmup:
            reasons.append(f"warm-up {len(engine.history)}/{engine.warmup}")
        return (not reasons, reasons)

    # --- acting ---------------------------------------------------------------------------
    async def pause(self, reason: str | None, symbol: str | None = None) -> StatusView:
        """Pause every symbol's entries, or ``symbol``'s only."""
        self.symbols.pause(reason, symbol)
        self.publish_status(force=True)
        return self.status()

    async def resume(self, symbol: str | None = None) -> StatusView:
        self.symbols.resume(symbol)
        self.publish_status(force=True)
        return self.status()

    async def flatten(self, symbol: str | None = None) -> FlattenResult:
        """Close every open position (or ``symbol``'s) at market, and cancel working orders.
        ``trade``: the (first) trade closed; ``reason`` says why something stayed open."""
        engines = [self.symbols.by_symbol[symbol]] if symbol else list(self.symbols)
        if all(e.broker.position is None for e in engines):
            return FlattenResult(closed=False, trade=None, reason="no open position")
        events, stuck = self.symbols.flatten("manual", symbol=symbol)
        self.outcomes.report(events, None)
        trade = next((e.trade for e in events if isinstance(e, TradeClosed)), None)
        self.publish_status(force=True)
        if stuck:
            return FlattenResult(closed=False, trade=None if trade is None else trade_view(trade),
                                 reason=f"no fresh price ({', '.join(stuck)})"
                                 if self.symbols.several else "no fresh price")
        return FlattenResult(closed=True, trade=None if trade is None else trade_view(trade))

    def attach_feed(self, publisher: FeedPublisher) -> None:
        """The API hands the engine its WebSocket hub: tick, candle, trade, order and status
        messages go there."""
        self.outcomes.publisher = publisher

    def publish_status(self, force: bool = False) -> None:
        """At most once a second, or at once on a state change (``force``)."""
        if force:
            self.status_changed()  # even with no feed attached: /status must show it
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
