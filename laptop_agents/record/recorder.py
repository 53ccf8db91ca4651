"""Recording (LA_RECORD=true): the stream, the REST answers and the stamped steps, to a file.

:class:`RecordingTimeline` is the engine's timeline while recording. Per item it reads the
monotonic clock once and appends the item to a buffer (and the exchange speed, when it
changed); each stamped step (a decision, a timer pass that reached the broker, a REST answer,
the stop) is appended where it happened. The gate, the guard and the funding sync read "now"
from it: the time of the latest item or step, which is exactly what a replay reproduces. Once a
second a background task encodes, compresses and appends the buffer in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import TypeVar

import msgspec
from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_rest_parse import DepthSnapshot
from laptop_agents.models import (
    Candle,
    FundingQuote,
    FundingSettlement,
    Instrument,
    MarketEvent,
)
from laptop_agents.record.codec import SPEED, Point, encode_item, encode_point
from laptop_agents.record.files import FORMAT_VERSION, SegmentWriter
from laptop_agents.session.ports import MarketRest
from laptop_agents.session.tasks import TaskInfo
from laptop_agents.session.timeline import Stamp, Timeline, TimerBody

FLUSH_S = 1.0
SECRETS = {"bitunix_api_key", "bitunix_api_secret", "api_token"}
T = TypeVar("T")


class RecordingTimeline(Timeline):
    def __init__(self, clock: ExchangeClock, writer: SegmentWriter) -> None:
        super().__init__(clock)
        self.writer = writer
        self._now = time.monotonic()
        self.mono = self._read_now
        self._buffer: list[object] = []  # (item, mono), a speed, or a Point; one list, kept
        self._speed: float | None = None
        self._flusher: asyncio.Task[None] | None = None
        self._writing: asyncio.Future[None] | None = None

    def _read_now(self) -> float:
        return self._now

    async def _feed(self, items: AsyncIterator[MarketEvent]) -> AsyncIterator[MarketEvent]:
        if self._flusher is None:
            self._flusher = asyncio.create_task(self._flush_forever(), name="recorder")
        append, clock, mono = self._buffer.append, self.clock, time.monotonic
        async for item in items:
            self._now = now = mono()
            speed = clock.speed
            if speed != self._speed:
                self._speed = speed
                append(speed)
            append((item, now))
            yield item

    def feed(self, items: AsyncIterator[MarketEvent]) -> AsyncIterator[MarketEvent]:
        return self._feed(items)

    def note(self, point: Point) -> None:
        self._now, self._speed = point.stamp.mono, point.stamp.speed
        self._buffer.append(point)

    async def point(self, kind: str) -> Stamp:
        stamp = self.stamp()
        self.note(Point(kind, stamp))
        return stamp

    def timer(self, kind: str, seconds: float | Callable[[], float],
              body: TimerBody) -> Callable[[TaskInfo], Awaitable[None]]:
        async def loop(info: TaskInfo) -> None:
            while True:
                await asyncio.sleep(seconds() if callable(seconds) else seconds)
                stamp = self.stamp()
                self._now = stamp.mono  # the body judges freshness at the stamp's time
                value = body(stamp)
                if value is not None:
                    self.note(Point(kind, replace(stamp, value=value)))
                info.ran()

        return loop

    # --- writing --------------------------------------------------------------------------
    def _take(self) -> list[object]:
        batch = self._buffer.copy()  # the same list stays bound to the feed's append
        self._buffer.clear()
        return batch

    async def _flush_forever(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_S)
            self._writing = asyncio.ensure_future(
                asyncio.to_thread(self.writer.write, encode_all(self._take())))
            await asyncio.shield(self._writing)

    async def aclose(self) -> None:
        if self._flusher is not None:
            self._flusher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._flusher
        if self._writing is not None:
            with contextlib.suppress(Exception):
                await self._writing  # a flush under way finishes before the end record
        await asyncio.to_thread(self.writer.close, encode_all(self._take()))
        logger.info("recording written: {}", self.writer.first)


def encode_all(batch: list[object]) -> list[list[object]]:
    out: list[list[object]] = []
    for entry in batch:
        if isinstance(entry, tuple):
            out.append(encode_item(entry[0], entry[1]))
        elif isinstance(entry, Point):
            out.append(encode_point(entry))
        else:
            out.append([SPEED, entry])
    return out


class RecordingRest:
    """The engine's REST client while recording: every answer (or failure) is written down at
    the point it reached the engine."""

    def __init__(self, inner: MarketRest, timeline: RecordingTimeline) -> None:
        self._inner = inner
        self._timeline = timeline
        self.clock = inner.clock

    async def _call(self, method: str, work: Awaitable[T]) -> T:
        try:
            answer = await work
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._timeline.note(Point(f"rest.{method}", self._timeline.stamp(), None,
                                      f"{type(error).__name__}: {error}"))
            raise
        self._timeline.note(Point(f"rest.{method}", self._timeline.stamp(), answer))
        return answer

    async def klines(self, symbol: str, interval: str = "1min", start_ms: int | None = None,
                     end_ms: int | None = None, limit: int | None = None) -> list[Candle]:
        return await self._call("klines", self._inner.klines(symbol, interval, start_ms,
                                                             end_ms, limit))

    async def depth(self, symbol: str, limit: int | str = 5) -> DepthSnapshot:
        return await self._call("depth", self._inner.depth(symbol, limit))

    async def instrument(self, symbol: str) -> Instrument:
        return await self._call("instrument", self._inner.instrument(symbol))

    async def funding_rate(self, symbol: str) -> FundingQuote:
        return await self._call("funding_rate", self._inner.funding_rate(symbol))

    async def funding_history(self, symbol: str, start_ms: int,
                              end_ms: int | None = None) -> list[FundingSettlement]:
        return await self._call("funding_history",
                                self._inner.funding_history(symbol, start_ms, end_ms))


def journal_image(path: Path) -> bytes:
    """The journal as it stands (the state a replay starts from), as one SQLite image."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        return conn.serialize()


async def start_recording(settings: Settings, clock: ExchangeClock, rest: MarketRest,
                          instrument: Instrument,
                          journal: Path) -> tuple[RecordingRest, RecordingTimeline]:
    """Open the first segment (header: settings, trading rules, the journal's state)."""
    wall = time.time()
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime(wall)) + f"{int(wall * 1000) % 1000:03d}Z"
    header = {
        "version": FORMAT_VERSION, "source": settings.source, "symbol": settings.symbol,
        "interval": settings.interval, "started_ms": int(wall * 1000),
        "settings": settings.model_dump_json(exclude=SECRETS),
        "instrument": msgspec.msgpack.encode(instrument),
        "journal": await asyncio.to_thread(journal_image, journal),
    }
    writer = SegmentWriter(
        settings.data_dir.expanduser() / "recordings",
        f"{settings.source}-{settings.symbol}-{stamp}", header,
        max_bytes=int(settings.record_segment_mb * 1_000_000),
        max_seconds=settings.record_segment_hours * 3600, keep=settings.record_keep)
    await asyncio.to_thread(writer.open)
    logger.info("recording the market stream to {}", writer.path)
    timeline = RecordingTimeline(clock, writer)
    return RecordingRest(rest, timeline), timeline


__all__ = ["RecordingRest", "RecordingTimeline", "encode_all", "journal_image",
           "start_recording"]
