"""CandleWorker: the one task that owns every kline stream's state and emits closed candles.

It takes kline pushes from its inbox (filled by the frame handler), buckets them with the pure
``CandleCloser``, and on a rollover asks REST for the finished candles (REST's values are the
exchange's final ones; the stream's last values stand in only after REST was asked again).
It also closes a silent bucket on a timer (boundary + ``LA_CANDLE_CLOSE_GRACE``), retries a
just-finished candle REST did not have yet, backfills after (re)connecting, and forgets running
buckets when the socket dies. Every closed candle passes one check, so each is emitted exactly
once and in order, whichever path found it. Being the only place REST is asked for candles is
what keeps them in order; the rules are written out in docs/market-data.md.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Protocol

from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_protocol import CandleCloser, KlinePush, bucket_start
from laptop_agents.data.providers.bitunix_ws_outbox import FeedCounters, Outbox, offer
from laptop_agents.data.providers.neterrors import describe_connect_error
from laptop_agents.models import WS_INTERVAL_MS, Candle
from laptop_agents.readable import stamp

TIMER_RETRY_MIN = 0.5  # wall seconds between REST retries of a timer-closed candle
ROLLOVER_RETRIES = 3  # REST asks for a just-finished candle before its WS values are used


class KlineSource(Protocol):
    """What the worker needs of the REST client."""

    async def klines(self, symbol: str, interval: str = "1min", start_ms: int | None = None,
                     end_ms: int | None = None, limit: int | None = None) -> list[Candle]: ...

    async def refresh_time(self, symbol: str) -> None: ...


@dataclass
class Stream:
    """One kline subscription's close-detection state (owned by the candle worker)."""

    symbol: str
    interval: str
    closer: CandleCloser
    step: int
    last_emitted: int | None = None  # open time of the last closed candle yielded
    first_seen: int | None = None  # first bucket pushed: where backfill starts if none emitted
    close_after_ms: int | None = None  # exchange ms: the running bucket's end (+ grace)
    deadline: float | None = None  # monotonic time of the next REST ask for a silent bucket
    pending: Candle | None = None  # finished on the stream, REST did not have it yet
    pending_deadline: float | None = None  # monotonic time of the next REST ask for it
    pending_tries: int = 0

    def clear_pending(self) -> None:
        self.pending, self.pending_deadline, self.pending_tries = None, None, 0


@dataclass
class _Reset:
    """The socket died: forget every running candle."""


@dataclass
class _Backfill:
    start_after: int | Mapping[str, int] | None
    done: asyncio.Future[None]


InboxItem = KlinePush | _Reset | _Backfill  # what the worker's task takes, in arrival order


class CandleWorker:
    def __init__(self, rest: KlineSource, clock: ExchangeClock, settings: Settings,
                 counters: FeedCounters, outbox: Outbox) -> None:
        self._rest = rest
        self._clock = clock
        self._settings = settings
        self._counters = counters
        self._outbox = outbox
        self.streams: dict[tuple[str, str], Stream] = {}
        self.inbox: asyncio.Queue[InboxItem] = asyncio.Queue()

    # ------------------------------------------------------------------ called by others

    def add_stream(self, symbol: str, interval: str) -> None:
        if (symbol, interval) not in self.streams:
            self.streams[(symbol, interval)] = Stream(
                symbol=symbol, interval=interval, closer=CandleCloser(symbol, interval),
                step=WS_INTERVAL_MS[interval])

    def offer(self, push: KlinePush) -> None:
        # A dropped push is harmless: the candle is confirmed (or backfilled) from REST.
        offer(self.inbox, push, self._counters.stats)

    def reset(self) -> None:
        """The socket died: running buckets are forgotten (the backfill covers them)."""
        self.inbox.put_nowait(_Reset())

    async def backfill(self, start_after: int | Mapping[str, int] | None) -> None:
        """Emit every closed candle missed (after ``start_after``) and wait until it is done.
        Queued behind the pushes already received, so candles stay in order."""
        if not self.streams:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.inbox.put_nowait(_Backfill(start_after, done))
        await done

    # ------------------------------------------------------------------ the task

    async def run(self) -> None:
        while True:
            wait = self._next_deadline_in()
            if wait == 0.0:
                await self._close_due()
                continue
            try:
                async with asyncio.timeout(wait):
                    item = await self.inbox.get()
            except TimeoutError:
                continue
            try:
                if isinstance(item, KlinePush):
                    await self._on_kline(item)
                elif isinstance(item, _Reset):
                    self._forget_running()
                else:
                    try:
                        await self._backfill(item.start_after)
                    finally:
                        if not item.done.done():
                            item.done.set_result(None)
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug must not stop candle delivery for good
                logger.exception("candle worker failed on {!r}", item)

    def _forget_running(self) -> None:
        for stream in self.streams.values():
            stream.closer.reset()
            stream.deadline = stream.close_after_ms = None
            # The reconnect's backfill fetches it (or reports the gap).
            stream.pending, stream.pending_deadline = None, None

    # ------------------------------------------------------------------ emitting

    def _emit_candle(self, stream: Stream, candle: Candle) -> None:
        if stream.last_emitted is not None and candle.open_time <= stream.last_emitted:
            return  # never twice, never out of order
        stream.last_emitted = candle.open_time
        self._outbox.put(candle if candle.closed else replace(candle, closed=True))
        self._counters.candle()

    async def _emit_closed_through(
        self, stream: Stream, end: int, fallbacks: tuple[Candle, ...] = (),
        first: int | None = None,
    ) -> None:
        """Emit every closed candle with ``last_emitted < open_time < end``, from REST.

        ``fallbacks`` hold WS values of finished candles, used only for candles REST cannot
        give. ``first`` is where to start when nothing was emitted yet. A candle missing
        from both, older than one that is emitted, is a gap: counted and logged.
        """
        if stream.last_emitted is not None:
            start = stream.last_emitted + stream.step
        elif first is not None:
            start = first
        else:
            return
        if start >= end:
            return
        by_time = await self._fetch(stream, start, end)
        self._counters.rest_confirmed(len(by_time))
        for fallback in fallbacks:
            if start <= fallback.open_time < end and fallback.open_time not in by_time:
                logger.debug("REST lacks candle {}; using the last WS values",
                             stamp(fallback.open_time))
                by_time[fallback.open_time] = fallback
                self._counters.ws_fallback()
        if by_time:
            newest = max(by_time)
            missing = (newest - start) // stream.step + 1 - len(by_time)
            if missing > 0:
                self._counters.gaps(missing)
                logger.warning("{} {}: {} candle(s) before {} could not be fetched (gap)",
                               stream.symbol, stream.interval, missing, newest)
        for open_time in sorted(by_time):
            self._emit_candle(stream, by_time[open_time])

    async def _fetch(self, stream: Stream, start: int, end: int) -> dict[int, Candle]:
        """REST's closed candles with ``start <= open_time < end`` by open time; none when
        REST fails (logged: the caller falls back or reports the gap)."""
        try:
            candles = await self._rest.klines(stream.symbol, stream.interval,
                                              start_ms=start, end_ms=end)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("REST klines {} {} failed: {}", stream.symbol, stream.interval,
                           describe_connect_error(self._settings.bitunix_rest_url, error))
            candles = []
        return {c.open_time: c for c in candles if start <= c.open_time < end}

    # ------------------------------------------------------------------ pushes

    async def _on_kline(self, push: KlinePush) -> None:
        stream = self.streams.get((push.symbol, push.interval))
        if stream is None:
            return
        step = stream.closer.on_push(push)
        current = step.current
        if current is None:
            return
        if step.new_bucket:
            if stream.first_seen is None:
                stream.first_seen = current.open_time
            finished = step.finished
            first = finished.open_time if finished is not None else stream.first_seen
            # A candle still pending from the previous rollover has had a whole bucket for
            # REST to catch up: now its WS values may stand in.
            older = (stream.pending,) if stream.pending is not None else ()
            await self._emit_closed_through(stream, current.open_time, older, first)
            stream.clear_pending()
            if finished is not None and (stream.last_emitted is None
                                         or stream.last_emitted < finished.open_time):
                # REST does not have the just-finished candle yet (the exchange writes it a
                # moment after the boundary): ask again shortly before using WS values.
                stream.pending = finished
                stream.pending_deadline = time.monotonic() + self._retry_wait()
            self._set_deadline(stream, current.open_time)
        if self._settings.emit_partial_candles and (
            stream.last_emitted is None or current.open_time > stream.last_emitted
        ):
            self._outbox.offer(current)

    # ------------------------------------------------------------------ timers

    def _set_deadline(self, stream: Stream, open_time: int) -> None:
        # Kept in exchange time and converted on every wait: the exchange's speed is an
        # estimate that may still be settling (the first seconds against a fast simulator).
        stream.close_after_ms = open_time + stream.step
        stream.deadline = None

    def _close_wait(self, stream: Stream) -> float | None:
        """Local seconds until the running bucket's boundary plus the grace; None if unset."""
        if stream.close_after_ms is None:
            return None
        clock = self._clock
        until_boundary = (stream.close_after_ms - clock.now_ms()) / 1000.0 / clock.speed
        return until_boundary + self._settings.candle_close_grace

    def _retry_wait(self) -> float:
        return max(self._settings.candle_close_grace, TIMER_RETRY_MIN)

    def _next_deadline_in(self) -> float | None:
        now = time.monotonic()
        waits = [d - now for s in self.streams.values()
                 for d in (s.deadline, s.pending_deadline) if d is not None]
        waits += [w for s in self.streams.values() if (w := self._close_wait(s)) is not None]
        if not waits:
            return None
        # At most a second: a boundary's local time moves as the speed estimate settles.
        return min(max(0.0, min(waits)), 1.0)

    async def _retry_pending(self, stream: Stream) -> None:
        pending = stream.pending
        assert pending is not None
        stream.pending_tries += 1
        last_try = stream.pending_tries >= ROLLOVER_RETRIES
        await self._emit_closed_through(stream, pending.open_time + stream.step,
                                        (pending,) if last_try else (), first=pending.open_time)
        if last_try or (stream.last_emitted is not None
                        and stream.last_emitted >= pending.open_time):
            stream.clear_pending()
        else:
            stream.pending_deadline = time.monotonic() + self._retry_wait()

    async def _close_due(self) -> None:
        """Close running buckets whose boundary + grace passed without a later push, and ask
        REST again for finished candles it did not have yet."""
        now = time.monotonic()
        for stream in self.streams.values():
            if stream.pending_deadline is not None and now >= stream.pending_deadline:
                await self._retry_pending(stream)
            current = stream.closer.current
            close_wait = self._close_wait(stream)
            due = (close_wait is not None and close_wait <= 0.0) or (
                stream.deadline is not None and now >= stream.deadline)
            if not due:
                continue
            stream.close_after_ms = None
            if current is None:
                stream.deadline = None
                continue
            await self._emit_closed_through(stream, current.open_time + stream.step,
                                            first=stream.first_seen)
            if stream.last_emitted is not None and stream.last_emitted >= current.open_time:
                stream.deadline = None
            else:  # REST does not have it yet: ask again later
                stream.deadline = time.monotonic() + self._retry_wait()

    async def _backfill(self, start_after: int | Mapping[str, int] | None) -> None:
        if self.streams:
            with contextlib.suppress(Exception):  # the klines call below reports failures
                await self._rest.refresh_time(next(iter(self.streams.values())).symbol)
        now_ms = self._clock.now_ms()
        for stream in self.streams.values():
            after = (start_after.get(stream.symbol) if isinstance(start_after, Mapping)
                     else start_after)  # per symbol when several trade
            if after is not None and (stream.last_emitted is None
                                      or stream.last_emitted < after):
                stream.last_emitted = after
            # Nothing emitted yet but a bucket was seen before the drop: start there, so a
            # candle that was running when the socket died is not lost.
            await self._emit_closed_through(stream, bucket_start(now_ms, stream.interval),
                                            first=stream.first_seen)
