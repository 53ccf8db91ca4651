"""The socket: connect with backoff, handshake, login, and the two tasks every socket runs.

:class:`Connector` opens one socket at a time (``connect()``, retried with
:func:`reconnect_wait`), waits for the server's ``connect`` frame, logs in on the private
endpoint, then starts per socket:

* a reader task: every text frame goes to the ``on_text`` callback (the frame handler, which
  never raises), protocol pings are answered, and a close or error marks the socket dead;
* a heartbeat task: the JSON ping every ``LA_WS_PING_INTERVAL``, and death on a missing reply
  or on silence while subscribed.

A :class:`Connection` is one open socket: its rate-limited sender, heartbeat state and the
``dead`` future the supervisor waits on. Reconnecting is the supervisor's job.
"""

from __future__ import annotations

import asyncio
import errno
import secrets
import time
from collections.abc import Callable

import aiohttp
from loguru import logger
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential_jitter

from laptop_agents.config import Settings
from laptop_agents.data.providers.bitunix_protocol import (
    ConnectFrame,
    Frame,
    LoginReply,
    MalformedFrame,
    build_login,
    build_ping,
    parse_frame,
)
from laptop_agents.data.providers.bitunix_ws_outbox import FeedCounters
from laptop_agents.data.providers.neterrors import describe_connect_error
from laptop_agents.data.providers.ratelimit import SlidingWindowLimiter
from laptop_agents.errors import AuthenticationError, ConfigError, FeedRefusedError
from laptop_agents.models import SocketState

MAX_MSG_SIZE = 8 * 1024 * 1024
# What the reader handles; any other message type ends the socket.
_FRAME_TYPES = (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY, aiohttp.WSMsgType.PING,
                aiohttp.WSMsgType.PONG)


YIELD_EVERY = 64  # frames handled between two hand-overs of the loop during a burst


class FeedConnectError(ConnectionError):
    """One connection attempt failed (retried with backoff by :meth:`Connector.connect`)."""

    def __init__(self, reason: str, refused: bool = False) -> None:
        super().__init__(reason)
        self.reason = reason
        self.refused = refused


class Connection:
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


class Connector:
    def __init__(
        self,
        session: aiohttp.ClientSession,
        settings: Settings,
        url: str,
        counters: FeedCounters,
        on_text: Callable[[Connection, str], None],
        *,
        private: bool,
    ) -> None:
        self._session = session
        self._settings = settings
        self.url = url
        self._counters = counters
        self._stats = counters.stats
        self._on_text = on_text
        self._private = private
        self.conn: Connection | None = None  # the current socket, alive or not

    # ------------------------------------------------------------------ connecting

    async def connect(self) -> None:
        """Open the socket, wait for ``connect`` (and log in on the private endpoint).

        Retries with exponential backoff and jitter. Raises FeedRefusedError after
        LA_WS_REFUSED_LIMIT refused connects / rejected handshakes in a row and
        AuthenticationError on a rejected login; both end the retries at once.
        """
        if self.conn is not None and self.conn.alive:
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
                self.conn = await self._connect_once()

    def _refused(self, reason: str) -> FeedConnectError:
        self._stats.consecutive_refusals += 1
        count = self._stats.consecutive_refusals
        if count >= self._settings.ws_refused_limit:
            self._stats.state = SocketState.CLOSED
            raise FeedRefusedError(f"{self.url}: {reason} ({count} times in a row)")
        return FeedConnectError(reason, refused=True)

    async def _connect_once(self) -> Connection:
        self._stats.connect_attempts += 1
        self._stats.state = SocketState.CONNECTING
        ws = await self._open_socket()
        self._stats.consecutive_refusals = 0
        conn = Connection(ws, self._settings.ws_max_frames_per_second)
        await self._handshake(conn)
        conn.tasks = [
            asyncio.create_task(self._reader(conn), name="bitunix-ws-reader"),
            asyncio.create_task(self._heartbeat(conn), name="bitunix-ws-heartbeat"),
        ]
        self._stats.state = SocketState.CONNECTED
        logger.debug("connected to {}", self.url)
        return conn

    async def _open_socket(self) -> aiohttp.ClientWebSocketResponse:
        s = self._settings
        try:
            async with asyncio.timeout(s.ws_connect_timeout):
                return await self._session.ws_connect(
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

    async def _handshake(self, conn: Connection) -> None:
        """The server's ``connect`` frame (and the login reply), within the connect timeout;
        the socket is closed on any failure."""
        try:
            async with asyncio.timeout(self._settings.ws_connect_timeout):
                await self._await_connect_frame(conn)
                if self._private:
                    await self._login(conn)
        except (AuthenticationError, ConfigError):
            await conn.ws.close()
            raise
        except (TimeoutError, aiohttp.ClientError, OSError, FeedConnectError) as error:
            await conn.ws.close()
            if isinstance(error, FeedConnectError):
                raise
            raise FeedConnectError(
                f"no connect frame: {describe_connect_error(self.url, error)}") from None

    async def _receive_frame(self, conn: Connection, during: str) -> Frame:
        while True:
            message = await conn.ws.receive()
            if message.type != aiohttp.WSMsgType.TEXT:
                raise FeedConnectError(f"socket closed during {during} ({message.type.name})")
            self._frame_seen(conn)
            try:
                return parse_frame(message.data)
            except MalformedFrame as error:
                self._counters.malformed(message.data, error)

    async def _await_connect_frame(self, conn: Connection) -> None:
        while True:
            frame = await self._receive_frame(conn, "connect")
            if isinstance(frame, ConnectFrame):
                if not frame.result:
                    raise FeedConnectError("server sent connect result:false")
                return

    async def _login(self, conn: Connection) -> None:
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
                    self._stats.state = SocketState.CLOSED
                    raise AuthenticationError(f"login rejected by {self.url}: {frame.msg}")
                logger.info("logged in on {}", self.url)
                return

    async def drop(self, conn: Connection) -> None:
        """Stop the socket's tasks and close it (it may be broken already)."""
        conn.kill("closed by client")
        for task in conn.tasks:
            task.cancel()
        await asyncio.gather(*conn.tasks, return_exceptions=True)
        try:
            await conn.ws.close()
        except Exception as error:  # the socket is already broken; nothing to save
            logger.debug("closing dead socket: {!r}", error)

    # ------------------------------------------------------------------ per-socket tasks

    def _frame_seen(self, conn: Connection) -> None:
        conn.last_frame = time.monotonic()
        self._stats.last_frame_wall = time.time()

    async def _reader(self, conn: Connection) -> None:
        reason = "socket closed"
        handled = 0
        stats = self._stats
        try:
            while True:
                handled += 1
                if handled % YIELD_EVERY == 0:
                    # A burst of buffered frames never needs the loop back: receive() returns
                    # at once. Hand it over now and then so the API, the timers and the
                    # consumer run between frames (the loop is never held for long).
                    await asyncio.sleep(0)
                message = await conn.ws.receive()
                kind = message.type
                if kind not in _FRAME_TYPES:  # ERROR, CLOSE, CLOSING, CLOSED
                    reason = self._end_reason(conn, message)
                    break
                # _frame_seen, inline (every frame)
                conn.last_frame = time.monotonic()
                stats.last_frame_wall = time.time()
                if kind == aiohttp.WSMsgType.TEXT:
                    self._on_text(conn, message.data)
                elif kind == aiohttp.WSMsgType.BINARY:
                    self._counters.malformed(message.data, MalformedFrame("binary frame"))
                elif kind == aiohttp.WSMsgType.PING:
                    # The server is not known to send these; answering is harmless.
                    await conn.limiter.acquire()
                    await conn.ws.pong(message.data)
                elif kind == aiohttp.WSMsgType.PONG:
                    conn.ping_sent_at = None
        except asyncio.CancelledError:
            raise
        except Exception as error:
            reason = f"reader failed: {error!r}"
        conn.kill(reason)

    def _end_reason(self, conn: Connection, message: aiohttp.WSMessage) -> str:
        """Why the reader stops: a socket error, or a close."""
        if message.type != aiohttp.WSMsgType.ERROR:
            return f"socket closed (code {conn.ws.close_code})"
        # aiohttp puts the error in the message; ws.exception() may still be None.
        error = message.data if isinstance(message.data, BaseException) \
            else conn.ws.exception()
        if isinstance(error, aiohttp.WebSocketError) \
                and error.code == aiohttp.WSCloseCode.MESSAGE_TOO_BIG:
            # aiohttp closes the socket itself; the frame still counts as malformed.
            self._counters.malformed(b"", MalformedFrame(f"frame above {MAX_MSG_SIZE} bytes"))
        return f"socket error: {error!r}"

    async def _heartbeat(self, conn: Connection) -> None:
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
