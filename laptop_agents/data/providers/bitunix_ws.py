"""BitunixWSProvider: one market-data WebSocket with heartbeat, reconnect and candle closing.

Tasks and ownership (all on the event loop; see docs/market-data.md):

* a reader task per socket parses frames (pure parser), answers heartbeats and turns
  ``depth_book1`` pushes into Ticks right away, so ticks never wait behind a REST call;
* a heartbeat task per socket sends the JSON ping and declares the socket dead on a missing
  reply or on silence;
* one candle worker owns every kline stream's state: it buckets pushes, confirms closed
  candles over REST, fills gaps, closes silent buckets on a timer and emits closed candles
  exactly once, in order;
* one supervisor task connects (tenacity backoff), subscribes, waits for the socket to die,
  yields LOST, reconnects, resubscribes, backfills and yields RECOVERED.

``listen()`` only drains the queue those tasks fill.

This module is the public face and the supervisor; each other job is a collaborator in its
own module: ``bitunix_ws_connection`` (:class:`Connector`: sockets, login, reader and
heartbeat), ``bitunix_ws_subscriptions``, ``bitunix_ws_frames`` (:class:`FrameHandler`),
``bitunix_ws_candles`` (:class:`CandleWorker`) and ``bitunix_ws_outbox`` (the queue and stats).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping
from decimal import Decimal

import aiohttp
from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.data.providers.bitunix_ws_candles import CandleWorker, InboxItem
from laptop_agents.data.providers.bitunix_ws_connection import (
    Connector,
    FeedConnectError,
    reconnect_wait,
)
from laptop_agents.data.providers.bitunix_ws_frames import FrameHandler, PingState
from laptop_agents.data.providers.bitunix_ws_outbox import (
    Fatal,
    FeedCounters,
    Outbox,
    ProviderStats,
)
from laptop_agents.data.providers.bitunix_ws_subscriptions import Subscriptions
from laptop_agents.metrics import Metrics
from laptop_agents.models import ConnectionEvent, ConnectionState, MarketEvent, SocketState


class BitunixWSProvider:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: Settings,
        rest: BitunixRestClient | None = None,
        clock: ExchangeClock | None = None,
        metrics: Metrics | None = None,
        *,
        private: bool = False,
    ) -> None:
        # One exchange clock per session: the REST client's Date headers and the pushes' ts
        # feed the same estimate.
        self._clock = clock or (rest.clock if rest is not None else ExchangeClock())
        rest = rest if rest is not None else BitunixRestClient(session, settings, self._clock)
        self.url = settings.bitunix_private_ws_url if private else settings.bitunix_ws_url
        self._stats = ProviderStats()
        counters = FeedCounters(self._stats, metrics)
        self._counters = counters
        self._outbox = Outbox(self._stats)
        self._candles = CandleWorker(rest, self._clock, settings, counters, self._outbox)
        # Called only after __init__ returned, when the connector exists.
        self._subs = Subscriptions(self.url, lambda: self._connector.conn)
        self._frames = FrameHandler(self._clock, counters, self._outbox, self._subs.tick_symbols,
                                    self._candles.streams, self._candles.offer)
        self._connector = Connector(session, settings, self.url, counters,
                                    self._frames.on_text, private=private)
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = False

    @property
    def stats(self) -> ProviderStats:
        return self._stats

    @property
    def clock(self) -> ExchangeClock:
        return self._clock

    # Internals the tests look into: the queues the tasks fill and the last ticker prices.
    @property
    def _out(self) -> Outbox:
        return self._outbox

    @property
    def _kline_in(self) -> asyncio.Queue[InboxItem]:
        return self._candles.inbox

    @property
    def _last_price(self) -> dict[str, Decimal]:
        return self._frames.last_price

    def _on_text(self, conn: PingState, text: str) -> None:
        """What the reader does with one text frame (never raises)."""
        self._frames.on_text(conn, text)

    def force_reconnect(self, reason: str) -> bool:
        """Replace the socket (e.g. after the laptop slept: it may be dead without knowing).

        The supervisor then reconnects, resubscribes and backfills as after any drop.
        """
        conn = self._connector.conn
        if conn is None or not conn.alive:
            return False
        self._stats.forced_reconnects += 1
        conn.kill(reason)
        return True

    async def connect(self) -> None:
        """Open the socket (and log in on the private endpoint), retried with backoff; raises
        FeedRefusedError or AuthenticationError when retrying must stop (see Connector)."""
        await self._connector.connect()

    async def subscribe_kline(self, symbol: str, interval: str = "1min") -> None:
        symbol = symbol.upper()
        self._candles.add_stream(symbol, interval)
        self._subs.add_kline(symbol, interval)

    async def subscribe_ticker(self, symbol: str) -> None:
        """Best bid/offer from ``depth_book1``; last price from ``ticker``; MarkPrice events
        (mark, index, funding) from ``price``."""
        self._subs.add_ticker(symbol.upper())

    # ------------------------------------------------------------------ supervisor

    async def _supervise(self, start_after: int | Mapping[str, int] | None) -> None:
        try:
            await self.connect()
            await self._subs.send()
            await self._candles.backfill(start_after)
            self._stats.state = SocketState.SUBSCRIBED
            logger.info("market data connected: {} ({} channels)", self.url, len(self._subs))
            self._outbox.put(ConnectionEvent(ConnectionState.CONNECTED, at=time.time()))
            while True:
                await self._recover()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._outbox.fail(error)

    async def _recover(self) -> None:
        """Wait for the socket to die, then reconnect, resubscribe and backfill."""
        conn = self._connector.conn
        assert conn is not None
        reason = await conn.dead
        lost_at = time.monotonic()
        self._stats.state = SocketState.LOST
        logger.warning("Connection Lost: {}", reason)
        self._outbox.put(ConnectionEvent(ConnectionState.LOST, reason=reason, at=time.time()))
        self._candles.reset()
        await self._connector.drop(conn)
        await self.connect()
        self._counters.reconnect()
        await self._subs.send()
        await self._candles.backfill(None)
        outage = time.monotonic() - lost_at
        self._stats.state = SocketState.SUBSCRIBED
        logger.info("Connection recovered after {:.2f}s outage", outage)
        self._outbox.put(ConnectionEvent(ConnectionState.RECOVERED, outage_s=outage,
                                         at=time.time()))

    async def _watch_worker(self, worker: asyncio.Task[None]) -> None:
        try:
            await worker
        except asyncio.CancelledError:
            raise
        except Exception as error:  # pragma: no cover - the worker catches per item
            self._outbox.fail(error)

    # ------------------------------------------------------------------ public loop

    async def listen(self, start_after_open_time: int | Mapping[str, int] | None = None
                     ) -> AsyncIterator[MarketEvent]:
        """Yield Ticks, MarkPrices, closed Candles (exactly once, in order) and
        ConnectionEvents.

        With ``start_after_open_time`` (one open time, or one per symbol) every closed candle
        after it is first fetched over REST, so warm-up history and live candles join without
        a gap. Raises FeedRefusedError or
        AuthenticationError when connecting must stop.
        """
        if self._listening:
            raise RuntimeError("listen() is already running on this provider")
        self._listening = True
        worker = asyncio.create_task(self._candles.run(), name="bitunix-candles")
        self._tasks = [
            worker,
            asyncio.create_task(self._watch_worker(worker), name="bitunix-candles-watch"),
            asyncio.create_task(self._supervise(start_after_open_time), name="bitunix-feed"),
        ]
        outbox = self._outbox
        items = outbox.items
        try:
            while True:
                if not items:
                    await outbox.wait()
                    continue
                item = items.popleft()  # Outbox.pop, inline: every tick
                if outbox.held:
                    outbox.release()
                if isinstance(item, Fatal):
                    raise item.error
                yield item
        finally:
            await self.close()

    async def close(self) -> None:
        flush = self._subs.flush_task
        tasks = [*self._tasks, *([flush] if flush else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        if self._connector.conn is not None:
            await self._connector.drop(self._connector.conn)
            self._connector.conn = None
        self._stats.state = SocketState.CLOSED


__all__ = ["BitunixWSProvider", "FeedConnectError", "ProviderStats", "reconnect_wait"]
