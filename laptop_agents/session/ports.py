"""The seams of the engine: what it needs from market data, REST, and the service manager.

The live daemon plugs in the Bitunix WebSocket provider and REST client; a replay or a backtest
can plug in other sources with the same shape. The broker (``PaperBroker``) and the journal
(``Journal``) are used as the concrete classes: there is one paper account, whatever the
source.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import Protocol

from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_rest_parse import DepthSnapshot
from laptop_agents.models import (
    Candle,
    FundingQuote,
    FundingSettlement,
    Instrument,
    MarketEvent,
)


class FeedStats(Protocol):
    """Counters a market-data source keeps (read by /status data_health)."""

    malformed: int
    implausible_ts: int
    frame_errors: int
    rest_confirmed: int
    ws_fallbacks: int
    gaps: int


class MarketData(Protocol):
    """A stream of ticks, closed candles (exactly once, in order) and connection events."""

    @property
    def stats(self) -> FeedStats: ...

    async def subscribe_kline(self, symbol: str, interval: str = "1min") -> None: ...

    async def subscribe_ticker(self, symbol: str) -> None: ...

    def listen(self, start_after_open_time: int | Mapping[str, int] | None = None
               ) -> AsyncIterator[MarketEvent]:
        """``start_after_open_time``: one open time, or one per symbol (several symbols)."""
        ...

    def force_reconnect(self, reason: str) -> bool: ...

    async def close(self) -> None: ...


class MarketRest(Protocol):
    """History, the book and the trading rules over REST."""

    clock: ExchangeClock

    async def klines(self, symbol: str, interval: str = "1min", start_ms: int | None = None,
                     end_ms: int | None = None, limit: int | None = None) -> list[Candle]: ...

    async def depth(self, symbol: str, limit: int | str = 5) -> DepthSnapshot: ...

    async def instrument(self, symbol: str) -> Instrument: ...

    async def funding_rate(self, symbol: str) -> FundingQuote: ...

    async def funding_history(self, symbol: str, start_ms: int,
                              end_ms: int | None = None) -> list[FundingSettlement]:
        """Settlements with ``start_ms <= ts`` (and ``ts <= end_ms``), oldest first, paged."""
        ...


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


__all__ = ["FeedStats", "MarketData", "MarketRest", "Notifier", "NullNotifier"]
