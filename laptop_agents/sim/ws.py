"""One simulated WebSocket connection: its subscriptions, limits and outbound queue.

The handler reads client frames (counting every frame, control frames included, against the
rate limit and the idle timeout) and answers control messages; market pushes are produced by
the push timers (pushes.py) and land in the connection's bounded outbound queue, which one
writer task drains so a slow client never blocks the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import time
from collections import deque

import orjson
from aiohttp import WSMsgType, web
from loguru import logger

from laptop_agents.sim.frames import (
    CAP_ERROR,
    CONNECT,
    JsonObject,
    depth_push,
    dumps,
    empty_depth_push,
)
from laptop_agents.sim.subscriptions import Subscription, parse_channel
from laptop_agents.sim.venue import MarketVenue

_OUTBOUND_LIMIT = 2000
_SEND_WAIT_S = 5.0  # an injector waiting longer for room gives the connection up
_ids = itertools.count(1)


def login_sign(api_key: str, secret: str, nonce: str, timestamp: str) -> str:
    digest = hashlib.sha256((nonce + timestamp + api_key).encode()).hexdigest()
    return hashlib.sha256((digest + secret).encode()).hexdigest()


class Connection:
    """One client's socket; satisfies venue.Subscriber."""

    def __init__(self, venue: MarketVenue, ws: web.WebSocketResponse,
                 transport: asyncio.Transport | None, private: bool, open_sim_ms: int) -> None:
        self.id = next(_ids)
        self.venue = venue
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

    def send(self, frame: str | bytes | JsonObject, *, force: bool = False) -> bool:
        """Queue a frame. A stalled connection sends nothing unless ``force`` (fault frames)."""
        if self.dropped or (self.stalled and not force):
            return False
        payload = dumps(frame) if isinstance(frame, dict) else frame
        try:
            self._out.put_nowait(payload)
        except asyncio.QueueFull:
            self.venue.stats.frames_dropped_slow += 1
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
                self.venue.stats.frames_sent += 1
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
        self.venue.stats.frames_received += 1
        now = time.monotonic()
        self._frames.append(now)
        while self._frames and self._frames[0] <= now - 1.0:
            self._frames.popleft()
        return len(self._frames) <= self.venue.options.max_frames_per_second

    async def run(self) -> None:
        venue = self.venue
        self.send(CONNECT)
        while True:
            try:
                msg = await self.ws.receive(timeout=venue.options.idle_timeout)
            except TimeoutError:
                if not self.dropped:
                    venue.stats.dropped_idle += 1
                    logger.debug("sim conn {} idle for {} s: dropped", self.id,
                                 venue.options.idle_timeout)
                    self.abort()
                return
            if msg.type in (WSMsgType.CLOSE, WSMsgType.CLOSING, WSMsgType.CLOSED,
                            WSMsgType.ERROR):
                return
            if not self.count_frame():
                venue.stats.dropped_rate += 1
                logger.debug("sim conn {} exceeded {} frames/s: dropped", self.id,
                             venue.options.max_frames_per_second)
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

    def handle(self, obj: JsonObject) -> None:
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

    def on_ping(self, obj: JsonObject) -> None:
        if self.stalled:
            return
        venue = self.venue
        echo = obj.get("ping", obj.get("ts"))
        if venue.options.ping_reply == "open_second":
            second = self.open_second
        else:
            second = venue.now_ms() // 1000
        if self.send({"op": "ping", "pong": echo, "ping": second}):
            venue.stats.pings_answered += 1

    def on_subscribe(self, args: object) -> None:
        if not isinstance(args, list):
            return
        venue = self.venue
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
            if len(self.subs) >= venue.options.max_subscriptions:
                capped = True
                continue
            known = symbol is not None and symbol in venue.markets
            now = venue.now_ms()
            sub = self.subs[key] = Subscription(key[0], symbol, channel, known, trade_cursor=now)
            venue.stats.subscriptions += 1
            if venue.options.subscribe_ack:
                self.send({"op": "subscribe", "ch": key[0], "symbol": symbol,
                           "data": {"result": True}})
            if channel.kind == "depth":
                self._depth_snapshot(sub, now)
        if capped:
            self.send(CAP_ERROR)

    def _depth_snapshot(self, sub: Subscription, now: int) -> None:
        """The book at once, not at the next timer tick: a client's first price (the
        daemon's first tick) should not wait up to one depth period (live answers within
        100-600 ms; a snapshot is what a prompt exchange sends)."""
        venue = self.venue
        if not sub.known:
            self.send(empty_depth_push(sub.ch, sub.symbol, sub.channel.levels, now))
        elif venue.options.depth_snapshot and not venue.pushes_skipped(now):
            assert sub.symbol is not None  # known streams have one
            market = venue.markets[sub.symbol]
            if self.send(depth_push(sub.ch, market, sub.channel.levels, now)):
                sub.depth_ts = now

    def on_unsubscribe(self, args: object) -> None:
        if isinstance(args, list):
            for arg in args:
                if isinstance(arg, dict) and isinstance(arg.get("ch"), str):
                    raw = arg.get("symbol")
                    symbol = raw.upper() if isinstance(raw, str) else None
                    self.subs.pop((arg["ch"], symbol), None)
        self.send({"op": "unsubscribe", "ts": self.venue.now_ms(), "data": "success"})

    def on_login(self, args: object) -> None:
        venue = self.venue
        reason = self._login_error(args)
        if reason is None:
            self.logged_in = True
            venue.stats.logins_ok += 1
            self.send({"op": "login", "data": {"result": True}})
        else:
            venue.stats.logins_failed += 1
            self.send({"op": "login", "data": {"result": False, "msg": reason}})

    def _login_error(self, args: object) -> str | None:
        venue = self.venue
        if not isinstance(args, list) or not args or not isinstance(args[0], dict):
            return "Parameter error"
        arg = args[0]
        api_key, nonce, sign, ts = (arg.get("apiKey"), arg.get("nonce"), arg.get("sign"),
                                    arg.get("timestamp"))
        if not isinstance(api_key, str) or api_key != venue.options.api_key:
            return "api-key is invalid"
        if isinstance(ts, bool) or not isinstance(ts, int | str) or not str(ts).isdigit() \
                or len(str(ts)) not in (10, 13):
            return "timestamp is invalid"
        if not isinstance(nonce, str) or not nonce:
            return "nonce is invalid"
        expected = login_sign(api_key, venue.options.api_secret, nonce, str(ts))
        if not isinstance(sign, str) or sign.lower() != expected:
            return "Signature Error"
        return None
