"""ConnectionGuard: the API's protocol factory, capping connections and half-sent requests.

aiohttp's server has no limit on concurrent connections, and only its newest releases (the
installed 3.14.x) time out a connection that never completes its first request; older ones in
the pinned range (>= 3.10) start the keep-alive timer only after a response. A local process
opening a thousand sockets that each send half a request line would hold a thousand file
descriptors for good, until accept() fails for everyone, the feed's reconnects included.
The guard sits between the listening socket and aiohttp's ``web.Server`` (which stays in
charge of HTTP) and enforces:

* a head deadline: a connection that has not delivered a complete request head (request line
  and headers) within ``head_timeout`` seconds of connecting is aborted. Later requests on a
  kept-alive connection are covered by aiohttp's ``keepalive_timeout`` (same value; see
  api/server.py), which closes a connection idle or half-sent that long after a response;
* a connection cap: at ``max_connections`` a new connection first evicts the oldest one still
  without a complete request head (the cheap kind an attacker opens; a real client sends its
  request at once); if every connection is busy with a real request or a WebSocket, the new
  one is answered 503 and closed.

Aborting rather than closing gives the descriptor back at once. Timeouts are logged at DEBUG
(browsers open speculative connections they never use); evictions and refusals at WARNING, at
most once per second.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import orjson
from aiohttp import web
from aiohttp.abc import AbstractStreamWriter
from aiohttp.http_parser import RawRequestMessage
from aiohttp.streams import StreamReader
from loguru import logger

from laptop_agents.resources import Throttle


def _busy_response(max_connections: int) -> bytes:
    body = orjson.dumps({"error": f"too many connections: the API serves at most "
                                  f"{max_connections} at once (LA_API_MAX_CONNECTIONS)"})
    head = (f"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nRetry-After: 1\r\nConnection: close\r\n\r\n")
    return head.encode("ascii") + body


@dataclass
class GuardStats:
    timed_out: int = 0  # aborted: no complete request head within the deadline
    evicted: int = 0  # aborted at the cap to make room for a new connection
    refused: int = 0  # new connections answered 503 at the cap


class _GuardedConnection(asyncio.Protocol):
    """Hands the transport's events to aiohttp's RequestHandler once the guard admits it."""

    def __init__(self, guard: ConnectionGuard, handler: web.RequestHandler) -> None:
        self.guard = guard
        self.handler = handler
        self.transport: asyncio.Transport | None = None
        self.deadline: asyncio.TimerHandle | None = None
        self.admitted = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        if self.guard.admit(self):
            self.admitted = True
            self.handler.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self.admitted:
            self.handler.data_received(data)

    def eof_received(self) -> bool | None:
        if self.admitted:
            self.handler.eof_received()
        return None  # aiohttp's answer too: the transport closes its side on EOF

    def pause_writing(self) -> None:
        if self.admitted:
            self.handler.pause_writing()

    def resume_writing(self) -> None:
        if self.admitted:
            self.handler.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.forget(self)
        if self.admitted:
            self.handler.connection_lost(exc)

    def abort(self) -> None:
        if self.transport is not None:
            self.transport.abort()  # connection_lost follows on the loop's next turn


class ConnectionGuard:
    """Protocol factory for ``loop.create_server`` in front of an aiohttp ``web.Server``."""

    def __init__(self, server: web.Server, *, max_connections: int,
                 head_timeout: float) -> None:
        self.max_connections = max_connections
        self.head_timeout = head_timeout
        self.stats = GuardStats()
        self._server = server
        # Insertion-ordered, so the first entry is the oldest.
        self._open: dict[_GuardedConnection, None] = {}
        self._awaiting_head: dict[web.RequestHandler, _GuardedConnection] = {}
        self._busy = _busy_response(max_connections)
        self._throttle = Throttle(1.0)
        # aiohttp calls the request factory once a request head is parsed: the one public
        # hook that says "this connection sent a real request". Handlers copy the factory
        # when created, and every handler is created by this guard, after this line.
        make_request = server.request_factory

        def request_factory(message: RawRequestMessage, payload: StreamReader,
                            protocol: web.RequestHandler, writer: AbstractStreamWriter,
                            task: asyncio.Task[None]) -> web.BaseRequest:
            self._head_received(protocol)
            return make_request(message, payload, protocol, writer, task)

        server.request_factory = request_factory

    @property
    def open_connections(self) -> int:
        return len(self._open)

    def __call__(self) -> asyncio.Protocol:
        return _GuardedConnection(self, self._server())

    def admit(self, conn: _GuardedConnection) -> bool:
        if len(self._open) >= self.max_connections:
            victim = next(iter(self._awaiting_head.values()), None)
            if victim is None:
                self.stats.refused += 1
                assert conn.transport is not None
                conn.transport.write(self._busy)
                conn.transport.close()
                self._report()
                return False
            self.stats.evicted += 1
            self._drop(victim)
            self._report()
        self._open[conn] = None
        self._awaiting_head[conn.handler] = conn
        conn.deadline = asyncio.get_running_loop().call_later(
            self.head_timeout, self._expire, conn)
        return True

    def forget(self, conn: _GuardedConnection) -> None:
        self._open.pop(conn, None)
        self._awaiting_head.pop(conn.handler, None)
        if conn.deadline is not None:
            conn.deadline.cancel()
            conn.deadline = None

    def _drop(self, conn: _GuardedConnection) -> None:
        self.forget(conn)  # at once: its slot is free before the transport reports the loss
        conn.abort()

    def _head_received(self, handler: web.RequestHandler) -> None:
        conn = self._awaiting_head.pop(handler, None)
        if conn is not None and conn.deadline is not None:
            conn.deadline.cancel()
            conn.deadline = None

    def _expire(self, conn: _GuardedConnection) -> None:
        conn.deadline = None
        if conn.handler in self._awaiting_head:
            self.stats.timed_out += 1
            logger.debug("API connection closed: no complete request within {:g}s",
                         self.head_timeout)
            self._drop(conn)

    def _report(self) -> None:
        if self._throttle.admit() is None:
            return
        logger.warning(
            "API connection limit {} reached: {} connection(s) without a request evicted and "
            "{} refused so far (LA_API_MAX_CONNECTIONS)",
            self.max_connections, self.stats.evicted, self.stats.refused)
