"""ProviderGroup: several market-data sockets read as one stream, for more symbols than one
socket may carry.

Bitunix serves at most 300 channel subscriptions per connection, and every traded symbol
takes four (the 1-minute kline, ``depth_book1``, ``ticker`` and ``price``): one socket carries
``SYMBOLS_PER_SOCKET`` symbols. Beyond that the wiring builds one provider per share of the
symbols (in the order they are subscribed) and this group merges their streams. Each socket
reconnects, resubscribes and backfills its own symbols on its own; its connection events
name them (``ConnectionEvent.symbols``), so a drop pauses only those symbols. All of them
share one REST client, hence one REST rate limiter.

Merging costs one queue hand-over per item; one socket (up to 75 symbols) is used directly,
without a group.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import AsyncIterator, Mapping, Sequence

from laptop_agents.data.providers.bitunix_protocol import MAX_SUBSCRIPTIONS
from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider
from laptop_agents.data.providers.bitunix_ws_outbox import FeedCounts
from laptop_agents.models import ConnectionEvent, MarketEvent

CHANNELS_PER_SYMBOL = 4  # kline, depth_book1, ticker, price
SYMBOLS_PER_SOCKET = MAX_SUBSCRIPTIONS // CHANNELS_PER_SYMBOL
QUEUE_PER_SOCKET = 4096  # items buffered per socket between its reader and the engine


class _Failed:
    def __init__(self, error: BaseException) -> None:
        self.error = error


class ProviderGroup:
    def __init__(self, providers: Sequence[BitunixWSProvider]) -> None:
        self._providers = list(providers)
        self._owner: dict[str, BitunixWSProvider] = {}  # symbol -> its socket's provider
        self._symbols: dict[int, list[str]] = {id(p): [] for p in self._providers}
        self._pumps: list[asyncio.Task[None]] = []

    @property
    def stats(self) -> FeedCounts:
        """The sockets' counters added up (what /status data_health shows)."""
        total = FeedCounts()
        for provider in self._providers:
            for field in dataclasses.fields(total):
                setattr(total, field.name, getattr(total, field.name)
                        + getattr(provider.stats, field.name))
        return total

    def _provider_of(self, symbol: str) -> BitunixWSProvider:
        symbol = symbol.upper()
        owner = self._owner.get(symbol)
        if owner is None:
            owner = next((p for p in self._providers
                          if len(self._symbols[id(p)]) < SYMBOLS_PER_SOCKET), None)
            if owner is None:
                raise ValueError(f"more than {SYMBOLS_PER_SOCKET * len(self._providers)} "
                                 "symbols for this group's sockets")
            self._owner[symbol] = owner
            self._symbols[id(owner)].append(symbol)
        return owner

    async def subscribe_kline(self, symbol: str, interval: str = "1min") -> None:
        await self._provider_of(symbol).subscribe_kline(symbol, interval)

    async def subscribe_ticker(self, symbol: str) -> None:
        await self._provider_of(symbol).subscribe_ticker(symbol)

    async def _pump(self, provider: BitunixWSProvider,
                    start_after: int | Mapping[str, int] | None,
                    out: asyncio.Queue[MarketEvent | _Failed]) -> None:
        symbols = tuple(self._symbols[id(provider)])
        try:
            async for item in provider.listen(start_after):
                if isinstance(item, ConnectionEvent):
                    item = dataclasses.replace(item, symbols=symbols)
                await out.put(item)
        except asyncio.CancelledError:
            raise
        except BaseException as error:  # a refused feed ends the whole stream, as alone
            await out.put(_Failed(error))

    async def listen(self, start_after_open_time: int | Mapping[str, int] | None = None
                     ) -> AsyncIterator[MarketEvent]:
        """Every socket's items as they come (each socket's own order is kept)."""
        used = [p for p in self._providers if self._symbols[id(p)]]
        out: asyncio.Queue[MarketEvent | _Failed] = asyncio.Queue(
            QUEUE_PER_SOCKET * max(1, len(used)))
        self._pumps = [asyncio.create_task(self._pump(p, start_after_open_time, out),
                                           name=f"market-data socket {i}")
                       for i, p in enumerate(used)]
        try:
            while True:
                item = await out.get()
                if isinstance(item, _Failed):
                    raise item.error
                yield item
        finally:
            await self.close()

    def force_reconnect(self, reason: str) -> bool:
        return any([p.force_reconnect(reason) for p in self._providers])

    async def close(self) -> None:
        for task in self._pumps:
            task.cancel()
        await asyncio.gather(*self._pumps, return_exceptions=True)
        self._pumps = []
        await asyncio.gather(*(p.close() for p in self._providers), return_exceptions=True)


__all__ = ["SYMBOLS_PER_SOCKET", "ProviderGroup"]
