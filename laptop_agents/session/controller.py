"""The control surface of a running daemon, independent of HTTP (freqtrade's rpc idea).

The aiohttp API (laptop_agents/api) and, through it, the `laptop-agents status|pause|resume`
client go through an object with this shape; the engine's EngineController
(session/control.py) is the real one, tests/api/memory_controller.py a stand-in. Every method
runs on the event loop and never blocks it. Answers are the typed views of session/views.py;
the API serializes them as they are.
"""

from __future__ import annotations

from typing import Protocol

from laptop_agents.metrics import Metrics
from laptop_agents.session.views import (
    CandleView,
    EquityHistory,
    FeedKind,
    FeedPayload,
    FlattenResult,
    PositionView,
    StatusView,
    TradeView,
)


class FeedPublisher(Protocol):
    """Fan-out of live messages to WebSocket clients. ``publish`` must never await or block."""

    def publish(self, kind: FeedKind, payload: FeedPayload) -> None: ...


class Controller(Protocol):
    metrics: Metrics

    def status(self) -> StatusView:
        """Mode, source, symbol, feed, data health, gate, position (or None), equity, PnL,
        uptime, loop lag, warm-up, strategy and tasks; see StatusView."""
        ...

    def status_json(self) -> bytes:
        """``status()`` as the JSON /status answers (``view_json``); the engine renders it
        once per change (session/status_cache.py), not once per request."""
        ...

    def traded_symbols(self) -> list[str]:
        """The symbols the daemon trades, the first (primary) one first."""
        ...

    def positions(self) -> list[PositionView]:
        """Every open position (one per symbol at most)."""
        ...

    def trades(self, limit: int, since_ms: int | None,
               symbol: str | None = None) -> list[TradeView]:
        """Closed trades, newest first: at most ``limit``, closed at or after ``since_ms``,
        of every symbol or of ``symbol``."""
        ...

    def candles(self, limit: int, symbol: str | None = None) -> list[CandleView]:
        """The last ``limit`` closed candles of ``symbol`` (default: the first), oldest
        first."""
        ...

    def equity(self, since_ms: int, points: int) -> EquityHistory:
        """The equity history at or after ``since_ms``, downsampled to at most ``points``
        (the first, the last, each time bucket's extremes)."""
        ...

    def readiness(self) -> tuple[bool, list[str]]:
        """(ready, reasons not ready): feed connected, a fresh tick seen, strategy warm."""
        ...

    async def pause(self, reason: str | None, symbol: str | None = None) -> StatusView:
        """Manual pause, persisted in the journal so a restart stays paused; returns the status
        after it (and publishes it to the feed)."""
        ...

    async def resume(self, symbol: str | None = None) -> StatusView:
        """Lift the manual pause; returns the status after it (and publishes it)."""
        ...

    async def flatten(self, symbol: str | None = None) -> FlattenResult:
        """Close the open position at market: ``closed`` and the trade, or the reason nothing
        was closed (no open position, no fresh price)."""
        ...

    def attach_feed(self, publisher: FeedPublisher) -> None:
        """The API hands the engine its WebSocket hub; the engine publishes tick, candle,
        trade, order and status messages to it."""
        ...
