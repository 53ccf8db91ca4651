"""Local servers of the benchmarks; every one binds 127.0.0.1.

- :class:`Blaster`: just enough of the Bitunix public WebSocket for the daemon's provider
  (``connect`` on open, JSON ping replies, subscribes accepted silently), then pre-built
  ``depth_book1`` frames written in large chunks, a slow "live" trickle (~3/s) so a subscribed
  client never sees silence, and single quotes on demand (the crossing frame of tick -> exit).
- :func:`start_bare_api`: a bare aiohttp application serving a fixed ``/status`` body,
  ``/healthz`` and a ``/ws`` feed at the daemon's live rate, the baseline of the API figures.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from decimal import Decimal

import orjson
from aiohttp import WSMsgType, web

from bench import wire

HOST = "127.0.0.1"
LIVE_PERIOD_S = 0.31  # the real exchange pushes depth_book1 about 3 times a second
VARIANTS = 32  # distinct prices cycled through a blast
DEPTH = ('{{"ch":"depth_book1","symbol":"BTCUSDT","ts":{ts},'
         '"data":{{"b":[["{bid}","1.5"]],"a":[["{ask}","0.7"]]}}}}')
CONNECT = '{"op":"connect","data":{"result":true}}'


def depth_frame(bid: str, ask: str, ts: int) -> str:
    return DEPTH.format(ts=ts, bid=bid, ask=ask)


def price_variants(center: Decimal, spread_bp: int = 5) -> list[tuple[str, str]]:
    """(bid, ask) strings within ``spread_bp`` basis points of ``center`` (tick 0.1)."""
    tick = Decimal("0.1")
    out = []
    for i in range(VARIANTS):
        offset = (center * spread_bp * (2 * i - (VARIANTS - 1))
                  / (10_000 * (VARIANTS - 1))).quantize(tick)
        bid = (center + offset).quantize(tick)
        out.append((str(bid), str(bid + tick)))
    return out


class _Conn:
    def __init__(self, cid: int, writer: asyncio.StreamWriter) -> None:
        self.id = cid
        self.path = ""
        self.writer = writer
        self.subscribed = asyncio.Event()
        self.closed = False

    def send(self, data: bytes) -> None:
        if not self.closed:
            self.writer.write(data)


class Blaster:
    def __init__(self, now_ms: Callable[[], int], center: Callable[[], Decimal],
                 port: int = 0) -> None:
        self.now_ms = now_ms
        self.center = center
        self.port = port
        self.live = True
        self.conns: dict[int, _Conn] = {}
        self._ids = itertools.count(1)
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._changed = asyncio.Event()  # a connection opened, subscribed or closed

    @property
    def url(self) -> str:
        return f"ws://{HOST}:{self.port}/public/"

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, HOST, self.port,
                                                  limit=1 << 16)
        self.port = self._server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if self._server is not None:
            self._server.close()
        for conn in list(self.conns.values()):
            conn.closed = True
            conn.writer.transport.abort()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = _Conn(next(self._ids), writer)
        try:
            conn.path = await wire.accept(reader, writer)
            self.conns[conn.id] = conn
            self._changed.set()
            conn.send(wire.text(CONNECT))
            live = asyncio.create_task(self._live(conn))
            self._tasks.add(live)
            try:
                await self._read(conn, reader)
            finally:
                live.cancel()
                self._tasks.discard(live)
        except (wire.HandshakeError, ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            conn.closed = True
            self.conns.pop(conn.id, None)
            self._changed.set()
            writer.transport.abort()

    async def _read(self, conn: _Conn, reader: asyncio.StreamReader) -> None:
        while True:
            opcode, data = await wire.read_frame(reader)
            if opcode == wire.OP_CLOSE:
                conn.send(wire.close_frame())
                return
            if opcode == wire.OP_PING:
                conn.send(wire.frame(data, wire.OP_PONG))
                continue
            if opcode != wire.OP_TEXT:
                continue
            with contextlib.suppress(orjson.JSONDecodeError):
                message = orjson.loads(data)
                op = message.get("op") if isinstance(message, dict) else None
                if op == "ping":
                    echo = message.get("ping")
                    conn.send(wire.text(orjson.dumps(
                        {"op": "ping", "pong": echo, "ping": echo}).decode()))
                elif op == "subscribe":
                    conn.subscribed.set()
                    self._changed.set()

    async def _live(self, conn: _Conn) -> None:
        while not conn.closed:
            await asyncio.sleep(LIVE_PERIOD_S)
            if self.live:
                bid, ask = price_variants(self.center(), 1)[VARIANTS // 2]
                conn.send(wire.text(depth_frame(bid, ask, self.now_ms())))

    async def _until(self, predicate: Callable[[], bool]) -> None:
        while not predicate():
            self._changed.clear()
            await self._changed.wait()

    async def wait_subscribed(self) -> None:
        """Until an open connection has subscribed."""
        await self._until(lambda: any(c.subscribed.is_set() for c in self.conns.values()))

    async def wait_closed(self) -> None:
        """Until every connection is gone."""
        await self._until(lambda: not self.conns)

    def quote(self, bid: str, ask: str, path: str | None = None) -> int:
        """Write one depth frame to every connection (of ``path``); monotonic ns just before
        the write."""
        data = wire.text(depth_frame(bid, ask, self.now_ms()))
        sent = time.monotonic_ns()
        for conn in self._targets(path):
            conn.send(data)
        return sent

    def _targets(self, path: str | None) -> list[_Conn]:
        return [c for c in self.conns.values() if path is None or c.path == path]

    async def blast(self, n: int, rate: float = 0.0, path: str | None = None,
                    chunk: int = 512) -> tuple[int, int]:
        """Write ``n`` depth frames to every connection (of ``path``, if given) at ``rate``
        frames/s (0 = as fast as the sockets drain). Returns monotonic ns of the first and
        the last write.

        A chunk is the same ``VARIANTS`` frames repeated with one ``ts``: bytes repetition, so
        the server spends well under a microsecond per frame and is never the bottleneck.
        """
        variants = price_variants(self.center())
        conns = self._targets(path)
        start = time.monotonic_ns()
        sent = 0
        while sent < n:
            k = min(chunk, n - sent)
            ts = self.now_ms()
            block = b"".join(wire.text(depth_frame(bid, ask, ts)) for bid, ask in variants)
            data = block * (k // VARIANTS) + b"".join(
                wire.text(depth_frame(*variants[i], ts)) for i in range(k % VARIANTS))
            for conn in conns:
                conn.send(data)
            await asyncio.gather(*(c.writer.drain() for c in conns if not c.closed),
                                 return_exceptions=True)
            sent += k
            if rate > 0:
                ahead = start / 1e9 + sent / rate - time.monotonic()
                if ahead > 0:
                    await asyncio.sleep(ahead)
        return start, time.monotonic_ns()


# -- the bare API baseline ------------------------------------------------------------------
async def start_bare_api(status_body: bytes, tick_body: bytes,
                         port: int = 0) -> tuple[web.AppRunner, int]:
    """/status (fixed body), /healthz and a /ws feed: ``tick_body`` every 310 ms and
    ``status_body`` every second, the daemon's live rate."""
    tick_text, status_text = tick_body.decode(), status_body.decode()

    async def status(request: web.Request) -> web.Response:
        return web.Response(body=status_body, content_type="application/json")

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(body=b'{"status":"ok"}', content_type="application/json")

    async def feed(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=20.0)
        await ws.prepare(request)

        async def push() -> None:
            for n in itertools.count():
                await asyncio.sleep(LIVE_PERIOD_S)
                await ws.send_str(tick_text)
                if n % 3 == 2:
                    await ws.send_str(status_text)

        pusher = asyncio.create_task(push())
        try:
            async for message in ws:
                if message.type == WSMsgType.ERROR:
                    break
        finally:
            pusher.cancel()
            await asyncio.gather(pusher, return_exceptions=True)
        return ws

    app = web.Application()
    app.router.add_get("/status", status)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/ws", feed)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, HOST, port)
    await site.start()
    server = site._server
    assert server is not None
    sockets = getattr(server, "sockets", None) or []
    return runner, int(sockets[0].getsockname()[1])
