"""Bitunix futures wire protocol, without I/O.

Everything here is a pure function or a small state machine, so it can be tested on recorded
and hostile frames: frame builders (ping, subscribe, login), frame parsers (WebSocket pushes and
control messages, REST envelopes and rows), the signing functions, and :class:`CandleCloser`,
which turns kline pushes (which carry no "closed" flag) into closed candles by bucketing their
``ts``. See /work/shared/bitunix-protocol.md for the wire format and docs/market-data.md for the
rules built on it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal, InvalidOperation
from typing import Any

import orjson

from laptop_agents.models import WS_INTERVAL_MS, Candle, Instrument

KLINE_PREFIX = "market_kline_"
DEPTH_BBO_CHANNEL = "depth_book1"
TICKER_CHANNEL = "ticker"
MAX_SUBSCRIPTIONS = 300  # per connection; #301 is refused by the server
RATE_LIMIT_CODES = frozenset({10005, 10006})
REST_KLINE_PAGE = 200  # the server's maximum `limit`
DEPTH_LIMITS = ("1", "5", "15", "50", "max")


# ------------------------------------------------------------------ errors


class MalformedFrame(ValueError):
    """A frame that is not valid JSON, has an unexpected shape, or is on an unknown channel."""


class BitunixApiError(Exception):
    """A REST reply with ``code != 0`` (errors arrive as HTTP 200) or a non-200 HTTP status."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"Bitunix API error {code}: {msg}")
        self.code = code
        self.msg = msg


class RateLimitedError(BitunixApiError):
    """Codes 10005 ("Too many requests") and 10006 ("Request too frequently")."""


# ------------------------------------------------------------------ frames (client -> server)


def dumps(payload: Mapping[str, Any]) -> str:
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


def chunk(items: Sequence[Any], size: int) -> list[list[Any]]:
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


@dataclass(frozen=True, slots=True)
class DepthPush:
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


Frame = ConnectFrame | HeartbeatReply | LoginReply | OpReply | KlinePush | DepthPush | TickerPush


def sample(text: str | bytes, limit: int = 120) -> str:
    """A short printable excerpt of a frame for debug logs."""
    shown = text if isinstance(text, str) else repr(text)
    return shown if len(shown) <= limit else shown[:limit] + "…"


def to_decimal(value: Any, what: str) -> Decimal:
    """A finite Decimal from a JSON string (or number); MalformedFrame otherwise."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise MalformedFrame(f"{what}: expected a number string, got {type(value).__name__}")
    try:
        number = Decimal(value) if isinstance(value, str) else Decimal(str(value))
    except (InvalidOperation, ValueError) as error:
        raise MalformedFrame(f"{what}: not a number: {sample(str(value), 30)}") from error
    if not number.is_finite():
        raise MalformedFrame(f"{what}: not finite")
    return number


def to_int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise MalformedFrame(f"{what}: expected an integer")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("-").isdigit() and len(value) < 30:
        return int(value)
    raise MalformedFrame(f"{what}: expected an integer")


def _dict(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise MalformedFrame(f"{what}: expected an object")
    return value


def _symbol(frame: dict[str, Any]) -> str:
    symbol = frame.get("symbol")
    if not isinstance(symbol, str) or not symbol or not symbol.isalnum():
        raise MalformedFrame("push without a valid symbol")
    return symbol.upper()


def _ts(frame: dict[str, Any]) -> int:
    ts = frame.get("ts")
    if isinstance(ts, bool) or not isinstance(ts, int):
        raise MalformedFrame("ts must be an integer (ms)")
    if ts <= 0:
        raise MalformedFrame("ts must be positive")
    return ts


def _positive(value: Any, what: str) -> Decimal:
    number = to_decimal(value, what)
    if number <= 0:
        raise MalformedFrame(f"{what} must be positive")
    return number


def _non_negative(value: Any, what: str) -> Decimal:
    number = to_decimal(value, what)
    if number < 0:
        raise MalformedFrame(f"{what} must not be negative")
    return number


def _best_level(levels: Any, side: str) -> tuple[Decimal, Decimal]:
    if not isinstance(levels, list) or not levels:
        raise MalformedFrame(f"depth {side}: no levels")
    level = levels[0]
    if not isinstance(level, list) or len(level) < 2:
        raise MalformedFrame(f"depth {side}: level is not [price, size]")
    if level[0] == "":
        # The server's answer to an unknown symbol: one frame of ["",""] levels.
        raise MalformedFrame(f"depth {side}: empty level (unknown symbol?)")
    return _positive(level[0], f"{side} price"), _non_negative(level[1], f"{side} size")


def _parse_push(frame: dict[str, Any], channel: str) -> Frame:
    if channel.startswith(KLINE_PREFIX):
        interval = channel[len(KLINE_PREFIX) :]
        if interval not in WS_INTERVAL_MS:
            raise MalformedFrame(f"unknown kline interval in {channel!r}")
        data = _dict(frame.get("data"), "kline data")
        o, h = _positive(data.get("o"), "o"), _positive(data.get("h"), "h")
        low, c = _positive(data.get("l"), "l"), _positive(data.get("c"), "c")
        if low > h:
            raise MalformedFrame("kline low above high")
        return KlinePush(
            symbol=_symbol(frame), interval=interval, ts=_ts(frame), open=o, high=h, low=low,
            close=c, volume=_non_negative(data.get("b"), "b"),
            quote_volume=_non_negative(data.get("q"), "q"),
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
                          last=_positive(data.get("la"), "la"))
    raise MalformedFrame(f"unknown channel {sample(channel, 40)!r}")


def _parse_control(frame: dict[str, Any], op: str) -> Frame:
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


# ------------------------------------------------------------------ REST


def parse_rest_envelope(payload: Any) -> Any:
    """The ``data`` of a ``{"code","data","msg"}`` reply; typed errors for ``code != 0``."""
    if not isinstance(payload, dict) or "code" not in payload:
        raise BitunixApiError(-1, "reply is not a {code, data, msg} envelope")
    try:
        code = int(payload["code"])
    except (TypeError, ValueError):
        raise BitunixApiError(-1, f"non-integer code {payload['code']!r}") from None
    if code != 0:
        msg = str(payload.get("msg", ""))[:300]
        if code in RATE_LIMIT_CODES:
            raise RateLimitedError(code, msg)
        raise BitunixApiError(code, msg)
    return payload.get("data")


def split_volumes(close: Decimal, first: Decimal, second: Decimal) -> tuple[Decimal, Decimal]:
    """(base, quote) of two volume fields whose names are unreliable (reference 6.3).

    The quote turnover is about ``close x`` the base volume, so pick the assignment whose
    product matches best. Works for prices above and below 1.
    """
    if first == 0 and second == 0:
        return first, second
    error_first_is_base = abs(second - close * first)
    error_second_is_base = abs(first - close * second)
    if error_first_is_base <= error_second_is_base:
        return first, second
    return second, first


def parse_kline_row(row: Any, symbol: str, interval: str) -> Candle:
    data = _dict(row, "kline row")
    base, quote = split_volumes(
        _positive(data.get("close"), "close"),
        _non_negative(data.get("quoteVol"), "quoteVol"),
        _non_negative(data.get("baseVol"), "baseVol"),
    )
    high, low = _positive(data.get("high"), "high"), _positive(data.get("low"), "low")
    if low > high:
        raise MalformedFrame("kline row low above high")
    return Candle(
        symbol=symbol, interval=interval, open_time=to_int(data.get("time"), "time"),
        open=_positive(data.get("open"), "open"), high=high, low=low,
        close=_positive(data.get("close"), "close"), volume=base, quote_volume=quote,
    )


def parse_trading_pair(row: Any) -> Instrument:
    data = _dict(row, "trading pair")
    symbol = data.get("symbol")
    if not isinstance(symbol, str) or not symbol:
        raise MalformedFrame("trading pair without symbol")
    quote_precision = to_int(data.get("quotePrecision"), "quotePrecision")
    base_precision = to_int(data.get("basePrecision"), "basePrecision")
    if not (0 <= quote_precision <= 18 and 0 <= base_precision <= 18):
        raise MalformedFrame("precision out of range")
    max_leverage = data.get("maxLeverage", 125)
    return Instrument(
        symbol=symbol.upper(),
        tick_size=Decimal(1).scaleb(-quote_precision),
        lot_step=Decimal(1).scaleb(-base_precision),
        min_qty=_non_negative(data.get("minTradeVolume", "0"), "minTradeVolume"),
        max_leverage=to_int(max_leverage, "maxLeverage"),
    )


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """REST order book: levels best first, (price, size)."""

    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]


def parse_depth(data: Any) -> DepthSnapshot:
    book = _dict(data, "depth")

    def levels(raw: Any, side: str) -> list[tuple[Decimal, Decimal]]:
        if not isinstance(raw, list):
            raise MalformedFrame(f"depth {side} is not a list")
        out = []
        for level in raw:
            if not isinstance(level, list) or len(level) < 2 or level[0] == "":
                raise MalformedFrame(f"depth {side}: bad level")
            out.append((_positive(level[0], "price"), _non_negative(level[1], "size")))
        return out

    return DepthSnapshot(
        bids=levels(book.get("bids"), "bids"), asks=levels(book.get("asks"), "asks")
    )


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
                      volume=push.volume, quote_volume=push.quote_volume, closed=False)

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
