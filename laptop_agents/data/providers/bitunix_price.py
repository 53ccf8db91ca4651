"""The ``price`` channel (reference 4.6): mark price, index price and funding state (pure).

``{"ch":"price","symbol":"BTCUSDT","ts":1790126515695,"data":{"ip":"86720.6","mp":"86688.3",
"fr":"-0.00077","ft":"2026-09-23T00:00:00Z","nft":"2026-09-23T08:00:00Z"}}`` becomes a
:class:`MarkPrice`. ``fr`` is the last settlement's rate in percent and is kept as a fraction;
``ft``/``nft`` are ISO-8601 strings live, milliseconds are accepted too. ``mp``, ``ip`` and
``fr`` are required (a MarkPrice has no place for their absence); a push without settlement
times still carries a usable mark.
"""

from __future__ import annotations

from laptop_agents.data.providers.bitunix_values import (
    MalformedFrame,
    funding_fraction,
    price,
    settlement_ms,
    symbol_name,
    timestamp_ms,
)
from laptop_agents.models import MarkPrice

PRICE_CHANNEL = "price"


def parse_price_push(frame: dict[str, object]) -> MarkPrice:
    """The MarkPrice of one ``price`` push (already decoded); MalformedFrame otherwise."""
    data = frame.get("data")
    if not isinstance(data, dict):
        raise MalformedFrame("price data: expected an object")
    return MarkPrice(
        symbol=symbol_name(frame.get("symbol"), "push symbol"),
        mark=price(data.get("mp"), "mp"),
        index=price(data.get("ip"), "ip"),
        funding_rate=funding_fraction(data.get("fr"), "fr"),
        last_settlement_ms=settlement_ms(data.get("ft"), "ft"),
        next_settlement_ms=settlement_ms(data.get("nft"), "nft"),
        ts=timestamp_ms(frame.get("ts"), "ts"),
    )


__all__ = ["PRICE_CHANNEL", "parse_price_push"]
