"""What the market-data tasks hand outward: items for ``listen()`` and counts for ``stats``.

* :class:`Outbox` is the one queue ``listen()`` drains (a deque: see the class). Closed
  candles and connection events always go in; ticks and partial candles are *offered* and
  dropped (``stats.dropped``) once the consumer is ``MAX_BUFFERED`` behind. Mark prices are
  state, not a stream: behind that point only the latest per symbol is held back, and queued
  once there is room again. A
  :class:`Fatal` error in it ends ``listen()``.
* :class:`ProviderStats` is ``provider.stats``; :class:`FeedCounters` bumps a counter and its
  Prometheus metric together, so no task can update one and forget the other.
"""

from __future__ import annotations

import asyncio
from collections import deque
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
class FeedCounts:
    """The counters /status data_health shows of a market-data source (session.ports
    FeedStats): a replay's, or several sockets' added up."""

    malformed: int = 0
    implausible_ts: int = 0
    frame_errors: int = 0
    rest_confirmed: int = 0
    ws_fallbacks: int = 0
    gaps: int = 0


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
    """A deque and one waiter: ``listen()`` is its only consumer.

    Not an ``asyncio.Queue``: a tick is put and taken by the thousand per second in a burst,
    and the queue's put/get (its own bookkeeping, a waiter deque, ``get`` as a coroutine even
    when an item waits) cost as much as parsing the frame. Here a put is an append (plus one
    wake-up when the consumer sleeps), a take a ``popleft``. Bounded as the queue was: ticks and
    partial candles are offered and counted dropped beyond ``MAX_BUFFERED``.
    """

    def __init__(self, stats: ProviderStats) -> None:
        self.items: deque[MarketEvent | Fatal] = deque()  # listen() pops them itself
        self._waiter: asyncio.Future[None] | None = None
        self._stats = stats
        self.held: dict[str, MarkPrice] = {}  # the latest mark per symbol that did not fit

    def _wake(self) -> None:
        waiter = self._waiter
        if waiter is not None:
            self._waiter = None
            if not waiter.done():
                waiter.set_result(None)

    def put(self, item: MarketEvent) -> None:
        self.put_nowait(item)

    def put_nowait(self, item: MarketEvent | Fatal) -> None:
        self.items.append(item)
        if self._waiter is not None:
            self._wake()

    def offer(self, item: MarketEvent) -> bool:
        """Queue a tick or partial candle; dropped when the consumer is far behind."""
        if len(self.items) >= MAX_BUFFERED:
            self._stats.dropped += 1
            return False
        self.items.append(item)
        if self._waiter is not None:
            self._wake()
        return True

    def offer_latest(self, mark: MarkPrice) -> None:
        """Queue a mark price. Once the consumer is ``MAX_BUFFERED`` behind, the mark waits
        beside the queue, replaced by any newer one for its symbol, and goes in when there is
        room: a lost surplus tick is followed by the next, but the mark (and the funding state
        it carries) may not change again for a long time, so the newest must get through."""
        self.held.pop(mark.symbol, None)  # re-inserted last: held marks keep arrival order
        self.held[mark.symbol] = mark
        self.release()

    def release(self) -> None:
        """Queue the held marks that fit (the consumer calls it when it took an item)."""
        while self.held and len(self.items) < MAX_BUFFERED:
            symbol = next(iter(self.held))
            self.put_nowait(self.held.pop(symbol))

    def fail(self, error: BaseException) -> None:
        self.put_nowait(Fatal(error))

    def pop(self) -> MarketEvent | None:
        """The next item, None when there is none; a :class:`Fatal` is raised here."""
        if not self.items:
            return None
        item = self.items.popleft()
        if self.held:
            self.release()
        if isinstance(item, Fatal):
            raise item.error
        return item

    async def wait(self) -> None:
        """Until an item is there (returns at once when one is)."""
        if not self.items:
            self._waiter = asyncio.get_running_loop().create_future()
            await self._waiter

    async def get(self) -> MarketEvent:
        while True:
            item = self.pop()
            if item is not None:
                return item
            await self.wait()

    # What the tests look into, as they did on the queue.
    def qsize(self) -> int:
        return len(self.items)

    def empty(self) -> bool:
        return not self.items

    def get_nowait(self) -> MarketEvent | Fatal:
        return self.items.popleft()


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
            self._metrics.ticks.value += 1  # a plain int, read at scrape time

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
