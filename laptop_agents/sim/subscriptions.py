"""Public channel names and one connection's subscriptions to them."""

from __future__ import annotations

from dataclasses import dataclass

from laptop_agents.models import WS_INTERVAL_MS


@dataclass(frozen=True, slots=True)
class Channel:
    """A parsed channel name: kind is kline, depth, ticker, trade or price."""

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
    if ch in ("ticker", "trade", "price"):
        return Channel(ch)
    return None


@dataclass(slots=True)
class Subscription:
    """One stream of one connection: a channel name for a symbol."""

    ch: str
    symbol: str | None  # upper case; None when the client sent none
    channel: Channel
    known: bool  # False for an unknown/missing symbol: counted, never pushed
    trade_cursor: int = 0  # last simulated ms whose trades were pushed
    kline_ts: int | None = None  # simulated ms of the last kline push on this stream
    depth_ts: int | None = None  # simulated ms of the snapshot sent on subscribe
