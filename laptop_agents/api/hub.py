"""FeedHub: fan-out of live messages to WebSocket clients without ever stalling the engine.

The engine calls :meth:`FeedHub.publish` on the event loop for every tick, candle, trade and
status change. ``publish`` encodes the message once, appends it to each subscribed client's
bounded buffer and returns: it never awaits. Each client has exactly one writer task that
drains its buffer into the socket, so a slow socket only ever delays its own writer.

Backpressure policy (see docs/api.md):

* ``tick`` and ``status`` messages are *coalescible*: while one is still waiting in a client's
  buffer, a newer one replaces it in place (latest best bid/offer and latest status win).
* ``candle``, ``trade`` and ``order`` messages are never coalesced; ``api_ws_buffer`` of them
  fit in a client's buffer (plus one pending tick and one pending status). When it is full
  they are dropped for that client and counted; once the writer catches up the client
  receives an ``{"type": "overflow", "data": {"dropped": n}}`` notice so it knows to refetch
  over HTTP.
* A client that stays behind - buffer full, or one socket write pending - for longer than
  ``stall_timeout`` seconds is disconnected (its transport is aborted, which never blocks).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable, Iterable, Mapping
from decimal import Decimal
from typing import get_args

import orjson
from loguru import logger
from pydantic import BaseModel

from laptop_agents.session.views import FeedKind, Overflow, view_json

KINDS: frozenset[str] = frozenset(get_args(FeedKind))
COALESCIBLE: frozenset[str] = frozenset({"tick", "status"})

# A view (session/views.py), or a plain JSON object: the hub is only the transport.
Payload = BaseModel | Mapping[str, object]


def _default(value: object) -> object:
    if isinstance(value, BaseModel):
        # serialized by pydantic-core and spliced in as it is, never turned into a dict
        return orjson.Fragment(view_json(value))
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def encode(obj: object) -> bytes:
    """orjson, with views (session/views.py) and Decimals rendered the way the API promises:
    Decimals as strings."""
    return orjson.dumps(obj, default=_default)


def encode_message(kind: str, payload: Payload) -> bytes:
    return encode({"type": kind, "data": payload})


Sender = Callable[[bytes], Awaitable[None]]


class _Entry:
    """One buffered message; mutable so a coalescible one can be replaced in place."""

    __slots__ = ("data", "key", "kind")

    def __init__(self, kind: str, data: bytes, key: str) -> None:
        self.kind = kind
        self.key = key  # what it coalesces with: its kind, and its symbol when it has one
        self.data = data


class FeedClient:
    """One WebSocket client: its subscription, bounded buffer and writer task."""

    def __init__(
        self,
        hub: FeedHub,
        send: Sender,
        abort: Callable[[], None],
        types: Iterable[str],
        name: str,
    ) -> None:
        self.hub = hub
        self.name = name
        self.types: set[str] = set(types)
        self.symbols: frozenset[str] | None = None  # None: every symbol
        self._send = send
        self._abort = abort
        self._buffer: deque[_Entry] = deque()
        # Coalescible kind (and symbol) -> its entry still buffered.
        self._pending: dict[str, _Entry] = {}
        self._wakeup = asyncio.Event()
        self.dropped = 0  # messages lost to a full buffer, not yet reported to the client
        self.dropped_total = 0
        self.sent = 0
        self.full_since: float | None = None
        self.sending_since: float | None = None
        self.closed = asyncio.Event()
        self.close_reason: str | None = None
        self._task: asyncio.Task[None] | None = None

    # -- engine side (never awaits) ---------------------------------------------------
    def offer(self, kind: str, data: bytes, now: float, control: bool = False,
              symbol: str | None = None) -> None:
        """Buffer one encoded message; ``control`` ones (replies) bypass the subscription.
        A coalescible message replaces the buffered one of its kind and symbol."""
        if self.closed.is_set() or (not control and kind not in self.types):
            return
        key = kind if symbol is None else f"{kind}:{symbol}"
        if self._is_stuck(now):
            self.drop(f"client stayed behind for more than {self.hub.stall_timeout:g}s")
            return
        pending = self._pending.get(key)
        if pending is not None:
            pending.data = data  # latest wins, keeps its place in the queue
            return
        # Coalescible messages take at most one slot per kind and do not count here, so a
        # fresh price always gets through and the bound is buffer_size + len(COALESCIBLE).
        if kind not in COALESCIBLE and self._backlog() >= self.hub.buffer_size:
            self.dropped += 1
            self.dropped_total += 1
            if self.full_since is None:
                self.full_since = now
            return
        entry = _Entry(kind, data, key)
        self._buffer.append(entry)
        if kind in COALESCIBLE:
            self._pending[key] = entry
        self._wakeup.set()

    def _backlog(self) -> int:
        """Buffered messages that count against the bound (not coalescible)."""
        return len(self._buffer) - len(self._pending)

    def _is_stuck(self, now: float) -> bool:
        limit = self.hub.stall_timeout
        if self.full_since is not None and now - self.full_since > limit:
            return True
        return self.sending_since is not None and now - self.sending_since > limit

    def check(self, now: float) -> None:
        if not self.closed.is_set() and self._is_stuck(now):
            self.drop(f"client stayed behind for more than {self.hub.stall_timeout:g}s")

    def drop(self, reason: str, level: str = "WARNING") -> None:
        """Disconnect now, without awaiting anything (safe to call from publish)."""
        if self.closed.is_set():
            return
        self.close_reason = reason
        self.closed.set()
        self.hub._discard(self)
        logger.log(level, "WebSocket client {} dropped: {}", self.name, reason)
        if self._task is not None and self._task is not asyncio.current_task():
            self._task.cancel()
        with contextlib.suppress(Exception):
            self._abort()

    # -- writer side -------------------------------------------------------------------
    def start(self) -> asyncio.Task[None]:
        self._task = asyncio.get_running_loop().create_task(
            self._writer(), name=f"ws-writer-{self.name}"
        )
        return self._task

    async def _writer(self) -> None:
        try:
            while not self.closed.is_set():
                if not self._buffer and not self.dropped:
                    self._wakeup.clear()
                    await self._wakeup.wait()
                    continue
                if self._buffer:
                    entry = self._buffer.popleft()
                    if self._pending.get(entry.key) is entry:
                        del self._pending[entry.key]
                    data = entry.data
                else:
                    data = encode_message("overflow", Overflow(dropped=self.dropped))
                    self.dropped = 0
                if self._backlog() < self.hub.buffer_size:
                    self.full_since = None
                self.sending_since = time.monotonic()
                await self._send(data)
                self.sending_since = None
                self.sent += 1
        except asyncio.CancelledError:
            raise
        except Exception as error:  # the socket went away: the handler notices and cleans up
            logger.debug("WebSocket client {} writer stopped: {!r}", self.name, error)
            self.drop(f"send failed: {error!r}")

    async def stop(self) -> None:
        self.closed.set()
        self.hub._discard(self)
        if self._task is not None and not self._task.done():
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._task

    @property
    def buffered(self) -> int:
        return len(self._buffer)


class FeedHub:
    """Implements ``session.controller.FeedPublisher`` for the WebSocket clients."""

    def __init__(self, buffer_size: int = 256, stall_timeout: float = 5.0) -> None:
        if buffer_size < 1:
            raise ValueError("buffer_size must be >= 1")
        self.buffer_size = buffer_size
        self.stall_timeout = stall_timeout
        self._clients: dict[int, FeedClient] = {}
        self.published = 0
        self.dropped_clients = 0
        self._seq = 0

    def publish(self, kind: str, payload: Payload) -> None:
        """Queue ``{"type": kind, "data": payload}`` for every subscribed client. Never awaits."""
        self.published += 1
        if not self._clients:
            return
        now = time.monotonic()
        clients = list(self._clients.values())
        # Ticks, candles, trades and orders belong to a symbol; a client may want some only.
        symbol = (payload.get("symbol") if isinstance(payload, dict)
                  else getattr(payload, "symbol", None))
        if not any(kind in c.types for c in clients):
            for client in clients:
                client.check(now)
            return
        try:
            data = encode_message(kind, payload)
        except TypeError as error:
            logger.error("unserialisable {} message not published: {}", kind, error)
            return
        for client in clients:
            if kind in client.types and (symbol is None or client.symbols is None
                                         or symbol in client.symbols):
                client.offer(kind, data, now, symbol=symbol)
            else:
                client.check(now)

    def add_client(
        self,
        send: Sender,
        abort: Callable[[], None],
        types: Iterable[str] = KINDS,
        name: str | None = None,
    ) -> FeedClient:
        self._seq += 1
        label = f"{name}#{self._seq}" if name else f"#{self._seq}"
        client = FeedClient(self, send, abort, types, label)
        self._clients[id(client)] = client
        return client

    def _discard(self, client: FeedClient) -> None:
        if self._clients.pop(id(client), None) is not None and client.close_reason:
            self.dropped_clients += 1

    @property
    def clients(self) -> list[FeedClient]:
        return list(self._clients.values())

    def close_all(self, reason: str = "server shutting down") -> None:
        for client in list(self._clients.values()):
            client.drop(reason, level="DEBUG")
