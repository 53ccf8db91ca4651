"""Immutable market-data values shared by every part of the daemon.

Prices and sizes are ``Decimal`` so accounting never meets a float. Timestamps are integer
milliseconds since the epoch (of simulated time when the source is the simulator).
"""

from __future__ import annotations

import enum
from dataclasses import FrozenInstanceError, dataclass
from decimal import Decimal

import msgspec

# WebSocket interval names (`market_kline_<name>`) -> milliseconds.
WS_INTERVAL_MS: dict[str, int] = {
    "1min": 60_000,
    "3min": 180_000,
    "5min": 300_000,
    "15min": 900_000,
    "30min": 1_800_000,
    "60min": 3_600_000,
    "2h": 7_200_000,
    "4h": 14_400_000,
    "6h": 21_600_000,
    "8h": 28_800_000,
    "12h": 43_200_000,
    "1day": 86_400_000,
    "3day": 259_200_000,
}

# REST spells the same intervals differently (`/market/kline?interval=1m`).
WS_TO_REST_INTERVAL: dict[str, str] = {
    "1min": "1m",
    "5min": "5m",
    "15min": "15m",
    "30min": "30m",
    "60min": "1h",
    "2h": "2h",
    "4h": "4h",
    "6h": "6h",
    "8h": "8h",
    "12h": "12h",
    "1day": "1d",
    "3day": "3d",
}
REST_TO_WS_INTERVAL: dict[str, str] = {v: k for k, v in WS_TO_REST_INTERVAL.items()}


def interval_ms(interval: str) -> int:
    """Milliseconds in a WebSocket-named interval such as ``"1min"``; KeyError if unknown."""
    return WS_INTERVAL_MS[interval]


class Side(enum.StrEnum):
    LONG = "long"
    SHORT = "short"


class Tick(msgspec.Struct, gc=False):
    """Best bid/offer (and last trade price when known) at one instant. Immutable.

    A msgspec Struct rather than a frozen dataclass: one is built for every frame of the feed,
    and a frozen dataclass's ``__init__`` (an ``object.__setattr__`` per field) cost more than
    a microsecond of it; a Struct is built in C (~0.1 µs) and reads the same. Immutable as the
    dataclass was, with the same error (msgspec's own ``frozen=True`` raises a plain
    AttributeError), and hashable by value. ``gc=False``: a Tick holds strings, Decimals and
    ints only, so it can never be part of a cycle; the collector need not track one per frame.
    """

    symbol: str
    bid: Decimal
    ask: Decimal
    bid_size: Decimal
    ask_size: Decimal
    last: Decimal | None
    ts: int  # ms

    def __setattr__(self, name: str, value: object) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __delattr__(self, name: str) -> None:
        raise FrozenInstanceError(f"cannot delete field {name!r}")

    def __hash__(self) -> int:
        return hash((self.symbol, self.bid, self.ask, self.bid_size, self.ask_size, self.last,
                     self.ts))

    @property
    def mid(self) -> Decimal:
        return (self.bid + self.ask) / 2

    @property
    def spread(self) -> Decimal:
        return self.ask - self.bid


@dataclass(frozen=True, slots=True)
class Candle:
    """One OHLCV bar. ``closed`` is False only for clearly-marked in-progress updates."""

    symbol: str
    interval: str  # WebSocket spelling, e.g. "1min"
    open_time: int  # ms, start of the bucket
    open: Decimal
    high: Decimal
    low: Decimal
    close: Decimal
    volume: Decimal  # base coin (BTC)
    quote_volume: Decimal  # quote currency (USDT)
    closed: bool = True
    # False for values taken from the stream's pushes (a running candle, or a closed one REST
    # could not confirm): such a candle is shown and traded on, never a price reference.
    confirmed: bool = True

    @property
    def close_time(self) -> int:
        """Exclusive end of the bucket in ms."""
        return self.open_time + interval_ms(self.interval)


class ConnectionState(enum.StrEnum):
    CONNECTING = "connecting"  # not connected yet (the engine's state before the first event)
    CONNECTED = "connected"  # first connection of the session is subscribed
    LOST = "lost"  # the socket died; trading must pause
    RECOVERED = "recovered"  # reconnected, resubscribed and backfilled


class SocketState(enum.StrEnum):
    """The provider's own socket, step by step (``ProviderStats.state``); the engine's view of
    the feed is :class:`ConnectionState`."""

    IDLE = "idle"
    CONNECTING = "connecting"
    CONNECTED = "connected"  # open, the server's connect frame seen
    SUBSCRIBED = "subscribed"  # subscriptions sent, backfill done
    LOST = "lost"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class ConnectionEvent:
    """A change of the market-data connection, yielded by the provider between data items."""

    state: ConnectionState
    reason: str = ""
    outage_s: float | None = None  # set on RECOVERED: how long the feed was down
    at: float = 0.0  # wall-clock epoch seconds when it happened
    symbols: tuple[str, ...] = ()  # the symbols on that connection; empty: every symbol


@dataclass(frozen=True, slots=True)
class Instrument:
    """Trading rules of one contract, from `/market/trading_pairs` (or the simulator)."""

    symbol: str
    tick_size: Decimal
    lot_step: Decimal
    min_qty: Decimal
    max_leverage: int = 125
    status: str = "OPEN"  # `symbolStatus`: OPEN, CANCEL_ONLY, STOP, PREVIEW (live), ...
    api_supported: bool = True  # `isApiSupported`: False = no API trading on this contract
    # `priceProtectScope`: an order priced further than this fraction from the mark price is
    # rejected by the exchange (and so by the paper broker).
    price_protect_scope: Decimal = Decimal("0.02")

    @property
    def tradable(self) -> bool:
        """Only an OPEN contract that allows API trading is tradable (as ccxt decides)."""
        return self.status == "OPEN" and self.api_supported


DEFAULT_BTCUSDT = Instrument(
    symbol="BTCUSDT",
    tick_size=Decimal("0.1"),
    lot_step=Decimal("0.0001"),
    min_qty=Decimal("0.0001"),
    max_leverage=125,
)

@dataclass(frozen=True, slots=True)
class MarkPrice:
    """Mark price, index price and funding state of one contract (Bitunix's ``price`` channel).

    ``funding_rate`` is the rate of the *last* settlement as a fraction (the wire's percent
    divided by 100); settlement times are exchange milliseconds, None when the push lacks them.
    """

    symbol: str
    mark: Decimal
    index: Decimal
    funding_rate: Decimal
    last_settlement_ms: int | None
    next_settlement_ms: int | None
    ts: int  # ms, exchange time of the push


@dataclass(frozen=True, slots=True)
class FundingSettlement:
    """One past funding settlement (REST ``get_funding_rate_history``): at ``ts`` a position
    of ``qty`` pays ``qty x mark x rate`` (longs pay when the rate is positive)."""

    symbol: str
    ts: int  # ms, the settlement instant
    rate: Decimal  # a fraction, not percent
    mark: Decimal


@dataclass(frozen=True, slots=True)
class FundingQuote:
    """The upcoming funding (REST ``funding_rate``): the predicted rate as a fraction."""

    symbol: str
    rate: Decimal
    mark: Decimal
    next_settlement_ms: int | None


MarketEvent = Tick | Candle | ConnectionEvent | MarkPrice
