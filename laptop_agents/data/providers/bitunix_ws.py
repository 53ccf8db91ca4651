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
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import secrets
import time
from collections.abc import AsyncIterator
from dataclasses import asdict, dataclass, replace
from decimal import Decimal
from typing import Any

import aiohttp
from loguru import logger
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from laptop_agents.config import Settings
from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_protocol import (
    DEPTH_BBO_CHANNEL,
    MAX_SUBSCRIPTIONS,
    TICKER_CHANNEL,
    CandleCloser,
    ConnectFrame,
    DepthPush,
    HeartbeatReply,
    KlinePush,
    LoginReply,
    MalformedFrame,
    OpReply,
    TickerPush,
    bucket_start,
    build_login,
    build_ping,
    build_subscribe,
    chunk,
    frame_label,
    kline_channel,
    parse_frame,
    sample,
)
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.data.providers.neterrors import describe_connect_error
from laptop_agents.data.providers.ratelimit import SlidingWindowLimiter
from laptop_agents.errors import AuthenticationError, ConfigError, FeedRefusedError
from laptop_agents.metrics import Metrics
from laptop_agents.models import (
    WS_INTERVAL_MS,
    Candle,
    ConnectionEvent,
    ConnectionState,
    MarketEvent,
    Tick,
)

MAX_BUFFERED = 10_000  # ticks / partial candles / kline pushes held for a slow consumer
MAX_MSG_SIZE = 8 * 1024 * 1024
FRAME_ERROR_LOG_EVERY = 10.0  # seconds: a burst of failing frames logs one warning
TIMER_RETRY_MIN = 0.5  # wall seconds between REST retries of a timer-closed candle
ROLLOVER_RETRIES = 3  # REST asks for a just-finished candle before its WS values are used


class FeedConnectError(ConnectionError):
    """One connection attempt failed (retried with backoff by :meth:`connect`)."""

    def __init__(self, reason: str, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused


@dataclass
class ProviderStats:
    ticks: int = 0
    candles: int = 0
    malformed: int = 0
    reconnects: int = 0
    connect_attempts: int = 0
    consecutive_refusals: int = 0
    state: str = "idle"  # idle, connecting, connected, subscribed, lost, closed
    last_frame_wall: float | None = None  # epoch seconds of the last frame received
    last_tick_wall: float | None = None
    dropped: int = 0  # items dropped because the consumer fell MAX_BUFFERED behind
    rest_confirmed: int = 0  # closed candles whose values came from REST
    ws_fallbacks: int = 0  # closed candles emitted from WS values because REST lacked them
    gaps: int = 0  # closed candles neither REST nor the stream could supply
    implausible_ts: int = 0  # pushes skipped: ts outside the window around exchange time
    forced_reconnects: int = 0  # sockets replaced on request (e.g. after the laptop slept)
    frame_errors: int = 0  # frames whose handling raised (a bug or an unforeseen input)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    def __getitem__(self, key: str) -> Any:
        return getattr(self, key)


@dataclass
class _Fatal:
    error: BaseException


@dataclass
class _Reset:
    """The socket died: forget every running candle."""


@dataclass
class _Backfill:
    start_after: int | None
    done: asyncio.Future[None]


@dataclass
class _Stream:
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


class _Connection:
    """One open socket: its sender (rate limited), heartbeat state and death notice."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse, max_frames_per_second: int) -> None:
        self.ws = ws
        self.limiter = SlidingWindowLimiter(max_frames_per_second)
        self.last_frame = time.monotonic()
        self.subscribed_at: float | None = None
        self.ping_sent_at: float | None = None
        self.sent: set[tuple[str, str]] = set()
        self.dead: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.tasks: list[asyncio.Task[None]] = []

    async def send(self, text: str) -> None:
        await self.limiter.acquire()
        await self.ws.send_str(text)

    def kill(self, reason: str) -> None:
        if not self.dead.done():
            self.dead.set_result(reason)

    @property
    def alive(self) -> bool:
        return not self.dead.done() and not self.ws.closed


def reconnect_wait(settings: Settings) -> wait_exponential_jitter:
    """Delay before connect attempt n+1: ``initial * 2**(n-1)`` plus up to ``initial`` of
    jitter, never above ``LA_WS_BACKOFF_MAX`` (0.5, 1, 2, ... s capped at 30 s by default)."""
    return wait_exponential_jitter(multiplier=settings.ws_backoff_initial,
                                   max=settings.ws_backoff_max,
                                   jitter=settings.ws_backoff_initial)


def _is_refused(error: aiohttp.ClientConnectorError) -> bool:
    os_error = error.os_error
    return isinstance(os_error, ConnectionRefusedError) or os_error.errno == errno.ECONNREFUSED


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
        self._session = session
        self._settings = settings
        # One exchange clock per session: the REST client's Date headers and the pushes' ts
        # feed the same estimate.
        self._clock = clock or (rest.clock if rest is not None else ExchangeClock())
        self._rest = rest if rest is not None else BitunixRestClient(session, settings, self._clock)
        self._metrics = metrics
        self._private = private
        self.url = settings.bitunix_private_ws_url if private else settings.bitunix_ws_url
        self._subs: dict[tuple[str, str], None] = {}  # (channel, symbol), insertion ordered
        self._streams: dict[tuple[str, str], _Stream] = {}
        self._tick_symbols: set[str] = set()
        self._last_price: dict[str, Decimal] = {}
        self._conn: _Connection | None = None
        self._out: asyncio.Queue[MarketEvent | _Fatal] = asyncio.Queue()
        self._kline_in: asyncio.Queue[KlinePush | _Reset | _Backfill] = asyncio.Queue()
        self._sub_lock = asyncio.Lock()
        self._flush_task: asyncio.Task[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._listening = False
        self._stats = ProviderStats()
        self._frame_error_logged = -FRAME_ERROR_LOG_EVERY  # monotonic time of the last warning

    @property
    def stats(self) -> ProviderStats:
        return self._stats

    @property
    def clock(self) -> ExchangeClock:
        return self._clock

    def force_reconnect(self, reason: str) -> bool:
        """Replace the socket (e.g. after the laptop slept: it may be dead without knowing).

        The supervisor then reconnects, resubscribes and backfills as after any drop.
        """
        conn = self._conn
        if conn is None or not conn.alive:
            return False
        self._stats.forced_reconnects += 1
        conn.kill(reason)
        return True

    # ------------------------------------------------------------------ connecting

    async def connect(self) -> None:
        """Open the socket, wait for ``connect`` (and log in on the private endpoint).

        Retries with exponential backoff and jitter. Raises FeedRefusedError after
        LA_WS_REFUSED_LIMIT refused connects / rejected handshakes in a row and
        AuthenticationError on a rejected login; both end the retries at once.
        """
        if self._conn is not None and self._conn.alive:
            return
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(FeedConnectError),
            wait=reconnect_wait(self._settings),
            reraise=True,
            # WARNING: with no network this is the only line saying why nothing happens.
            before_sleep=lambda state: logger.warning(
                "WebSocket connect failed (attempt {}, retrying in {:.1f}s): {}",
                state.attempt_number, state.next_action.sleep if state.next_action else 0.0,
                state.outcome.exception() if state.outcome else "?",
            ),
        )
        async for attempt in retrying:
            with attempt:
                self._conn = await self._connect_once()

    def _refused(self, reason: str) -> FeedConnectError:
        self._stats.consecutive_refusals += 1
        count = self._stats.consecutive_refusals
        if count >= self._settings.ws_refused_limit:
            self._stats.state = "closed"
            raise FeedRefusedError(f"{self.url}: {reason} ({count} times in a row)")
        return FeedConnectError(reason, refused=True)

    async def _connect_once(self) -> _Connection:
        s = self._settings
        self._stats.connect_attempts += 1
        self._stats.state = "connecting"
        try:
            async with asyncio.timeout(s.ws_connect_timeout):
                ws = await self._session.ws_connect(
                    self.url,
                    autoping=False,  # no protocol-level pings: JSON pings only (reference 2.3)
                    heartbeat=None,
                    max_msg_size=MAX_MSG_SIZE,
                    timeout=aiohttp.ClientWSTimeout(ws_receive=None,
                                                    ws_close=min(1.0, s.ws_pong_timeout)),
                )
        except aiohttp.WSServerHandshakeError as error:
            raise self._refused(describe_connect_error(self.url, error)) from None
        except aiohttp.ClientConnectorError as error:
            if _is_refused(error):
                raise self._refused(describe_connect_error(self.url, error)) from None
            raise FeedConnectError(describe_connect_error(self.url, error)) from None
        except (aiohttp.ClientError, OSError, TimeoutError) as error:
            raise FeedConnectError(describe_connect_error(self.url, error)) from None
        self._stats.consecutive_refusals = 0
        conn = _Connection(ws, s.ws_max_frames_per_second)
        try:
            async with asyncio.timeout(s.ws_connect_timeout):
                await self._await_connect_frame(conn)
                if self._private:
                    await self._login(conn)
        except (AuthenticationError, ConfigError):
            await ws.close()
            raise
        except (TimeoutError, aiohttp.ClientError, OSError, FeedConnectError) as error:
            await ws.close()
            if isinstance(error, FeedConnectError):
                raise
            raise FeedConnectError(
                f"no connect frame: {describe_connect_error(self.url, error)}") from None
        conn.tasks = [
            asyncio.create_task(self._reader(conn), name="bitunix-ws-reader"),
            asyncio.create_task(self._heartbeat(conn), name="bitunix-ws-heartbeat"),
        ]
        self._stats.state = "connected"
        logger.debug("connected to {}", self.url)
        return conn

    async def _receive_frame(self, conn: _Connection, during: str) -> Any:
        while True:
            message = await conn.ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise FeedConnectError(f"socket closed during {during} ({message.type.name})")
            self._frame_seen(conn)
            try:
                return parse_frame(message.data)
            except MalformedFrame as error:
                self._malformed(message.data, error)

    async def _await_connect_frame(self, conn: _Connection) -> None:
        while True:
            frame = await self._receive_frame(conn, "connect")
            if isinstance(frame, ConnectFrame):
                if not frame.result:
                    raise FeedConnectError("server sent connect result:false")
                return

    async def _login(self, conn: _Connection) -> None:
        s = self._settings
        if s.bitunix_api_key is None or s.bitunix_api_secret is None:
            raise ConfigError(
                "LA_BITUNIX_API_KEY and LA_BITUNIX_API_SECRET are required for the private socket"
            )
        # A fresh nonce and timestamp (seconds) on every login, reconnects included.
        await conn.send(build_login(s.bitunix_api_key.get_secret_value(),
                                    s.bitunix_api_secret.get_secret_value(),
                                    secrets.token_hex(16), int(time.time())))
        while True:
            frame = await self._receive_frame(conn, "login")
            if isinstance(frame, LoginReply):
                if not frame.result:
                    self._stats.state = "closed"
                    raise AuthenticationError(f"login rejected by {self.url}: {frame.msg}")
                logger.info("logged in on {}", self.url)
                return

    async def _drop_connection(self, conn: _Connection) -> None:
        conn.kill("closed by client")
        for task in conn.tasks:
            task.cancel()
        await asyncio.gather(*conn.tasks, return_exceptions=True)
        try:
            await conn.ws.close()
        except Exception as error:  # the socket is already broken; nothing to save
            logger.debug("closing dead socket: {!r}", error)

    # ------------------------------------------------------------------ subscriptions

    async def subscribe_kline(self, symbol: str, interval: str = "1min") -> None:
        symbol = symbol.upper()
        channel = kline_channel(interval)
        key = (symbol, interval)
        if key not in self._streams:
            self._streams[key] = _Stream(symbol=symbol, interval=interval,
                                         closer=CandleCloser(symbol, interval),
                                         step=WS_INTERVAL_MS[interval])
        self._add_subscriptions([(channel, symbol)])

    async def subscribe_ticker(self, symbol: str) -> None:
        """Best bid/offer from ``depth_book1``; last price from ``ticker``."""
        symbol = symbol.upper()
        self._tick_symbols.add(symbol)
        self._add_subscriptions([(DEPTH_BBO_CHANNEL, symbol), (TICKER_CHANNEL, symbol)])

    def _add_subscriptions(self, pairs: list[tuple[str, str]]) -> None:
        for pair in pairs:
            if pair not in self._subs:
                if len(self._subs) >= MAX_SUBSCRIPTIONS:
                    raise ValueError(f"more than {MAX_SUBSCRIPTIONS} subscriptions per socket")
                self._subs[pair] = None
        # Subscriptions made in one go (same loop iteration) leave in one frame.
        if self._conn is not None and self._conn.alive and self._flush_task is None:
            self._flush_task = asyncio.create_task(self._flush_soon())

    async def _flush_soon(self) -> None:
        try:
            # Loop: a subscription added while a frame waited for the rate limiter is not in
            # that frame and no second flush task was started for it, so send it here.
            while (conn := self._conn) is not None and conn.alive and any(
                pair not in conn.sent for pair in self._subs
            ):
                await self._send_subscriptions()
        except Exception as error:  # the socket died; the supervisor resubscribes
            logger.debug("subscribe failed: {!r}", error)
        finally:
            self._flush_task = None

    async def _send_subscriptions(self) -> None:
        async with self._sub_lock:
            conn = self._conn
            if conn is None:
                return
            pending = [pair for pair in self._subs if pair not in conn.sent]
            for batch in chunk(pending, MAX_SUBSCRIPTIONS):
                await conn.send(build_subscribe(batch))
                conn.sent.update(batch)
                if conn.subscribed_at is None:
                    conn.subscribed_at = time.monotonic()
            if pending:
                logger.debug("subscribed {} channel(s) on {}", len(pending), self.url)

    # ------------------------------------------------------------------ per-socket tasks

    def _frame_seen(self, conn: _Connection) -> None:
        conn.last_frame = time.monotonic()
        self._stats.last_frame_wall = time.time()

    def _malformed(self, data: str | bytes, error: Exception) -> None:
        self._stats.malformed += 1
        if self._metrics is not None:
            self._metrics.malformed_frames.inc()
        logger.debug("skipping malformed frame ({}): {}", error, sample(data))

    async def _reader(self, conn: _Connection) -> None:
        reason = "socket closed"
        try:
            while True:
                message = await conn.ws.receive()
                kind = message.type
                if kind == aiohttp.WSMsgType.TEXT:
                    self._frame_seen(conn)
                    self._on_text(conn, message.data)
                elif kind == aiohttp.WSMsgType.BINARY:
                    self._frame_seen(conn)
                    self._malformed(message.data, MalformedFrame("binary frame"))
                elif kind == aiohttp.WSMsgType.PING:
                    # The server is not known to send these; answering is harmless.
                    self._frame_seen(conn)
                    await conn.limiter.acquire()
                    await conn.ws.pong(message.data)
                elif kind == aiohttp.WSMsgType.PONG:
                    self._frame_seen(conn)
                    conn.ping_sent_at = None
                elif kind == aiohttp.WSMsgType.ERROR:
                    # aiohttp puts the error in the message; ws.exception() may still be None.
                    error = message.data if isinstance(message.data, BaseException) \
                        else conn.ws.exception()
                    if isinstance(error, aiohttp.WebSocketError) \
                            and error.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
                        # aiohttp closes the socket itself; the frame still counts as malformed.
                        self._malformed(b"", MalformedFrame(f"frame above {MAX_MSG_SIZE} bytes"))
                    reason = f"socket error: {error!r}"
                    break
                else:  # CLOSE, CLOSING, CLOSED
                    reason = f"socket closed (code {conn.ws.close_code})"
                    break
        except asyncio.CancelledError:
            raise
        except Exception as error:
            reason = f"reader failed: {error!r}"
        conn.kill(reason)

    def _on_text(self, conn: _Connection, text: str) -> None:
        try:
            self._handle_text(conn, text)
        except Exception as error:  # one bad frame must never end the reader (or the daemon)
            self._frame_error(text, error)

    def _frame_error(self, text: str, error: Exception) -> None:
        self._stats.frame_errors += 1
        if self._metrics is not None:
            self._metrics.frame_errors.inc()
        now = time.monotonic()
        if now - self._frame_error_logged >= FRAME_ERROR_LOG_EVERY:
            self._frame_error_logged = now
            logger.opt(exception=error).warning(
                "handling {} failed; frame skipped ({} so far): {!r}",
                frame_label(text), self._stats.frame_errors, error)

    def _handle_text(self, conn: _Connection, text: str) -> None:
        try:
            frame = parse_frame(text)
        except MalformedFrame as error:
            self._malformed(text, error)
            return
        if isinstance(frame, DepthPush | KlinePush | TickerPush) and not self._clock.observe(
            frame.ts
        ):
            self._stats.implausible_ts += 1
            self._malformed(text, MalformedFrame("ts outside the window around exchange time"))
            return
        if isinstance(frame, DepthPush):
            if frame.symbol in self._tick_symbols:
                self._on_depth(frame)
            else:
                self._malformed(text, MalformedFrame("push for an unsubscribed symbol"))
        elif isinstance(frame, KlinePush):
            if (frame.symbol, frame.interval) in self._streams:
                self._buffer_kline(frame)
            else:
                self._malformed(text, MalformedFrame("push for an unsubscribed kline"))
        elif isinstance(frame, TickerPush):
            if frame.symbol in self._tick_symbols:
                self._last_price[frame.symbol] = frame.last
            else:  # else any symbol a server names would grow _last_price without bound
                self._malformed(text, MalformedFrame("push for an unsubscribed symbol"))
        elif isinstance(frame, HeartbeatReply):
            conn.ping_sent_at = None
        elif isinstance(frame, OpReply) and frame.result is False:
            logger.warning("{} refused by the server: {}", frame.op, frame.msg)
        # connect/login repeats and unsubscribe echoes need nothing.

    def _on_depth(self, push: DepthPush) -> None:
        tick = Tick(symbol=push.symbol, bid=push.bid, ask=push.ask, bid_size=push.bid_size,
                    ask_size=push.ask_size, last=self._last_price.get(push.symbol), ts=push.ts)
        if self._out.qsize() >= MAX_BUFFERED:
            self._stats.dropped += 1
            return
        self._out.put_nowait(tick)
        self._stats.ticks += 1
        self._stats.last_tick_wall = time.time()
        if self._metrics is not None:
            self._metrics.ticks.inc()

    def _buffer_kline(self, push: KlinePush) -> None:
        # A dropped push is harmless: the candle is confirmed (or backfilled) from REST.
        if self._kline_in.qsize() >= MAX_BUFFERED:
            self._stats.dropped += 1
            return
        self._kline_in.put_nowait(push)

    async def _heartbeat(self, conn: _Connection) -> None:
        s = self._settings
        check = max(0.01, min(s.ws_ping_interval, s.ws_pong_timeout, s.ws_silence_timeout) / 5)
        next_ping = time.monotonic() + s.ws_ping_interval
        try:
            while conn.alive:
                await asyncio.sleep(check)
                now = time.monotonic()
                if conn.ping_sent_at is not None and now - conn.ping_sent_at > s.ws_pong_timeout:
                    conn.kill(f"no ping reply within {s.ws_pong_timeout:g}s")
                    return
                if conn.subscribed_at is not None:
                    quiet = now - max(conn.last_frame, conn.subscribed_at)
                    if quiet > s.ws_silence_timeout:
                        conn.kill(f"no frame for {quiet:.1f}s while subscribed (stalled)")
                        return
                if now >= next_ping:
                    await conn.send(build_ping(int(time.time())))
                    if conn.ping_sent_at is None:
                        conn.ping_sent_at = time.monotonic()
                    next_ping = now + s.ws_ping_interval
        except asyncio.CancelledError:
            raise
        except Exception as error:
            conn.kill(f"ping failed: {error!r}")

    # ------------------------------------------------------------------ candle worker

    def _emit(self, item: MarketEvent) -> None:
        self._out.put_nowait(item)

    def _emit_candle(self, stream: _Stream, candle: Candle) -> None:
        if stream.last_emitted is not None and candle.open_time <= stream.last_emitted:
            return  # never twice, never out of order
        stream.last_emitted = candle.open_time
        self._emit(candle if candle.closed else replace(candle, closed=True))
        self._stats.candles += 1
        if self._metrics is not None:
            self._metrics.candles.inc()

    async def _emit_closed_through(
        self, stream: _Stream, end: int, fallbacks: tuple[Candle, ...] = (),
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
        try:
            candles = await self._rest.klines(stream.symbol, stream.interval,
                                              start_ms=start, end_ms=end)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("REST klines {} {} failed: {}", stream.symbol, stream.interval,
                           describe_connect_error(self._settings.bitunix_rest_url, error))
            candles = []
        by_time = {c.open_time: c for c in candles if start <= c.open_time < end}
        self._count_confirmed(len(by_time))
        for fallback in fallbacks:
            if start <= fallback.open_time < end and fallback.open_time not in by_time:
                logger.debug("REST lacks candle {}; using the last WS values",
                             fallback.open_time)
                by_time[fallback.open_time] = fallback
                self._stats.ws_fallbacks += 1
                if self._metrics is not None:
                    self._metrics.candles_confirmed.labels(source="ws").inc()
        if by_time:
            newest = max(by_time)
            missing = (newest - start) // stream.step + 1 - len(by_time)
            if missing > 0:
                self._stats.gaps += missing
                if self._metrics is not None:
                    self._metrics.candle_gaps.inc(missing)
                logger.warning("{} {}: {} candle(s) before {} could not be fetched (gap)",
                               stream.symbol, stream.interval, missing, newest)
        for open_time in sorted(by_time):
            self._emit_candle(stream, by_time[open_time])

    def _count_confirmed(self, n: int) -> None:
        self._stats.rest_confirmed += n
        if self._metrics is not None and n:
            self._metrics.candles_confirmed.labels(source="rest").inc(n)

    def _set_deadline(self, stream: _Stream, open_time: int) -> None:
        # Kept in exchange time and converted on every wait: the exchange's speed is an
        # estimate that may still be settling (the first seconds against a fast simulator).
        stream.close_after_ms = open_time + stream.step
        stream.deadline = None

    def _close_wait(self, stream: _Stream) -> float | None:
        """Local seconds until the running bucket's boundary plus the grace; None if unset."""
        if stream.close_after_ms is None:
            return None
        clock = self._clock
        until_boundary = (stream.close_after_ms - clock.now_ms()) / 1000.0 / clock.speed
        return until_boundary + self._settings.candle_close_grace

    def _retry_wait(self) -> float:
        return max(self._settings.candle_close_grace, TIMER_RETRY_MIN)

    async def _on_kline(self, push: KlinePush) -> None:
        stream = self._streams.get((push.symbol, push.interval))
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
            stream.pending, stream.pending_deadline, stream.pending_tries = None, None, 0
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
            if self._out.qsize() < MAX_BUFFERED:
                self._emit(current)
            else:
                self._stats.dropped += 1

    async def _retry_pending(self, stream: _Stream) -> None:
        pending = stream.pending
        assert pending is not None
        stream.pending_tries += 1
        last_try = stream.pending_tries >= ROLLOVER_RETRIES
        await self._emit_closed_through(stream, pending.open_time + stream.step,
                                        (pending,) if last_try else (), first=pending.open_time)
        if last_try or (stream.last_emitted is not None
                        and stream.last_emitted >= pending.open_time):
            stream.pending, stream.pending_deadline, stream.pending_tries = None, None, 0
        else:
            stream.pending_deadline = time.monotonic() + self._retry_wait()

    async def _close_due(self) -> None:
        """Close running buckets whose boundary + grace passed without a later push, and ask
        REST again for finished candles it did not have yet."""
        now = time.monotonic()
        for stream in self._streams.values():
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

    async def _backfill(self, start_after: int | None) -> None:
        if self._streams:
            with contextlib.suppress(Exception):  # the klines call below reports failures
                await self._rest.refresh_time(next(iter(self._streams.values())).symbol)
        now_ms = self._clock.now_ms()
        for stream in self._streams.values():
            if start_after is not None and (stream.last_emitted is None
                                            or stream.last_emitted < start_after):
                stream.last_emitted = start_after
            # Nothing emitted yet but a bucket was seen before the drop: start there, so a
            # candle that was running when the socket died is not lost.
            await self._emit_closed_through(stream, bucket_start(now_ms, stream.interval),
                                            first=stream.first_seen)

    def _next_deadline_in(self) -> float | None:
        now = time.monotonic()
        waits = [d - now for s in self._streams.values()
                 for d in (s.deadline, s.pending_deadline) if d is not None]
        waits += [w for s in self._streams.values() if (w := self._close_wait(s)) is not None]
        if not waits:
            return None
        # At most a second: a boundary's local time moves as the speed estimate settles.
        return min(max(0.0, min(waits)), 1.0)

    async def _candle_worker(self) -> None:
        while True:
            wait = self._next_deadline_in()
            if wait == 0.0:
                await self._close_due()
                continue
            try:
                async with asyncio.timeout(wait):
                    item = await self._kline_in.get()
            except TimeoutError:
                continue
            try:
                if isinstance(item, KlinePush):
                    await self._on_kline(item)
                elif isinstance(item, _Reset):
                    for stream in self._streams.values():
                        stream.closer.reset()
                        stream.deadline = stream.close_after_ms = None
                        # The reconnect's backfill fetches it (or reports the gap).
                        stream.pending, stream.pending_deadline = None, None
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

    # ------------------------------------------------------------------ supervisor

    async def _run_backfill(self, start_after: int | None) -> None:
        if not self._streams:
            return
        done: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._kline_in.put_nowait(_Backfill(start_after, done))
        await done

    async def _supervise(self, start_after: int | None) -> None:
        try:
            await self.connect()
            await self._send_subscriptions()
            await self._run_backfill(start_after)
            self._stats.state = "subscribed"
            logger.info("market data connected: {} ({} channels)", self.url, len(self._subs))
            self._emit(ConnectionEvent(ConnectionState.CONNECTED, at=time.time()))
            while True:
                conn = self._conn
                assert conn is not None
                reason = await conn.dead
                lost_at = time.monotonic()
                self._stats.state = "lost"
                logger.warning("Connection Lost: {}", reason)
                self._emit(ConnectionEvent(ConnectionState.LOST, reason=reason, at=time.time()))
                self._kline_in.put_nowait(_Reset())
                await self._drop_connection(conn)
                await self.connect()
                self._stats.reconnects += 1
                if self._metrics is not None:
                    self._metrics.reconnects.inc()
                await self._send_subscriptions()
                await self._run_backfill(None)
                outage = time.monotonic() - lost_at
                self._stats.state = "subscribed"
                logger.info("Connection recovered after {:.2f}s outage", outage)
                self._emit(ConnectionEvent(ConnectionState.RECOVERED, outage_s=outage,
                                           at=time.time()))
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._out.put_nowait(_Fatal(error))

    async def _watch_worker(self, worker: asyncio.Task[None]) -> None:
        try:
            await worker
        except asyncio.CancelledError:
            raise
        except Exception as error:  # pragma: no cover - the worker catches per item
            self._out.put_nowait(_Fatal(error))

    # ------------------------------------------------------------------ public loop

    async def listen(self, start_after_open_time: int | None = None) -> AsyncIterator[MarketEvent]:
        """Yield Ticks, closed Candles (exactly once, in order) and ConnectionEvents.

        With ``start_after_open_time`` every closed candle after it is first fetched over REST,
        so warm-up history and live candles join without a gap. Raises FeedRefusedError or
        AuthenticationError when connecting must stop.
        """
        if self._listening:
            raise RuntimeError("listen() is already running on this provider")
        self._listening = True
        worker = asyncio.create_task(self._candle_worker(), name="bitunix-candles")
        self._tasks = [
            worker,
            asyncio.create_task(self._watch_worker(worker), name="bitunix-candles-watch"),
            asyncio.create_task(self._supervise(start_after_open_time), name="bitunix-feed"),
        ]
        try:
            while True:
                item = await self._out.get()
                if isinstance(item, _Fatal):
                    raise item.error
                yield item
        finally:
            await self.close()

    async def close(self) -> None:
        tasks = [*self._tasks, *([self._flush_task] if self._flush_task else [])]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        self._tasks = []
        if self._conn is not None:
            await self._drop_connection(self._conn)
            self._conn = None
        self._stats.state = "closed"


__all__ = ["BitunixWSProvider", "FeedConnectError", "ProviderStats", "reconnect_wait"]
