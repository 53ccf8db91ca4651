"""Subscriptions: the channels asked for, and getting them onto the current socket.

Channels are kept in the order registered and survive reconnects (the server forgets them; the
supervisor calls :meth:`Subscriptions.send` on every new socket). Channels registered while
connected in the same event-loop turn leave in one ``subscribe`` frame; one registered while
that frame waits for the rate limiter goes out in the next. At most ``MAX_SUBSCRIPTIONS`` per
socket, the server's cap.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from loguru import logger

from laptop_agents.data.providers.bitunix_price import PRICE_CHANNEL
from laptop_agents.data.providers.bitunix_protocol import (
    DEPTH_BBO_CHANNEL,
    MAX_SUBSCRIPTIONS,
    TICKER_CHANNEL,
    build_subscribe,
    chunk,
    kline_channel,
)
from laptop_agents.data.providers.bitunix_ws_connection import Connection


class Subscriptions:
    def __init__(self, url: str, current: Callable[[], Connection | None]) -> None:
        self._url = url
        self._current = current  # the socket to subscribe on, if any
        self._pairs: dict[tuple[str, str], None] = {}  # (channel, symbol), insertion ordered
        self.tick_symbols: set[str] = set()  # symbols whose depth/ticker pushes are wanted
        self._lock = asyncio.Lock()
        self.flush_task: asyncio.Task[None] | None = None

    def __len__(self) -> int:
        return len(self._pairs)

    def add_kline(self, symbol: str, interval: str) -> None:
        self._add([(kline_channel(interval), symbol)])

    def add_ticker(self, symbol: str) -> None:
        """Best bid/offer from ``depth_book1``; last price from ``ticker``; mark price, index
        and funding from ``price``."""
        self.tick_symbols.add(symbol)
        self._add([(DEPTH_BBO_CHANNEL, symbol), (TICKER_CHANNEL, symbol),
                   (PRICE_CHANNEL, symbol)])

    def _add(self, pairs: list[tuple[str, str]]) -> None:
        for pair in pairs:
            if pair not in self._pairs:
                if len(self._pairs) >= MAX_SUBSCRIPTIONS:
                    raise ValueError(f"more than {MAX_SUBSCRIPTIONS} subscriptions per socket")
                self._pairs[pair] = None
        # Subscriptions made in one go (same loop iteration) leave in one frame.
        conn = self._current()
        if conn is not None and conn.alive and self.flush_task is None:
            self.flush_task = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        try:
            # Loop: a subscription added while a frame waited for the rate limiter is not in
            # that frame and no second flush task was started for it, so send it here.
            while (conn := self._current()) is not None and conn.alive and any(
                pair not in conn.sent for pair in self._pairs
            ):
                await self.send()
        except Exception as error:  # the socket died; the supervisor resubscribes
            logger.debug("subscribe failed: {!r}", error)
        finally:
            self.flush_task = None

    async def send(self) -> None:
        """Subscribe the current socket to every channel it has not been sent yet."""
        async with self._lock:
            conn = self._current()
            if conn is None:
                return
            pending = [pair for pair in self._pairs if pair not in conn.sent]
            for batch in chunk(pending, MAX_SUBSCRIPTIONS):
                await conn.send(build_subscribe(batch))
                conn.sent.update(batch)
                if conn.subscribed_at is None:
                    conn.subscribed_at = time.monotonic()
            if pending:
                logger.debug("subscribed {} channel(s) on {}", len(pending), self._url)
