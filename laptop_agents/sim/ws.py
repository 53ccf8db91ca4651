"""One simulated WebSocket connection: its subscriptions, limits and outbound queue.

The handler reads client frames (counting every frame, control frames included, against the
rate limit and the idle timeout) and answers control messages; market pushes are produced by
the exchange's timer loops and land in the connection's bounded outbound queue, which one
writer task drains so a slow client never blocks the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import time
from collections import deque
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson
from aiohttp import WSMsgType, web
from loguru import logger

from laptop_agents.models import WS_INTERVAL_MS
from laptop_agents.sim.frames import CAP_ERROR, CONNECT, dumps, empty_depth_push

if TYPE_CHECKING:
    from laptop_agents.sim.server import SimExchange

_OUTBOUND_LIMIT = 2000
_SEND_WAIT_S = 5.0  # an injector waiting longer for room gives the connection up
_ids = itertools.count(1)


@dataclass(frozen=True, slots=True)
class Channel:
    """A parsed channel name: kind is kline, depth, ticker or trade."""

    kind: str
    interval_ms: int = 0
    levels: int = 0


def parse_channel(ch: object) -> Channel | None:
    """The channel a public ``ch`` names, or None (unknown channels are silently ignored)."""
    if not isinstance(ch, str):
        return None
    for prefix in ("market_kline_", "mark_kline_"):
        if ch.startswith(prefix):
            iv = WS_INTERVAL_MS.get(ch[len(prefix):])
            return Channel("kline", interval_ms=iv) if iv else None
    if ch in ("depth_book1", "depth_book5", "depth_book15"):
        return Channel("depth", levels=int(ch.removeprefix("depth_book")))
    if ch in ("ticker", "trade"):
        return Channel(ch)
    return None


@dataclass(slots=True)
class Subscription:
    ch: str
    symbol: str | None  # upper case; None when the client sent none
    channel: Channel
    known: bool  # False for an unknown/missing symbol: counted, never pushed
    trade_cursor: int = 0  # last simulated ms whose trades were pushed
    kline_ts: int | None = None  # simulated ms of the last kline push on this stream


def login_sign(api_key: str, secret: str, nonce: str, timestamp: str) -> str:
    digest = hashlib.sha256((nonce + timestamp + api_key).encode()).hexdigest()
    return hashlib.sha256((digest + secret).encode()).hexdigest()


class Connection:
    def __init__(self, exchange: SimExchange, ws: web.WebSocketResponse,
                 transport: Any, private: bool, open_sim_ms: int) -> None:
        self.id = next(_ids)
        self.exchange = exchange
        self.ws = ws
        self.transport = transport
        self.private = private
        self.open_second = open_sim_ms // 1000
        self.subs: dict[tuple[str, str | None], Subscription] = {}
        self.stalled = False
        self.logged_in = False
        self.dropped = False
        self._frames: deque[float] = deque()
        self._out: asyncio.Queue[str | bytes] = asyncio.Queue(maxsize=_OUTBOUND_LIMIT)
        self._writer: asyncio.Task[None] | None = None

    # --- outbound -------------------------------------------------------------------------
    def start_writer(self) -> None:
        self._writer = asyncio.get_running_loop().create_task(self._write_loop())

    async def stop_writer(self) -> None:
        if self._writer is not None:
            self._writer.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._writer

    def send(self, frame: str | bytes | dict[str, Any], *, force: bool = False) -> bool:
        """Queue a frame. A stalled connection sends nothing unless ``force`` (fault frames)."""
        if self.dropped or (self.stalled and not force):
            return False
        payload = dumps(frame) if isinstance(frame, dict) else frame
        try:
            self._out.put_nowait(payload)
        except asyncio.QueueFull:
            self.exchange.stats.frames_dropped_slow += 1
            return False
        return True

    async def send_wait(self, frame: str | bytes) -> bool:
        """Queue a frame, waiting up to _SEND_WAIT_S for room (injected frames are never
        dropped like pushes to a slow client); False if the connection is gone or stuck."""
        if self.dropped:
            return False
        try:
            async with asyncio.timeout(_SEND_WAIT_S):
                await self._out.put(frame)
        except TimeoutError:
            return False
        return True

    async def _write_loop(self) -> None:
        try:
            while True:
                payload = await self._out.get()
                if isinstance(payload, bytes):
                    await self.ws.send_bytes(payload)
                else:
                    await self.ws.send_str(payload)
                self.exchange.stats.frames_sent += 1
        except (ConnectionError, RuntimeError) as error:
            logger.debug("sim conn {} writer stopped: {}", self.id, error)

    def abort(self) -> None:
        """Drop the TCP connection without a close frame, so the client sees 1006."""
        self.dropped = True
        if self.transport is not None:
            self.transport.abort()

    # --- inbound --------------------------------------------------------------------------
    def count_frame(self) -> bool:
        """Record one client frame; False when it breaks the per-second rate limit."""
        self.exchange.stats.frames_received += 1
        now = time.monotonic()
        self._frames.append(now)
        while self._frames and self._frames[0] <= now - 1.0:
            self._frames.popleft()
        return len(self._frames) <= self.exchange.options.max_frames_per_second

    async def run(self) -> None:
        ex = self.exchange
        self.send(CONNECT)
        while True:
            try:
                msg = await self.ws.receive(timeout=ex.options.idle_timeout)
            except TimeoutError:
                if not self.dropped:
                    ex.stats.dropped_idle += 1
                    logger.debug("sim conn {} idle for {} s: dropped", self.id,
                                 ex.options.idle_timeout)
                    self.abort()
                return
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                            WSMsgType.ERROR):
                return
            if not self.count_frame():
                ex.stats.dropped_rate += 1
                logger.debug("sim conn {} exceeded {} frames/s: dropped", self.id,
                             ex.options.max_frames_per_second)
                self.abort()
                return
            if msg.type == WSMsgType.PING:
                if not self.stalled:
                    await self.ws.pong(msg.data)
                continue
            if msg.type != WSMsgType.TEXT:
                continue  # binary and protocol pongs: counted, otherwise ignored
            try:
                obj = orjson.loads(msg.data)
            except orjson.JSONDecodeError:
                continue  # live: non-JSON text gets no reply
            if isinstance(obj, dict):
                self.handle(obj)

    def handle(self, obj: dict[str, Any]) -> None:
        op = obj.get("op")
        if op == "ping":
            self.on_ping(obj)
        elif op == "subscribe":
            self.on_subscribe(obj.get("args"))
        elif op == "unsubscribe":
            self.on_unsubscribe(obj.get("args"))
        elif op == "login" and self.private:
            self.on_login(obj.get("args"))
        # Anything else: silence, as live.

    def on_ping(self, obj: dict[str, Any]) -> None:
        if self.stalled:
            return
        ex = self.exchange
        echo = obj.get("ping", obj.get("ts"))
        if ex.options.ping_reply == "open_second":
            second = self.open_second
        else:
            second = ex.now_ms() // 1000
        if self.send({"op": "ping", "pong": echo, "ping": second}):
            ex.stats.pings_answered += 1

    def on_subscribe(self, args: object) -> None:
        if not isinstance(args, list):
            return
        ex = self.exchange
        capped = False
        for arg in args:
            if not isinstance(arg, dict):
                continue
            if self.private:
                # Private channels need no symbol; accepted silently (no account pushes yet).
                continue
            channel = parse_channel(arg.get("ch"))
            if channel is None:
                continue
            raw_symbol = arg.get("symbol")
            symbol = raw_symbol.upper() if isinstance(raw_symbol, str) else None
            key = (str(arg["ch"]), symbol)
            if key in self.subs:
                continue  # the same stream twice is still one stream
            if len(self.subs) >= ex.options.max_subscriptions:
                capped = True
                continue
            known = symbol is not None and symbol in ex.markets
            now = ex.now_ms()
            self.subs[key] = Subscription(key[0], symbol, channel, known, trade_cursor=now)
            ex.stats.subscriptions += 1
            if ex.options.subscribe_ack:
                self.send({"op": "subscribe", "ch": key[0], "symbol": symbol,
                           "data": {"result": True}})
            if not known and channel.kind == "depth":
                self.send(empty_depth_push(key[0], symbol, channel.levels, now))
        if capped:
            self.send(CAP_ERROR)

    def on_unsubscribe(self, args: object) -> None:
        if isinstance(args, list):
            for arg in args:
                if isinstance(arg, dict) and isinstance(arg.get("ch"), str):
                    raw = arg.get("symbol")
                    symbol = raw.upper() if isinstance(raw, str) else None
                    self.subs.pop((arg["ch"], symbol), None)
        self.send({"op": "unsubscribe", "ts": self.exchange.now_ms(), "data": "success"})

    def on_login(self, args: object) -> None:
        ex = self.exchange
        reason = self._login_error(args)
        if reason is None:
            self.logged_in = True
            ex.stats.logins_ok += 1
            self.send({"op": "login", "data": {"result": True}})
        else:
            ex.stats.logins_failed += 1
            self.send({"op": "login", "data": {"result": False, "msg": reason}})

    def _login_error(self, args: object) -> str | None:
        ex = self.exchange
        if not isinstance(args, list) or not args or not isinstance(args[0], dict):
            return "Parameter error"
        arg = args[0]
        api_key, nonce, sign, ts = (arg.get("apiKey"), arg.get("nonce"), arg.get("sign"),
                                    arg.get("timestamp"))
        if not isinstance(api_key, str) or api_key != ex.options.api_key:
            return "api-key is invalid"
        if isinstance(ts, bool) or not isinstance(ts, int | str) or not str(ts).isdigit() \
                or len(str(ts)) not in (10, 13):
            return "timestamp is invalid"
        if not isinstance(nonce, str) or not nonce:
            return "nonce is invalid"
        expected = login_sign(api_key, ex.options.api_secret, nonce, str(ts))
        if not isinstance(sign, str) or sign.lower() != expected:
            return "Signature Error"
        return None
