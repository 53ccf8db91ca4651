"""`SimExchange`: a local aiohttp server that speaks the Bitunix futures wire protocol.

One port serves the public (`/public/`) and private (`/private/`) WebSockets and the market
REST endpoints; an optional admin API (see :mod:`laptop_agents.sim.admin`) listens on its own
loopback port. Market data come from :mod:`laptop_agents.sim.market`, a pure function of the
seed and simulated time; timer loops (wall-time cadences) push snapshots of it to subscribers.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from decimal import ROUND_HALF_UP, Decimal
from types import TracebackType
from typing import Any

from aiohttp import web
from loguru import logger

from laptop_agents.models import (
    REST_TO_WS_INTERVAL,
    WS_INTERVAL_MS,
    Candle,
    Instrument,
    Tick,
)
from laptop_agents.sim import frames
from laptop_agents.sim.clock import SimClock
from laptop_agents.sim.contracts import SPECS, fmt_scaled
from laptop_agents.sim.market import SymbolMarket, origin_for
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.records import MINUTE_MS
from laptop_agents.sim.rest import add_rest_routes
from laptop_agents.sim.ws import Connection, Subscription

_TRADES_PER_PUSH = 50


@dataclass(slots=True)
class SimStats:
    connections_opened: int = 0
    connections_open: int = 0
    frames_received: int = 0
    frames_sent: int = 0
    frames_dropped_slow: int = 0
    pings_answered: int = 0
    subscriptions: int = 0
    dropped_idle: int = 0
    dropped_rate: int = 0
    dropped_fault: int = 0
    handshakes_rejected: int = 0
    refuse_periods: int = 0
    malformed_sent: int = 0
    frames_injected: int = 0
    logins_ok: int = 0
    logins_failed: int = 0
    rest_requests: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class SimExchange:
    """The simulated exchange: ``async with SimExchange(SimOptions(...)) as sim`` (or
    start()/stop())."""

    def __init__(self, options: SimOptions | None = None) -> None:
        self.options = SimOptions() if options is None else options
        # The ports actually bound (an option of 0 means any free port); set by start().
        self.port = self.options.port
        self.admin_port = self.options.admin_port
        start_ms = self.options.start_ms
        if start_ms is None:
            start_ms = time.time_ns() // 1_000_000 // MINUTE_MS * MINUTE_MS
        self.start_ms = start_ms
        self.origin_ms = origin_for(start_ms, self.options.history_minutes)
        self.markets: dict[str, SymbolMarket] = {
            s.upper(): SymbolMarket(SPECS[s.upper()], self.options.seed, self.origin_ms)
            for s in self.options.symbols
        }
        self.clock = SimClock(start_ms, self.options.speed)
        self.stats = SimStats()
        self.connections: set[Connection] = set()
        self._runner: web.AppRunner | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._admin_runner: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._reject_left = 0
        self._reject_status = 403
        self._skip_until_ms = 0
        self._last_kline_tick = 0  # simulated ms of the previous kline timer tick
        self._opened = asyncio.Event()
        self._started = False

    # --- lifecycle ------------------------------------------------------------------------
    async def start(self) -> None:
        if self._started:
            return
        loop = asyncio.get_running_loop()
        for market in self.markets.values():
            # The history (>= history_minutes of 1 s steps) takes ~0.5 s of CPU; keep the
            # loop responsive meanwhile. Nothing else touches the market before start.
            await loop.run_in_executor(None, market.advance, self.start_ms)
        app = web.Application()
        app.router.add_get("/public/", self._ws_public)
        app.router.add_get("/private/", self._ws_private)
        add_rest_routes(app, self)
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await self._listen()
        if self.options.admin:
            from laptop_agents.sim.admin import create_admin_app

            self._admin_runner = web.AppRunner(create_admin_app(self), access_log=None)
            await self._admin_runner.setup()
            site = web.TCPSite(self._admin_runner, self.options.admin_host,
                               self.admin_port)
            await site.start()
            self.admin_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.clock.restart(self.start_ms)
        for period, push in ((self.options.kline_push_ms, self._push_klines),
                             (self.options.depth_push_ms, self._push_depth),
                             (self.options.ticker_push_ms, self._push_tickers),
                             (self.options.trade_push_ms, self._push_trades)):
            self._tasks.append(loop.create_task(self._timer(period, push)))
        self._started = True
        logger.info("sim exchange listening on {} (rest {}), speed {}x, seed {}{}",
                    self.ws_url, self.rest_url, self.clock.speed, self.options.seed,
                    f", admin {self.admin_url}" if self.admin_url else "")

    async def _listen(self) -> None:
        assert self._runner is not None and self._runner.server is not None
        loop = asyncio.get_running_loop()
        server = await loop.create_server(self._runner.server, self.options.host, self.port,
                                          reuse_address=True, family=socket.AF_INET)
        self._servers.append(server)
        self.port = server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        if not self._started:
            return
        self._started = False
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self._close_listeners()
        conns = list(self.connections)
        if conns:
            # A polite close frame first; anyone who does not answer within a second is cut.
            closes = [c.ws.close(code=1001, message=b"simulator stopping") for c in conns]
            with contextlib.suppress(TimeoutError, Exception):
                await asyncio.wait_for(asyncio.gather(*closes, return_exceptions=True), 1.0)
            for conn in conns:
                conn.abort()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._admin_runner is not None:
            await self._admin_runner.cleanup()
            self._admin_runner = None
        logger.info("sim exchange on port {} stopped", self.port)

    async def __aenter__(self) -> SimExchange:
        await self.start()
        return self

    async def __aexit__(self, exc_type: type[BaseException] | None,
                        exc: BaseException | None, tb: TracebackType | None) -> None:
        await self.stop()

    def _close_listeners(self) -> None:
        for server in self._servers:
            server.close()
        self._servers.clear()

    # --- addresses and time ---------------------------------------------------------------
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
        if not self.options.admin or not self._admin_runner:
            return None
        return f"http://{self.options.admin_host}:{self.admin_port}"

    def now_ms(self) -> int:
        """Current simulated time; also generates the market up to it."""
        now = self.clock.now_ms()
        for market in self.markets.values():
            market.advance(now)
        return now

    def set_speed(self, speed: float) -> None:
        self.clock.set_speed(speed)
        logger.info("sim speed set to {}x", speed)

    def market(self, symbol: str) -> SymbolMarket:
        try:
            return self.markets[symbol.upper()]
        except KeyError:
            raise KeyError(f"symbol {symbol!r} is not simulated") from None

    # --- ground truth ---------------------------------------------------------------------
    def closed_candles(self, symbol: str, interval: str = "1min", start_ms: int | None = None,
                       end_ms: int | None = None) -> list[Candle]:
        """Closed candles with ``start_ms <= open_time < end_ms``, oldest first."""
        interval = REST_TO_WS_INTERVAL.get(interval, interval)
        iv = WS_INTERVAL_MS[interval]
        market = self.market(symbol)
        now = self.now_ms()
        lo = market.origin_ms if start_ms is None else max(start_ms, market.origin_ms)
        first = -(-lo // iv) * iv
        hi = now if end_ms is None else min(end_ms, now)
        out: list[Candle] = []
        bucket = first
        while bucket < hi and bucket + iv <= now:
            agg = market.candle(iv, bucket, bucket + iv - 1)
            if agg is not None:
                out.append(self._candle(market, interval, bucket, agg))
            bucket += iv
        return out

    @staticmethod
    def _candle(market: SymbolMarket, interval: str, bucket: int, agg: Any) -> Candle:
        f = frames.agg_fields(market, agg)
        return Candle(symbol=market.spec.symbol, interval=interval, open_time=bucket,
                      open=Decimal(f["o"]), high=Decimal(f["h"]), low=Decimal(f["l"]),
                      close=Decimal(f["c"]), volume=Decimal(f["b"]), quote_volume=Decimal(f["q"]))

    def current_tick(self, symbol: str = "BTCUSDT") -> Tick:
        market = self.market(symbol)
        now = self.now_ms()
        seg = market.bbo(now)
        pd, sd = market.spec.price_decimals, market.spec.size_decimals
        last = market.last_trade(now)
        return Tick(symbol=market.spec.symbol, bid=Decimal(fmt_scaled(seg.bid, pd)),
                    ask=Decimal(fmt_scaled(seg.ask, pd)),
                    bid_size=Decimal(fmt_scaled(seg.bid_size, sd)),
                    ask_size=Decimal(fmt_scaled(seg.ask_size, sd)),
                    last=Decimal(fmt_scaled(last.price, pd)), ts=now)

    def instrument(self, symbol: str = "BTCUSDT") -> Instrument:
        spec = self.market(symbol).spec
        return Instrument(symbol=spec.symbol,
                          tick_size=Decimal(1).scaleb(-spec.price_decimals),
                          lot_step=Decimal(1).scaleb(-spec.size_decimals),
                          min_qty=Decimal(spec.min_trade_volume),
                          max_leverage=spec.max_leverage)

    async def wait_for_connections(self, n: int, timeout: float = 10.0) -> None:  # noqa: ASYNC109
        """Wait until at least ``n`` connections have been opened in total."""
        async with asyncio.timeout(timeout):
            while self.stats.connections_opened < n:
                self._opened.clear()
                await self._opened.wait()

    # --- faults ---------------------------------------------------------------------------
    def drop_all(self) -> int:
        """Abort every open connection (no close frame; clients see 1006)."""
        conns = [c for c in self.connections if not c.dropped]
        for conn in conns:
            conn.abort()
        self.stats.dropped_fault += len(conns)
        logger.info("sim fault: dropped {} connections", len(conns))
        return len(conns)

    def stall(self) -> None:
        """Connections open now stop receiving pushes and ping replies; new ones are healthy."""
        for conn in self.connections:
            conn.stalled = True
        logger.info("sim fault: stalled {} connections", len(self.connections))

    def unstall(self) -> None:
        for conn in self.connections:
            conn.stalled = False
        logger.info("sim fault: unstalled")

    async def refuse_connections(self) -> None:
        """Close the listening socket: new connects get ECONNREFUSED; open WebSockets live on.

        Idle HTTP keep-alive connections are closed too (in-flight REST requests finish).
        """
        self._close_listeners()
        # A server that went away would not keep idle HTTP keep-alive connections either:
        # without this a client could reuse one for its next upgrade and never see the refusal.
        ws_transports = {c.transport for c in self.connections}
        if self._runner is not None and self._runner.server is not None:
            http = [h for h in self._runner.server.connections
                    if h.transport not in ws_transports]
            await asyncio.gather(*(h.shutdown(1.0) for h in http), return_exceptions=True)
        self.stats.refuse_periods += 1
        logger.info("sim fault: refusing connections on port {}", self.port)

    async def accept_connections(self) -> None:
        """Listen again on the same port."""
        if not self._servers and self._runner is not None:
            await self._listen()
            logger.info("sim: accepting connections on port {} again", self.port)

    @property
    def refusing(self) -> bool:
        return not self._servers

    def reject_handshakes(self, n: int, status: int = 403) -> None:
        """Answer the next ``n`` WebSocket upgrades with HTTP ``status`` instead of 101."""
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error (4xx/5xx)")
        self._reject_left = n
        self._reject_status = status
        logger.info("sim fault: rejecting the next {} handshakes with {}", n, status)

    def send_malformed(self, kind: str) -> int:
        """Send one malformed frame of ``kind`` to every open public connection."""
        if kind not in frames.MALFORMED_KINDS:
            raise ValueError(f"unknown kind {kind!r}; one of {', '.join(frames.MALFORMED_KINDS)}")
        now = self.now_ms()
        sent = 0
        for conn in self.connections:
            if conn.private or conn.dropped:
                continue
            sub = next((s for s in conn.subs.values() if s.known), None)
            ch, symbol = (sub.ch, sub.symbol or "BTCUSDT") if sub else ("market_kline_1min",
                                                                        "BTCUSDT")
            if conn.send(frames.malformed(kind, ch, symbol, now, self.options.oversized_bytes),
                         force=True):
                sent += 1
        self.stats.malformed_sent += sent
        logger.info("sim fault: sent {} frame to {} connections", kind, sent)
        return sent

    async def inject_frames(self, frames: Iterable[str | bytes]) -> int:
        """Send raw frames (str: text, bytes: binary) to every open public connection, in
        order, never dropped; returns how many were queued (see sim/inject.py)."""
        from laptop_agents.sim.inject import inject_frames

        return await inject_frames(self, frames)

    async def fuzz(self, seed: int, count: int, symbol: str | None = None,
                   oversized_every: int = 0) -> dict[str, Any]:
        """Inject ``count`` hostile frames generated from ``seed`` (sim/fuzz.py)."""
        from laptop_agents.sim.inject import fuzz

        return await fuzz(self, seed, count, symbol, oversized_every)

    def skip_pushes(self, sim_seconds: float) -> None:
        """No pushes for the next ``sim_seconds`` of simulated time (pings still answered)."""
        self._skip_until_ms = max(self._skip_until_ms, self.now_ms() + int(sim_seconds * 1000))
        logger.info("sim fault: skipping pushes until sim ms {}", self._skip_until_ms)

    def script_price(self, bid: Decimal, ask: Decimal | None = None, pushes: int = 1,
                     symbol: str = "BTCUSDT") -> None:
        """Move the BBO to ``bid``/``ask`` (default one tick above bid) over ``pushes`` depth
        pushes; the random walk then continues from there."""
        market = self.market(symbol)
        tick = Decimal(1).scaleb(-market.spec.price_decimals)
        bid_t = int((Decimal(bid) / tick).to_integral_value(ROUND_HALF_UP))
        ask_t = bid_t + 1 if ask is None else int(
            (Decimal(ask) / tick).to_integral_value(ROUND_HALF_UP))
        push_sim_ms = int(self.options.depth_push_ms * self.clock.speed)
        now = self.now_ms()
        market.script(now, bid_t, ask_t, pushes, push_sim_ms)
        logger.info("sim script: {} bid {} ask {} over {} pushes", symbol, bid, ask, pushes)

    # --- WebSocket handlers ---------------------------------------------------------------
    async def _ws_public(self, request: web.Request) -> web.StreamResponse:
        return await self._ws(request, private=False)

    async def _ws_private(self, request: web.Request) -> web.StreamResponse:
        return await self._ws(request, private=True)

    async def _ws(self, request: web.Request, private: bool) -> web.StreamResponse:
        if self._reject_left > 0:
            self._reject_left -= 1
            self.stats.handshakes_rejected += 1
            return web.Response(status=self._reject_status, text="handshake rejected by sim")
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

    # --- pushes ---------------------------------------------------------------------------
    async def _timer(self, period_ms: int, push: Callable[[int], None]) -> None:
        loop = asyncio.get_running_loop()
        period = period_ms / 1000.0
        deadline = loop.time() + period
        while True:
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            deadline += period
            if deadline < loop.time():  # fell behind (busy machine): do not burst to catch up
                deadline = loop.time() + period
            if not self.connections:
                continue
            now = self.now_ms()
            if now < self._skip_until_ms:
                continue
            try:
                push(now)
            except Exception:  # a push bug must not kill the timer; it is logged loudly
                logger.exception("sim push failed")

    def _subs(self, kind: str) -> list[tuple[Connection, Any]]:
        return [(c, s) for c in self.connections if not c.stalled and not c.dropped
                for s in c.subs.values() if s.known and s.channel.kind == kind]

    def _push_klines(self, now: int) -> None:
        previous_tick, self._last_kline_tick = self._last_kline_tick, now
        cache: dict[tuple[str, str, int], dict[str, Any] | None] = {}

        def frame_at(sub: Subscription, ts: int) -> dict[str, Any] | None:
            assert sub.symbol is not None  # only known symbols are pushed
            key = (sub.ch, sub.symbol, ts)
            if key not in cache:
                market = self.markets[sub.symbol]
                iv = sub.channel.interval_ms
                agg = market.candle(iv, ts // iv * iv, ts)
                cache[key] = None if agg is None else frames.kline_push(sub.ch, market, agg, ts)
            return cache[key]

        for conn, sub in self._subs("kline"):
            iv = sub.channel.interval_ms
            if self.options.kline_final_push and sub.kline_ts is not None \
                    and sub.kline_ts // iv < now // iv:
                # The bucket of this stream's previous push closed since the last timer tick:
                # push its final state (ts = its last ms) first, so the last push a client saw
                # for the bucket equals the closed candle REST returns. Not after a stall or
                # inside a skip_pushes gap: those deliberately lose pushes.
                close_ts = sub.kline_ts // iv * iv + iv - 1
                if close_ts > max(sub.kline_ts, previous_tick) \
                        and close_ts >= self._skip_until_ms:
                    final = frame_at(sub, close_ts)
                    if final is not None:
                        conn.send(final)
            frame = frame_at(sub, now)
            if frame is not None and conn.send(frame):
                sub.kline_ts = now

    def _push_depth(self, now: int) -> None:
        cache: dict[tuple[str, str], dict[str, Any]] = {}
        for conn, sub in self._subs("depth"):
            key = (sub.ch, sub.symbol)
            frame = cache.get(key)
            if frame is None:
                frame = cache[key] = frames.depth_push(sub.ch, self.markets[sub.symbol],
                                                       sub.channel.levels, now)
            conn.send(frame)

    def _push_tickers(self, now: int) -> None:
        cache: dict[str, dict[str, Any]] = {}
        for conn, sub in self._subs("ticker"):
            frame = cache.get(sub.symbol)
            if frame is None:
                market = self.markets[sub.symbol]
                agg, open_price = market.rolling(now, 86_400_000)
                if agg is None or open_price is None:
                    continue
                last = market.last_trade(now).price
                frame = cache[sub.symbol] = frames.ticker_push(market, agg, open_price, last, now)
            conn.send(frame)

    def _push_trades(self, now: int) -> None:
        for conn, sub in self._subs("trade"):
            market = self.markets[sub.symbol]
            after = max(sub.trade_cursor, self._skip_until_ms - 1)
            trades = market.trades(after, now, _TRADES_PER_PUSH)
            sub.trade_cursor = now
            if trades:
                conn.send(frames.trade_push(market, trades, now))


def run_standalone(options: SimOptions) -> int:
    """`laptop-agents sim`: serve until SIGINT/SIGTERM, then return 0."""

    async def main() -> None:
        sim = SimExchange(options)
        await sim.start()
        logger.info("public WS {}  private WS {}  REST {}", sim.ws_url, sim.private_ws_url,
                    sim.rest_url)
        if sim.admin_url:
            logger.info("admin API {} (loopback only)", sim.admin_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            logger.info("sim: signal received, shutting down")
            await sim.stop()

    asyncio.run(main())
    return 0
