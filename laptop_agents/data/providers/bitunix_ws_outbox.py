"""What the market-data tasks hand outward: items for ``listen()`` and counts for ``stats``.

* :class:`Outbox` is the one queue ``listen()`` drains. Closed candles and connection events
  always go in; ticks and partial candles are *offered* and dropped (``stats.dropped``) once
  the consumer is ``MAX_BUFFERED`` behind. Mark prices are state, not a stream: behind that
  point only the latest per symbol is held back, and queued once there is room again. A
  :class:`Fatal` error in it ends ``listen()``.
* :class:`ProviderStats` is ``provider.stats``; :class:`FeedCounters` bumps a counter and its
  Prometheus metric together, so no task can update one and forget the other.
"""

from __future__ import annotations

import asyncio
from dataclasses import asdict, dataclass
from typing import TypeVar

from loguru import logger

from laptop_agents.data.providers.bitunix_protocol import sample
from laptop_agents.metrics import Metrics
from laptop_agents.models import MarketEvent, MarkPrice, SocketState

MAX_BUFFERED = 10_000  # ticks / partial candles / kline pushes held for a slow consumer

T = TypeVar("T")
StatValue = int | float | str | None  # what a ProviderStats field holds


@dataclass
class ProviderStats:
    ticks: int = 0
    candles: int = 0
    malformed: int = 0
    reconnects: int = 0
    connect_attempts: int = 0
    consecutive_refusals: int = 0
    state: SocketState = SocketState.IDLE
    last_frame_wall: float | None = None  # epoch seconds of the last frame received
    last_tick_wall: float | None = None
    dropped: int = 0  # items dropped because the consumer fell MAX_BUFFERED behind
    rest_confirmed: int = 0  # closed candles whose values came from REST
    ws_fallbacks: int = 0  # closed candles emitted from WS values because REST lacked them
    gaps: int = 0  # closed candles neither REST nor the stream could supply
    implausible_ts: int = 0  # pushes skipped: ts outside the window around exchange time
    forced_reconnects: int = 0  # sockets replaced on request (e.g. after the laptop slept)
    frame_errors: int = 0  # frames whose handling raised (a bug or an unforeseen input)
    marks: int = 0  # mark prices (`price` pushes) passed on; repeats are coalesced

    def as_dict(self) -> dict[str, StatValue]:
        return asdict(self)

    def __getitem__(self, key: str) -> StatValue:
        value: StatValue = getattr(self, key)
        return value


def offer(queue: asyncio.Queue[T], item: T, stats: ProviderStats) -> bool:
    """Queue ``item`` unless ``MAX_BUFFERED`` items wait already (then count it dropped)."""
    if queue.qsize() >= MAX_BUFFERED:
        stats.dropped += 1
        return False
    queue.put_nowait(item)
    return True


@dataclass
class Fatal:
    """An error that ends ``listen()``: raised there, in the consumer's task."""

    error: BaseException


class Outbox:
    def __init__(self, stats: ProviderStats) -> None:
        self.queue: asyncio.Queue[MarketEvent | Fatal] = asyncio.Queue()
        self._stats = stats
        self._held: dict[str, MarkPrice] = {}  # the latest mark per symbol that did not fit

    def put(self, item: MarketEvent) -> None:
        self.queue.put_nowait(item)

    def offer(self, item: MarketEvent) -> bool:
        """Queue a tick or partial candle; dropped when the consumer is far behind."""
        return offer(self.queue, item, self._stats)

    def offer_latest(self, mark: MarkPrice) -> None:
        """Queue a mark price. Once the consumer is ``MAX_BUFFERED`` behind, the mark waits
        beside the queue, replaced by any newer one for its symbol, and goes in when there is
        room: a lost surplus tick is followed by the next, but the mark (and the funding state
        it carries) may not change again for a long time, so the newest must get through."""
        self._held.pop(mark.symbol, None)  # re-inserted last: held marks keep arrival order
        self._held[mark.symbol] = mark
        self._release()

    def _release(self) -> None:
        while self._held and self.queue.qsize() < MAX_BUFFERED:
            symbol = next(iter(self._held))
            self.queue.put_nowait(self._held.pop(symbol))

    def fail(self, error: BaseException) -> None:
        self.queue.put_nowait(Fatal(error))

    async def get(self) -> MarketEvent:
        item = await self.queue.get()
        if self._held:
            self._release()
        if isinstance(item, Fatal):
            raise item.error
        return item


class FeedCounters:
    def __init__(self, stats: ProviderStats, metrics: Metrics | None) -> None:
        self.stats = stats
        self._metrics = metrics

    def malformed(self, data: str | bytes, error: Exception) -> None:
        self.stats.malformed += 1
        if self._metrics is not None:
            self._metrics.malformed_frames.inc()
        logger.debug("skipping malformed frame ({}): {}", error, sample(data))

    def frame_error(self) -> None:
        self.stats.frame_errors += 1
        if self._metrics is not None:
            self._metrics.frame_errors.inc()

    def tick(self, wall: float) -> None:
        self.stats.ticks += 1
        self.stats.last_tick_wall = wall
        if self._metrics is not None:
            self._metrics.ticks.inc()

    def candle(self) -> None:
        self.stats.candles += 1
        if self._metrics is not None:
            self._metrics.candles.inc()

    def rest_confirmed(self, n: int) -> None:
        self.stats.rest_confirmed += n
        if self._metrics is not None and n:
            self._metrics.candles_confirmed.labels(source="rest").inc(n)

    def ws_fallback(self) -> None:
        self.stats.ws_fallbacks += 1
        if self._metrics is not None:
            self._metrics.candles_confirmed.labels(source="ws").inc()

    def gaps(self, n: int) -> None:
        self.stats.gaps += n
        if self._metrics is not None:
            self._metrics.candle_gaps.inc(n)

    def reconnect(self) -> None:
        self.stats.reconnects += 1
        if self._metrics is not None:
            self._metrics.reconnects.inc()
