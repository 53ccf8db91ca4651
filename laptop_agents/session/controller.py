"""The control surface of a running daemon, independent of HTTP (freqtrade's rpc idea).

The aiohttp API (laptop_agents/api) and the `laptop-agents status|pause|resume` client both go
through an object with this shape; the engine (AsyncRunner) provides the real one. Every method
runs on the event loop and never blocks it.
"""

from __future__ import annotations

from typing import Any, Protocol

from laptop_agents.metrics import Metrics


class FeedPublisher(Protocol):
    """Fan-out of live messages to WebSocket clients. ``publish`` must never await or block."""

    def publish(self, kind: str, payload: dict[str, Any]) -> None: ...


class Controller(Protocol):
    metrics: Metrics

    def status(self) -> dict[str, Any]:
        """mode, source, symbol, feed {state, last_tick_age_s, reconnects}, gate {trading_allowed,
        reasons: [..]}, position {side, size, entry, stop, target, unrealized_pnl} | None,
        equity, realized_pnl_today, uptime_s, tasks {name: {state, last_run_age_s}}.
        Decimals are rendered as strings."""
        ...

    def positions(self) -> list[dict[str, Any]]: ...

    def trades(self, limit: int, since_ms: int | None) -> list[dict[str, Any]]: ...

    def candles(self, limit: int) -> list[dict[str, Any]]: ...

    def readiness(self) -> tuple[bool, list[str]]:
        """(ready, reasons not ready): ready = feed connected and strategy warm."""
        ...

    async def pause(self, reason: str | None) -> dict[str, Any]:
        """Manual pause, persisted in the journal so a restart stays paused; returns status()."""
        ...

    async def resume(self) -> dict[str, Any]: ...

    async def flatten(self) -> dict[str, Any]:
        """Close the open position at market; returns {"closed": bool, "trade": {...} | None}."""
        ...

    def attach_feed(self, publisher: FeedPublisher) -> None:
        """The API hands the engine its WebSocket hub; the engine publishes tick/candle/trade/
        status messages to it."""
        ...
