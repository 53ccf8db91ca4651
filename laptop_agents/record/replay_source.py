"""The replay's side of the seams: a timeline, a market-data feed, REST and an exchange clock
that hand back a recording, so the real engine runs over it on a virtual clock, no sockets.

:class:`ReplayTimeline` walks the records with one cursor. The feed advances it over items
(and speed changes) and yields each item; a stamped step (a decision, a timer pass, a REST
answer, the stop) is consumed by the engine task that asks for it with ``point(kind)``. While
the cursor stands on a step, the feed waits until that task has asked for it and run up to its
next ``await``, so every step happens between the same two items as it did live. "Now" (the
monotonic clock of the gate, guard and funding sync, the exchange time and speed) is the
recorded time of the latest item or step.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from typing import Any, Protocol

from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_rest_parse import DepthSnapshot
from laptop_agents.data.providers.bitunix_ws_outbox import FeedCounts
from laptop_agents.models import (
    Candle,
    FundingQuote,
    FundingSettlement,
    Instrument,
    MarketEvent,
)
from laptop_agents.record.codec import Item, Point, Record
from laptop_agents.session.tasks import TaskInfo
from laptop_agents.session.timeline import Stamp, Timeline, TimerBody

STEP_TIMEOUT_S = 60.0  # wall seconds the feed waits for an engine step (a slow strategy)


class ReplayDivergedError(Exception):
    """The engine did not take a step the recording has: the replay is not the session."""


class ReplayedRestError(Exception):
    """A REST call that failed in the recorded session fails the same way in the replay."""


class VirtualTime(Protocol):
    """A timeline that says what time it is (a replay's, or a backtest's)."""

    now: float  # local monotonic seconds
    now_ms: int  # exchange ms
    speed: float  # exchange ms per local ms


class VirtualLocal:
    """The laptop clocks of a replay: the recorded monotonic time (and wall = monotonic)."""

    def __init__(self, timeline: VirtualTime) -> None:
        self._timeline = timeline

    def wall(self) -> float:
        return self._timeline.now

    def mono(self) -> float:
        return self._timeline.now


class ReplayClock(ExchangeClock):
    """Exchange time and speed as recorded; nothing is estimated."""

    def __init__(self, timeline: VirtualTime) -> None:
        super().__init__(VirtualLocal(timeline))
        self._timeline = timeline

    @property
    def speed(self) -> float:
        return self._timeline.speed

    def now_ms(self) -> int:
        return self._timeline.now_ms

    def forget(self) -> None:
        pass  # the recorded times are not an estimate


class ReplayTimeline(Timeline):
    replaying = True

    def __init__(self, records: list[Record], speed: float = 1.0) -> None:
        self.records = records
        self.i = 0
        self.now = records[0].mono if records and isinstance(records[0], Item) else 0.0
        self.now_ms = 0
        self.speed = speed
        super().__init__(ReplayClock(self))
        self.mono = self._read_now
        self._waiters: dict[str, deque[asyncio.Future[Point]]] = {}
        self._pending = 0  # steps handed to a task that has not resumed yet
        self._changed = asyncio.Event()

    def _read_now(self) -> float:
        return self.now

    def stamp(self) -> Stamp:
        return Stamp(self.now_ms, self.now, self.speed)

    def _apply(self, stamp: Stamp) -> None:
        self.now, self.now_ms, self.speed = stamp.mono, stamp.now_ms, stamp.speed

    def _settle(self) -> None:
        """Hand the steps at the cursor to the tasks already waiting for them."""
        records = self.records
        while self.i < len(records):
            record = records[self.i]
            if isinstance(record, float):  # a speed change: nothing to wait for
                self.speed = record
                self.i += 1
                continue
            if not isinstance(record, Point):
                return
            waiting = self._waiters.get(record.kind)
            if not waiting:
                return
            self.i += 1
            self._pending += 1
            waiting.popleft().set_result(record)

    async def take(self, kind: str) -> Point:
        """The next recorded step of ``kind``, once the stream has reached it."""
        if self.i >= len(self.records) and kind == "stop":
            return Point(kind, self.stamp())  # the recording ended without a stop
        future: asyncio.Future[Point] = asyncio.get_running_loop().create_future()
        self._waiters.setdefault(kind, deque()).append(future)
        self._settle()
        point = await future
        self._pending -= 1
        self._apply(point.stamp)
        self._changed.set()
        return point

    async def point(self, kind: str) -> Stamp:
        return (await self.take(kind)).stamp

    def timer(self, kind: str, seconds: float | Callable[[], float],
              body: TimerBody) -> Callable[[TaskInfo], Awaitable[None]]:
        """A timer fires exactly where the recording says it acted (and nowhere else)."""

        async def loop(info: TaskInfo) -> None:
            while True:
                body((await self.take(kind)).stamp)
                info.ran()

        return loop

    async def events(self) -> AsyncIterator[MarketEvent]:
        records = self.records
        while True:
            self._settle()
            if self._pending or (self.i < len(records) and isinstance(records[self.i], Point)):
                record = records[self.i] if self.i < len(records) else None
                if isinstance(record, Point) and record.kind == "stop" and not self._pending:
                    return  # the session stopped here: the engine's shutdown takes the stop
                await self._wait_for_step()
                continue
            if self.i >= len(records):
                return
            record = records[self.i]
            self.i += 1
            if isinstance(record, Item):
                self.now = record.mono
                yield record.event
            elif isinstance(record, float):
                self.speed = record

    async def _wait_for_step(self) -> None:
        self._changed.clear()
        try:
            await asyncio.wait_for(self._changed.wait(), STEP_TIMEOUT_S)
        except TimeoutError:
            record = self.records[self.i] if self.i < len(self.records) else None
            items = sum(1 for r in self.records[:self.i] if isinstance(r, Item))
            what = record.kind if isinstance(record, Point) else "a step"
            raise ReplayDivergedError(f"the engine did not reach the {what!r} step recorded "
                                      f"after item #{items}") from None


ReplayStats = FeedCounts  # a replay's feed counts nothing: it reads what was accepted


class EventSource(Protocol):
    def events(self) -> AsyncIterator[MarketEvent]: ...


class ReplayFeed:
    """MarketData over a recording, or over any timeline that makes the stream (a backtest's)
    (session/ports.py)."""

    def __init__(self, timeline: EventSource) -> None:
        self._timeline = timeline
        self.stats = ReplayStats()

    async def subscribe_kline(self, symbol: str, interval: str = "1min") -> None:
        pass

    async def subscribe_ticker(self, symbol: str) -> None:
        pass

    def listen(self, start_after_open_time: int | Mapping[str, int] | None = None
               ) -> AsyncIterator[MarketEvent]:
        return self._timeline.events()

    def force_reconnect(self, reason: str) -> bool:
        return False

    async def close(self) -> None:
        pass


class ReplayRest:
    """MarketRest over a recording: each call returns the answer recorded for it, at the
    point in the stream it arrived."""

    def __init__(self, timeline: ReplayTimeline) -> None:
        self._timeline = timeline
        self.clock: ExchangeClock = timeline.clock

    async def _answer(self, method: str) -> Any:
        point = await self._timeline.take(f"rest.{method}")
        if point.error is not None:
            raise ReplayedRestError(point.error)
        return point.answer

    async def klines(self, symbol: str, interval: str = "1min", start_ms: int | None = None,
                     end_ms: int | None = None, limit: int | None = None) -> list[Candle]:
        answer: list[Candle] = await self._answer("klines")
        return answer

    async def depth(self, symbol: str, limit: int | str = 5) -> DepthSnapshot:
        answer: DepthSnapshot = await self._answer("depth")
        return answer

    async def instrument(self, symbol: str) -> Instrument:
        answer: Instrument = await self._answer("instrument")
        return answer

    async def funding_rate(self, symbol: str) -> FundingQuote:
        answer: FundingQuote = await self._answer("funding_rate")
        return answer

    async def funding_history(self, symbol: str, start_ms: int,
                              end_ms: int | None = None) -> list[FundingSettlement]:
        answer: list[FundingSettlement] = await self._answer("funding_history")
        return answer


__all__ = ["EventSource", "ReplayClock", "ReplayDivergedError", "ReplayFeed", "ReplayRest",
           "ReplayStats", "ReplayTimeline", "ReplayedRestError", "VirtualLocal", "VirtualTime"]
