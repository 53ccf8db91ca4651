"""The push timers: wall-time cadences that send market snapshots to subscribers.

All connections share one timer per channel type, so pushes are timer-aligned as live. Each
tick builds a frame once per (channel, symbol) and queues it to every subscriber; a stalled
or dropped connection gets nothing. The ``skip_pushes`` fault lives here too: it silences
every timer for a span of simulated time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from loguru import logger

from laptop_agents.readable import stamp
from laptop_agents.sim import frames
from laptop_agents.sim.frames import JsonObject
from laptop_agents.sim.funding import price_state
from laptop_agents.sim.subscriptions import Subscription
from laptop_agents.sim.venue import ConnectionsVenue, Subscriber

_TRADES_PER_PUSH = 50
_TICKER_WINDOW_MS = 86_400_000


class PushTimers:
    def __init__(self, venue: ConnectionsVenue) -> None:
        self._venue = venue
        self._tasks: list[asyncio.Task[None]] = []
        self._skip_until_ms = 0  # simulated ms before which nothing is pushed
        self._last_kline_tick = 0  # simulated ms of the previous kline timer tick
        # Symbols whose streams are silent (the ``mute`` fault: one symbol's feed stalls while
        # the others and the socket go on).
        self.muted: set[str] = set()

    def start(self) -> None:
        options = self._venue.options
        loop = asyncio.get_running_loop()
        for period, push in ((options.kline_push_ms, self.push_klines),
                             (options.depth_push_ms, self.push_depth),
                             (options.ticker_push_ms, self.push_tickers),
                             (options.trade_push_ms, self.push_trades),
                             (options.price_push_ms, self.push_price)):
            self._tasks.append(loop.create_task(self._timer(period, push)))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()

    def skip(self, sim_seconds: float) -> None:
        """No pushes for the next ``sim_seconds`` of simulated time (pings still answered)."""
        until = self._venue.now_ms() + int(sim_seconds * 1000)
        self._skip_until_ms = max(self._skip_until_ms, until)
        logger.info("sim fault: skipping pushes until sim time {}", stamp(self._skip_until_ms))

    def skipped(self, now_ms: int) -> bool:
        return now_ms < self._skip_until_ms

    async def _timer(self, period_ms: int, push: Callable[[int], None]) -> None:
        loop = asyncio.get_running_loop()
        period = period_ms / 1000.0
        deadline = loop.time() + period
        while True:
            await asyncio.sleep(max(0.0, deadline - loop.time()))
            deadline += period
            if deadline < loop.time():  # fell behind (busy machine): do not burst to catch up
                deadline = loop.time() + period
            if not self._venue.connections:
                continue
            now = self._venue.now_ms()
            if now < self._skip_until_ms:
                continue
            try:
                push(now)
            except Exception:  # a push bug must not kill the timer; it is logged loudly
                logger.exception("sim push failed")

    def _subscribed(self, kind: str) -> list[tuple[Subscriber, Subscription]]:
        """Every live (connection, stream) pair of channel ``kind`` for a simulated symbol."""
        muted = self.muted
        return [(c, s) for c in self._venue.connections if not c.stalled and not c.dropped
                for s in c.subs.values() if s.known and s.channel.kind == kind
                and s.symbol not in muted]

    @staticmethod
    def _symbol(sub: Subscription) -> str:
        assert sub.symbol is not None  # only streams of known symbols are pushed
        return sub.symbol

    def push_klines(self, now: int) -> None:
        previous_tick, self._last_kline_tick = self._last_kline_tick, now
        cache: dict[tuple[str, str, int], JsonObject | None] = {}

        def frame_at(sub: Subscription, ts: int) -> JsonObject | None:
            key = (sub.ch, self._symbol(sub), ts)
            if key not in cache:
                market = self._venue.markets[key[1]]
                iv = sub.channel.interval_ms
                agg = market.candle(iv, ts // iv * iv, ts)
                cache[key] = None if agg is None else frames.kline_push(sub.ch, market, agg, ts)
            return cache[key]

        for conn, sub in self._subscribed("kline"):
            iv = sub.channel.interval_ms
            if self._venue.options.kline_final_push and sub.kline_ts is not None \
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

    def push_depth(self, now: int) -> None:
        cache: dict[tuple[str, str], JsonObject] = {}
        for conn, sub in self._subscribed("depth"):
            if sub.depth_ts == now:
                continue  # its snapshot on subscribe was this very instant
            key = (sub.ch, self._symbol(sub))
            frame = cache.get(key)
            if frame is None:
                frame = cache[key] = frames.depth_push(sub.ch, self._venue.markets[key[1]],
                                                       sub.channel.levels, now)
            conn.send(frame)

    def push_tickers(self, now: int) -> None:
        cache: dict[str, JsonObject] = {}
        for conn, sub in self._subscribed("ticker"):
            symbol = self._symbol(sub)
            frame = cache.get(symbol)
            if frame is None:
                market = self._venue.markets[symbol]
                agg, open_price = market.rolling(now, _TICKER_WINDOW_MS)
                if agg is None or open_price is None:
                    continue
                last = market.last_trade(now).price
                frame = cache[symbol] = frames.ticker_push(market, agg, open_price, last, now)
            conn.send(frame)

    def push_trades(self, now: int) -> None:
        for conn, sub in self._subscribed("trade"):
            market = self._venue.markets[self._symbol(sub)]
            after = max(sub.trade_cursor, self._skip_until_ms - 1)
            trades = market.trades(after, now, _TRADES_PER_PUSH)
            sub.trade_cursor = now
            if trades:
                conn.send(frames.trade_push(market, trades, now))

    def push_price(self, now: int) -> None:
        options = self._venue.options
        cache: dict[str, JsonObject] = {}
        for conn, sub in self._subscribed("price"):
            symbol = self._symbol(sub)
            frame = cache.get(symbol)
            if frame is None:
                market = self._venue.markets[symbol]
                state = price_state(market, options.seed, options.funding_interval_ms, now)
                frame = cache[symbol] = frames.price_push(market, state, now)
            conn.send(frame)
