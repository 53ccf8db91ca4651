"""`SimExchange`: a local aiohttp server that speaks the Bitunix futures wire protocol.

One port serves the public (`/public/`) and private (`/private/`) WebSockets and the market
REST endpoints; an optional admin API (see :mod:`laptop_agents.sim.admin`) listens on its own
loopback port. Market data come from :mod:`laptop_agents.sim.market`, a pure function of the
seed and simulated time; the push timers (:mod:`laptop_agents.sim.pushes`) send snapshots of
it to subscribers. This class ties the pieces together and is the simulator's Python API;
each job lives in its own module (docs/simulator.md, "Layout").
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Iterable
from decimal import Decimal
from types import TracebackType

from aiohttp import web
from loguru import logger

from laptop_agents.models import Candle, Instrument, MarkPrice, Tick
from laptop_agents.sim import faults, inject, readouts
from laptop_agents.sim.admin import create_admin_app
from laptop_agents.sim.clock import SimClock
from laptop_agents.sim.frames import JsonObject
from laptop_agents.sim.funding_rest import add_funding_routes
from laptop_agents.sim.listeners import Listeners
from laptop_agents.sim.market import SymbolMarket, build_markets, origin_for
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.pushes import PushTimers
from laptop_agents.sim.records import MINUTE_MS
from laptop_agents.sim.rest import add_rest_routes
from laptop_agents.sim.stats import SimStats
from laptop_agents.sim.ws import Connection


class SimExchange:
    """The simulated exchange: ``async with SimExchange(SimOptions(...)) as sim`` (or
    start()/stop())."""

    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = SimOptions() if options is None else options
        start_ms = self.options.start_ms
        if start_ms is None:
            start_ms = time.time_ns() // 1_000_000 // MINUTE_MS * MINUTE_MS
        self.start_ms = start_ms
        self.origin_ms = origin_for(start_ms, self.options.history_minutes) \
            if self.options.origin_ms is None else self.options.origin_ms
        if self.origin_ms > start_ms:
            raise ValueError("origin_ms must not be after the start")
        self.markets = build_markets(self.options.symbols, self.options.seed, self.origin_ms)
        self.clock = SimClock(start_ms, self.options.speed)
        self.stats = SimStats()
        self.connections: set[Connection] = set()
        self._listeners = Listeners(self.options.host, self.options.port,
                                    self.options.admin_host, self.options.admin_port)
        self._pushes = PushTimers(self)
        self._rejections = faults.HandshakeRejections()
        self._opened = asyncio.Event()
        self._started = False

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        loop = asyncio.get_running_loop()
        for market in self.markets.values():
            # The history (>= history_minutes of 1 s steps, all but the last 15 minutes as
            # minute aggregates) takes ~0.15 s of CPU; keep the loop responsive meanwhile.
            # Nothing else touches the market before start.
            await loop.run_in_executor(None, market.advance, self.start_ms)
        app = web.Application()
        app.router.add_get("/public/", self._ws_public)
        app.router.add_get("/private/", self._ws_private)
        add_funding_routes(app, self)  # before add_rest_routes' catch-all 404 route
        add_rest_routes(app, self)
        await self._listeners.open(app)
        if self.options.admin:
            await self._listeners.open_admin(create_admin_app(self))
        self.clock.restart(self.start_ms)
        self._pushes.start()
        self._started = True
        logger.info("sim exchange listening on {} (rest {}), speed {}x, seed {}{}",
                    self.ws_url, self.rest_url, self.clock.speed, self.options.seed,
                    f", admin {self.admin_url}" if self.admin_url else "")

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        await self._pushes.stop()
        self._listeners.stop_listening()
        conns = list(self.connections)
        if conns:
            # A polite close frame first; anyone who does not answer within a second is cut.
            closes = [c.ws.close(code=1001, message=b"simulator stopping") for c in conns]
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(asyncio.gather(*closes, return_exceptions=True), 1.0)
            for conn in conns:
                conn.abort()
        await self._listeners.close()
        logger.info("sim exchange on port {} stopped", self.port)

    async def __aenter__(self) -> SimExchange:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    # --- addresses and time ---------------------------------------------------------------
    @property
    def port(self) -> int:
        """The exchange port (the one bound, once started)."""
        return self._listeners.port

    @property
    def admin_port(self) -> int:
        return self._listeners.admin_port

    @property
    def ws_url(self) -> str:
        return f"ws://{self.options.host}:{self.port}/public/"

    @property
    def private_ws_url(self) -> str:
        return f"ws://{self.options.host}:{self.port}/private/"

    @property
    def rest_url(self) -> str:
        return f"http://{self.options.host}:{self.port}"

    @property
    def admin_url(self) -> str | None:
        if not self._listeners.admin_open:
            return None
        return f"http://{self.options.admin_host}:{self.admin_port}"

    def now_ms(self) -> int:
        """Current simulated time; also generates the market up to it."""
        now = self.clock.now_ms()
        for market in self.markets.values():
            market.advance(now)
        return now

    def pushes_skipped(self, now_ms: int) -> bool:
        return self._pushes.skipped(now_ms)

    @property
    def speed(self) -> float:
        """Simulated seconds per wall second now."""
        return self.clock.speed

    def set_speed(self, speed: float) -> None:
        self.clock.set_speed(speed)
        logger.info("sim speed set to {}x", speed)

    def market(self, symbol: str) -> SymbolMarket:
        try:
            return self.markets[symbol.upper()]
        except KeyError:
            raise KeyError(f"symbol {symbol!r} is not simulated") from None

    # --- ground truth (sim/readouts.py) ---------------------------------------------------
    def closed_candles(self, symbol: str, interval: str = "1min", start_ms: int | None = None,
                       end_ms: int | None = None) -> list[Candle]:
        """Closed candles with ``start_ms <= open_time < end_ms``, oldest first."""
        return readouts.closed_candles(self.market(symbol), interval, self.now_ms(), start_ms,
                                       end_ms)

    def current_tick(self, symbol: str = "BTCUSDT") -> Tick:
        return readouts.current_tick(self.market(symbol), self.now_ms())

    def mark_price(self, symbol: str = "BTCUSDT") -> MarkPrice:
        """Mark, index and the last settled funding rate (a fraction) now (sim/funding.py)."""
        return readouts.mark_price(self.market(symbol), self.options.seed,
                                   self.options.funding_interval_ms, self.now_ms())

    def instrument(self, symbol: str = "BTCUSDT") -> Instrument:
        return readouts.instrument(self.market(symbol).spec)

    async def wait_for_connections(self, n: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until at least ``n`` connections have been opened in total."""
        async with asyncio.timeout(timeout):
            while self.stats.connections_opened < n:
                self._opened.clear()
                await self._opened.wait()

    # --- faults (docs/simulator.md, "Faults and scripting") -------------------------------
    def drop_all(self) -> int:
        """Abort every open connection (no close frame; clients see 1006)."""
        return faults.drop_all(self)

    def stall(self) -> None:
        """Connections open now stop receiving pushes and ping replies; new ones are healthy."""
        faults.set_stalled(self, True)

    def unstall(self) -> None:
        faults.set_stalled(self, False)

    async def refuse_connections(self) -> None:
        """Close the listening socket: new connects get ECONNREFUSED; open WebSockets live on.

        Idle HTTP keep-alive connections are closed too (in-flight REST requests finish).
        """
        await self._listeners.refuse({c.transport for c in self.connections})
        self.stats.refuse_periods += 1

    async def accept_connections(self) -> None:
        """Listen again on the same port."""
        await self._listeners.accept()

    @property
    def refusing(self) -> bool:
        return self._listeners.refusing

    def reject_handshakes(self, n: int, status: int = 403) -> None:
        """Answer the next ``n`` WebSocket upgrades with HTTP ``status`` instead of 101."""
        self._rejections.arm(n, status)

    def send_malformed(self, kind: str) -> int:
        """Send one malformed frame of ``kind`` to every open public connection."""
        return faults.send_malformed(self, kind)

    async def inject_frames(self, frames: Iterable[str | bytes]) -> int:
        """Send raw frames (str: text, bytes: binary) to every open public connection, in
        order, never dropped; returns how many were queued (see sim/inject.py)."""
        return await inject.inject_frames(self, frames)

    async def fuzz(self, seed: int, count: int, symbol: str | None = None,
                   oversized_every: int = 0) -> JsonObject:
        """Inject ``count`` hostile frames generated from ``seed`` (sim/fuzz.py)."""
        return await inject.fuzz(self, seed, count, symbol, oversized_every)

    def mute(self, symbol: str, muted: bool = True) -> None:
        """Silence every stream of ``symbol`` (or let it speak again); the others go on."""
        (self._pushes.muted.add if muted else self._pushes.muted.discard)(symbol.upper())

    def skip_pushes(self, sim_seconds: float) -> None:
        """No pushes for the next ``sim_seconds`` of simulated time (pings still answered)."""
        self._pushes.skip(sim_seconds)

    def script_price(self, bid: Decimal, ask: Decimal | None = None, pushes: int = 1,
                     symbol: str = "BTCUSDT") -> None:
        """Move the BBO to ``bid``/``ask`` (default one tick above bid) over ``pushes`` depth
        pushes; the random walk then continues from there."""
        market = self.market(symbol)
        push_sim_ms = int(self.options.depth_push_ms * self.clock.speed)
        faults.script_price(market, self.now_ms(), bid, ask, pushes, push_sim_ms)

    # --- WebSocket handlers ---------------------------------------------------------------
    async def _ws_public(self, request: web.Request) -> web.StreamResponse:
        return await self._ws(request, private=False)

    async def _ws_private(self, request: web.Request) -> web.StreamResponse:
        return await self._ws(request, private=True)

    async def _ws(self, request: web.Request, private: bool) -> web.StreamResponse:
        rejection = self._rejections.take()
        if rejection is not None:
            self.stats.handshakes_rejected += 1
            return web.Response(status=rejection, text="handshake rejected by sim")
        # No compression (live does not negotiate permessage-deflate); we answer protocol
        # pings ourselves so they count against the rate limit and stop when stalled.
        ws = web.WebSocketResponse(autoping=False, compress=False, max_msg_size=1 << 20)
        transport = request.transport
        await ws.prepare(request)
        conn = Connection(self, ws, transport, private, self.now_ms())
        self.connections.add(conn)
        self.stats.connections_opened += 1
        self.stats.connections_open += 1
        self._opened.set()
        conn.start_writer()
        try:
            await conn.run()
        finally:
            self.connections.discard(conn)
            self.stats.connections_open -= 1
            await conn.stop_writer()
        return ws
