"""Bitunix futures wire protocol, without I/O.

Everything here is a pure function or a small state machine, so it can be tested on recorded
and hostile frames: frame builders (ping, subscribe, login), frame parsers (WebSocket pushes and
control messages), the signing functions, and :class:`CandleCloser`, which turns kline pushes
(which carry no "closed" flag) into closed candles by bucketing their ``ts``. REST replies are
parsed in :mod:`bitunix_rest_parse`; the bounds every number must respect are in
:mod:`bitunix_values`. See /work/shared/bitunix-protocol.md for the wire format and
docs/market-data.md for the rules built on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from typing import TypeVar

import msgspec
import orjson

from laptop_agents.data.providers.bitunix_price import PRICE_CHANNEL, parse_price_push

# REST parsing and value bounds live in their own modules; their names are re-exported here
# because this module is the protocol's one import point for the client and the tests.
from laptop_agents.data.providers.bitunix_rest_parse import (
    RATE_LIMIT_CODES,
    BitunixApiError,
    DepthSnapshot,
    RateLimitedError,
    parse_depth,
    parse_kline_row,
    parse_rest_envelope,
    parse_trading_pair,
    split_volumes,
)
from laptop_agents.data.providers.bitunix_values import (
    MalformedFrame,
    amount,
    price,
    sample,
    symbol_name,
    timestamp_ms,
    to_decimal,
)
from laptop_agents.models import WS_INTERVAL_MS, Candle, MarkPrice

Item = TypeVar("Item")
KLINE_PREFIX = "market_kline_"
DEPTH_BBO_CHANNEL = "depth_book1"
TICKER_CHANNEL = "ticker"
MAX_SUBSCRIPTIONS = 300  # per connection; #301 is refused by the server
REST_KLINE_PAGE = 200  # the server's maximum `limit`
DEPTH_LIMITS = ("1", "5", "15", "50", "max")


# ------------------------------------------------------------------ frames (client -> server)


def dumps(payload: Mapping[str, object]) -> str:
    return orjson.dumps(payload).decode()


def kline_channel(interval: str) -> str:
    if interval not in WS_INTERVAL_MS:
        raise ValueError(f"unknown kline interval {interval!r}")
    return KLINE_PREFIX + interval


def build_ping(epoch_seconds: int) -> str:
    return dumps({"op": "ping", "ping": int(epoch_seconds)})


def build_subscribe(args: Iterable[tuple[str, str]]) -> str:
    """One subscribe frame for ``(channel, symbol)`` pairs."""
    return dumps({"op": "subscribe", "args": [{"symbol": s, "ch": ch} for ch, s in args]})


def build_unsubscribe(args: Iterable[tuple[str, str]]) -> str:
    return dumps({"op": "unsubscribe", "args": [{"symbol": s, "ch": ch} for ch, s in args]})


def chunk(items: Sequence[Item], size: int) -> list[list[Item]]:
    """Split ``items`` into lists of at most ``size`` (fewest frames for a batch)."""
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


def ws_login_sign(nonce: str, timestamp: int, api_key: str, secret: str) -> str:
    """Double SHA-256 of the WebSocket login (reference 5.2); lower-case hex."""
    digest = hashlib.sha256(f"{nonce}{timestamp}{api_key}".encode()).hexdigest()
    return hashlib.sha256((digest + secret).encode()).hexdigest()


def rest_sign(
    nonce: str, timestamp_ms: int, api_key: str, query: Mapping[str, str], body: str, secret: str
) -> str:
    """Signature of a private REST call (reference 6.7): sorted key+value pairs, no separators."""
    query_text = "".join(f"{k}{query[k]}" for k in sorted(query))
    digest = hashlib.sha256(f"{nonce}{timestamp_ms}{api_key}{query_text}{body}".encode())
    return hashlib.sha256((digest.hexdigest() + secret).encode()).hexdigest()


def build_login(api_key: str, secret: str, nonce: str, timestamp: int) -> str:
    sign = ws_login_sign(nonce, timestamp, api_key, secret)
    return dumps(
        {"op": "login", "args": [{"apiKey": api_key, "timestamp": timestamp, "nonce": nonce,
                                  "sign": sign}]}
    )


# ------------------------------------------------------------------ frames (server -> client)


@dataclass(frozen=True, slots=True)
class ConnectFrame:
    result: bool


@dataclass(frozen=True, slots=True)
class HeartbeatReply:
    """``op:"ping"`` (documented) or ``op:"pong"`` (seen in one client) reply."""

    echoed: int | None


@dataclass(frozen=True, slots=True)
class LoginReply:
    result: bool
    msg: str


@dataclass(frozen=True, slots=True)
class OpReply:
    """Other control replies: subscribe errors/acks, unsubscribe echo."""

    op: str
    result: bool | None
    msg: str


@dataclass(frozen=True, slots=True)
class KlinePush:
    symbol: str
    interval: str
    ts: int
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal  # base coin (`b`)
    quote_volume: Decimal  # quote currency (`q`)


class DepthPush(msgspec.Struct, frozen=True, gc=False):
    """A validated best bid/offer push (a struct: the fast path builds one per frame in C)."""

    symbol: str
    ts: int
    bid: Decimal
    bid_size: Decimal
    ask: Decimal
    ask_size: Decimal


@dataclass(frozen=True, slots=True)
class TickerPush:
    symbol: str
    ts: int
    last: Decimal


Frame = (ConnectFrame | HeartbeatReply | LoginReply | OpReply | KlinePush | DepthPush
         | TickerPush | MarkPrice)


def _dict(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise MalformedFrame(f"{what}: expected an object")
    return value


def _symbol(frame: dict[str, object]) -> str:
    return symbol_name(frame.get("symbol"), "push symbol")


def _ts(frame: dict[str, object]) -> int:
    return timestamp_ms(frame.get("ts"), "ts")


def _best_level(levels: object, side: str) -> tuple[Decimal, Decimal]:
    if not isinstance(levels, list) or not levels:
        raise MalformedFrame(f"depth {side}: no levels")
    level = levels[0]
    if not isinstance(level, list) or len(level) < 2:
        raise MalformedFrame(f"depth {side}: level is not [price, size]")
    if level[0] == "":
        # The server's answer to an unknown symbol: one frame of ["",""] levels.
        raise MalformedFrame(f"depth {side}: empty level (unknown symbol?)")
    return price(level[0], f"{side} price"), amount(level[1], f"{side} size")


def _parse_push(frame: dict[str, object], channel: str) -> Frame:
    if channel.startswith(KLINE_PREFIX):
        interval = channel[len(KLINE_PREFIX) :]
        if interval not in WS_INTERVAL_MS:
            raise MalformedFrame(f"unknown kline interval in {channel!r}")
        data = _dict(frame.get("data"), "kline data")
        o, h = price(data.get("o"), "o"), price(data.get("h"), "h")
        low, c = price(data.get("l"), "l"), price(data.get("c"), "c")
        if low > h:
            raise MalformedFrame("kline low above high")
        return KlinePush(
            symbol=_symbol(frame), interval=interval, ts=_ts(frame), open=o, high=h, low=low,
            close=c, volume=amount(data.get("b"), "b"), quote_volume=amount(data.get("q"), "q"),
        )
    if channel == DEPTH_BBO_CHANNEL:
        data = _dict(frame.get("data"), "depth data")
        bid, bid_size = _best_level(data.get("b"), "bid")
        ask, ask_size = _best_level(data.get("a"), "ask")
        if bid > ask:
            # A crossed best bid/offer would fire stops on garbage; refuse it.
            raise MalformedFrame("crossed book: bid above ask")
        return DepthPush(symbol=_symbol(frame), ts=_ts(frame), bid=bid, bid_size=bid_size,
                         ask=ask, ask_size=ask_size)
    if channel == TICKER_CHANNEL:
        data = _dict(frame.get("data"), "ticker data")
        return TickerPush(symbol=_symbol(frame), ts=_ts(frame),
                          last=price(data.get("la"), "la"))
    if channel == PRICE_CHANNEL:
        return parse_price_push(frame)
    raise MalformedFrame(f"unknown channel {sample(channel, 40)!r}")


def _parse_control(frame: dict[str, object], op: str) -> Frame:
    data = frame.get("data")
    if op in ("ping", "pong"):
        echoed = frame.get("pong", frame.get("ts"))
        value = echoed if isinstance(echoed, int) and not isinstance(echoed, bool) else None
        return HeartbeatReply(echoed=value)
    if op == "connect":
        return ConnectFrame(result=isinstance(data, dict) and data.get("result") is True)
    if op == "login":
        data = data if isinstance(data, dict) else {}
        msg = data.get("msg", frame.get("msg", ""))
        return LoginReply(result=data.get("result") is True, msg=str(msg)[:200])
    if op in ("subscribe", "unsubscribe"):
        if isinstance(data, dict):
            result = data.get("result")
            return OpReply(op=op, result=result if isinstance(result, bool) else None,
                           msg=str(data.get("msg", ""))[:200])
        return OpReply(op=op, result=None, msg=str(data)[:200] if data is not None else "")
    raise MalformedFrame(f"unknown op {sample(op, 40)!r}")


def parse_frame(text: str | bytes) -> Frame:
    """Parse one WebSocket text frame. Raises MalformedFrame for anything unexpected.

    Control messages carry ``op`` and no ``ch``; data pushes carry ``ch`` and no ``op``.
    """
    try:
        frame = orjson.loads(text)
    except (orjson.JSONDecodeError, TypeError, ValueError) as error:
        raise MalformedFrame("not JSON") from error
    if not isinstance(frame, dict):
        raise MalformedFrame("not a JSON object")
    op = frame.get("op")
    if isinstance(op, str):
        return _parse_control(frame, op)
    channel = frame.get("ch")
    if isinstance(channel, str):
        return _parse_push(frame, channel)
    raise MalformedFrame("neither op nor ch")


def frame_label(text: str | bytes) -> str:
    """``ch=<channel>`` or ``op=<op>`` of a frame, for a log line that must not quote the frame
    itself (it may be megabytes, or carry whatever a hostile server put in it). Never raises."""
    try:
        frame = orjson.loads(text)
        if isinstance(frame, dict):
            for key in ("op", "ch"):
                value = frame.get(key)
                if isinstance(value, str):
                    return f"{key}={sample(value, 40)!r}"
        return f"a {type(frame).__name__} frame"
    except Exception:  # a label is best effort: never let logging fail the handler
        return "an unparsable frame"


# ------------------------------------------------------------------ candle close


def bucket_start(ts_ms: int, interval: str) -> int:
    step = WS_INTERVAL_MS[interval]
    return ts_ms // step * step


@dataclass(frozen=True, slots=True)
class CloseStep:
    """What one kline push meant.

    ``finished`` is the previous candle (WS values) when this push opened a later bucket;
    ``new_bucket`` tells the caller that the running candle's bucket changed (so every candle
    before ``current.open_time`` must now be final); ``current`` is the running candle
    (``closed=False``), None when the push was stale and ignored.
    """

    current: Candle | None
    finished: Candle | None = None
    new_bucket: bool = False


class CandleCloser:
    """Turns the pushes of one kline stream into buckets (pure; no clock, no I/O).

    Rule (reference 4.1): ``bucket = floor(ts / interval) * interval``; a push in a later
    bucket finishes the stored candle; pushes of an older bucket are ignored. Guard for a late
    update of the old candle that arrives just after the boundary: same ``o`` as the stored
    candle and a base volume not smaller than its volume -> still the old candle.
    """

    def __init__(self, symbol: str, interval: str) -> None:
        self.symbol = symbol
        self.interval = interval
        self.step = WS_INTERVAL_MS[interval]
        self.current: Candle | None = None

    def reset(self) -> None:
        """Forget the running candle (after a disconnect: never bridge a gap)."""
        self.current = None

    def _candle(self, push: KlinePush, open_time: int) -> Candle:
        return Candle(symbol=self.symbol, interval=self.interval, open_time=open_time,
                      open=push.open, high=push.high, low=push.low, close=push.close,
                      volume=push.volume, quote_volume=push.quote_volume, closed=False,
                      confirmed=False)

    def on_push(self, push: KlinePush) -> CloseStep:
        bucket = bucket_start(push.ts, self.interval)
        current = self.current
        if current is None:
            self.current = self._candle(push, bucket)
            return CloseStep(current=self.current, new_bucket=True)
        if bucket < current.open_time:
            return CloseStep(current=None)
        if bucket == current.open_time:
            self.current = self._candle(push, bucket)
            return CloseStep(current=self.current)
        if (bucket == current.open_time + self.step and push.open == current.open
                and push.volume >= current.volume):
            self.current = self._candle(push, current.open_time)
            return CloseStep(current=self.current)
        finished = replace(current, closed=True)
        self.current = self._candle(push, bucket)
        return CloseStep(current=self.current, finished=finished, new_bucket=True)


__all__ = [
    "DEPTH_BBO_CHANNEL",
    "DEPTH_LIMITS",
    "KLINE_PREFIX",
    "MAX_SUBSCRIPTIONS",
    "RATE_LIMIT_CODES",
    "REST_KLINE_PAGE",
    "TICKER_CHANNEL",
    "BitunixApiError",
    "CandleCloser",
    "CloseStep",
    "ConnectFrame",
    "DepthPush",
    "DepthSnapshot",
    "Frame",
    "HeartbeatReply",
    "KlinePush",
    "LoginReply",
    "MalformedFrame",
    "OpReply",
    "RateLimitedError",
    "TickerPush",
    "bucket_start",
    "build_login",
    "build_ping",
    "build_subscribe",
    "build_unsubscribe",
    "chunk",
    "dumps",
    "frame_label",
    "kline_channel",
    "parse_depth",
    "parse_frame",
    "parse_kline_row",
    "parse_rest_envelope",
    "parse_trading_pair",
    "rest_sign",
    "sample",
    "split_volumes",
    "to_decimal",
    "ws_login_sign",
]
