"""FrameHandler: what the reader task does with one text frame, synchronously.

Parse (the pure ``parse_frame``), check a push's ``ts`` against the exchange clock and its
stream against the subscriptions, then route it:

* ``depth_book1`` → a Tick, into the outbox at once (ticks never wait behind a REST call);
* kline → the candle worker's inbox (closing candles is the worker's job);
* ticker → the last price, carried by the next Tick;
* price → a MarkPrice into the outbox (repeats coalesced, the latest never dropped);
* a heartbeat reply → clears the outstanding ping.

Anything malformed is counted and skipped; anything that raises while handling one frame is
counted, logged once per burst and contained, so no frame can end the reader.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Container, Set
from dataclasses import replace
from decimal import Decimal
from typing import Protocol

from loguru import logger

from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_depth_fast import fast_depth
from laptop_agents.data.providers.bitunix_protocol import (
    DepthPush,
    HeartbeatReply,
    KlinePush,
    MalformedFrame,
    OpReply,
    TickerPush,
    frame_label,
    parse_frame,
)
from laptop_agents.data.providers.bitunix_ws_outbox import FeedCounters, Outbox
from laptop_agents.models import MarkPrice, Tick

FRAME_ERROR_LOG_EVERY = 10.0  # seconds: a burst of failing frames logs one warning
# A `price` push that repeats the last one passed on (same mark, index and funding state) only
# says the mark is still current; pushes come about twice a second, so one such repeat per
# second of exchange time is passed on and the rest are dropped.
MARK_REPEAT_MS = 1000


class PingState(Protocol):
    """The one piece of a socket's state a frame changes: the outstanding ping."""

    ping_sent_at: float | None


class FrameHandler:
    def __init__(
        self,
        clock: ExchangeClock,
        counters: FeedCounters,
        outbox: Outbox,
        tick_symbols: Set[str],
        kline_streams: Container[tuple[str, str]],
        on_kline: Callable[[KlinePush], None],
    ) -> None:
        self._clock = clock
        self._counters = counters
        self._stats = counters.stats
        self._outbox = outbox
        self._tick_symbols = tick_symbols  # live views of what is subscribed
        self._kline_streams = kline_streams
        self._on_kline = on_kline
        self.last_price: dict[str, Decimal] = {}  # the latest ticker price per symbol
        self.last_mark: dict[str, MarkPrice] = {}  # the latest mark passed on, per symbol
        self._error_logged = -FRAME_ERROR_LOG_EVERY  # monotonic time of the last warning

    def on_text(self, conn: PingState, text: str) -> None:
        try:
            # Best bid/offer pushes are nearly every frame: the exact-shape fast path first,
            # the generic parser for anything it does not accept in full.
            quote = fast_depth(text)
            if quote is None:
                self.handle_text(conn, text)
            elif not self._clock.observe(quote.ts):  # _on_quote, inline: every frame
                self._implausible(text)
            elif quote.symbol in self._tick_symbols:
                self.on_depth(quote)
            else:
                self._counters.malformed(text, MalformedFrame("push for an unsubscribed symbol"))
        except Exception as error:  # one bad frame must never end the reader (or the daemon)
            self._frame_error(text, error)

    def _frame_error(self, text: str, error: Exception) -> None:
        self._counters.frame_error()
        now = time.monotonic()
        if now - self._error_logged >= FRAME_ERROR_LOG_EVERY:
            self._error_logged = now
            logger.opt(exception=error).warning(
                "handling {} failed; frame skipped ({} so far): {!r}",
                frame_label(text), self._stats.frame_errors, error)

    def handle_text(self, conn: PingState, text: str) -> None:
        try:
            frame = parse_frame(text)
        except MalformedFrame as error:
            self._counters.malformed(text, error)
            return
        if isinstance(frame, DepthPush):
            self._on_quote(frame, text)
            return
        if isinstance(frame, KlinePush | TickerPush | MarkPrice) and not (
                self._clock.observe(frame.ts)):
            self._implausible(text)
            return
        if isinstance(frame, KlinePush):
            if (frame.symbol, frame.interval) in self._kline_streams:
                self._on_kline(frame)
            else:
                self._counters.malformed(text, MalformedFrame("push for an unsubscribed kline"))
        elif isinstance(frame, TickerPush):
            if frame.symbol in self._tick_symbols:
                self.last_price[frame.symbol] = frame.last
            else:  # else any symbol a server names would grow last_price without bound
                self._counters.malformed(text, MalformedFrame("push for an unsubscribed symbol"))
        elif isinstance(frame, MarkPrice):
            if frame.symbol in self._tick_symbols:  # subscribed with the ticker
                self.on_mark(frame)
            else:  # else any symbol a server names would grow last_mark without bound
                self._counters.malformed(text, MalformedFrame("push for an unsubscribed symbol"))
        elif isinstance(frame, HeartbeatReply):
            conn.ping_sent_at = None
        elif isinstance(frame, OpReply) and frame.result is False:
            logger.warning("{} refused by the server: {}", frame.op, frame.msg)
        # connect/login repeats and unsubscribe echoes need nothing.

    def _implausible(self, text: str) -> None:
        self._stats.implausible_ts += 1
        self._counters.malformed(text, MalformedFrame("ts outside the window around exchange time"))

    def _on_quote(self, push: DepthPush, text: str) -> None:
        if not self._clock.observe(push.ts):
            self._implausible(text)
        elif push.symbol in self._tick_symbols:
            self.on_depth(push)
        else:
            self._counters.malformed(text, MalformedFrame("push for an unsubscribed symbol"))

    def on_depth(self, push: DepthPush) -> None:
        """Emit the Tick of a best bid/offer push (dropped when the consumer is far behind)."""
        symbol = push.symbol
        tick = Tick(symbol, push.bid, push.ask, push.bid_size, push.ask_size,
                    self.last_price.get(symbol), push.ts)
        if self._outbox.offer(tick):
            self._counters.tick(time.time())

    def on_mark(self, mark: MarkPrice) -> None:
        """Pass a mark price on, unless it repeats the last one passed on within a second.

        A push whose ts went back is still passed on when it says something new (the same
        socket delivers in order, so only the server's clock can have gone back; the newest
        word on the mark wins, as for ticks)."""
        previous = self.last_mark.get(mark.symbol)
        if (previous is not None and abs(mark.ts - previous.ts) < MARK_REPEAT_MS
                and replace(previous, ts=mark.ts) == mark):
            return
        self.last_mark[mark.symbol] = mark
        self._stats.marks += 1
        self._outbox.offer_latest(mark)
