"""A fast path for the one frame that arrives by the thousand: ``depth_book1``.

The generic :func:`~bitunix_protocol.parse_frame` builds a dict with orjson and walks it with
a Python check per key; for a best bid/offer push that walk cost more than the socket read.
Here msgspec decodes exactly the shape of a depth push into typed structs (keys, types and
nesting checked in C, unknown keys ignored as the generic parser ignores them), and the four
numbers go through the same validated-string caches and bounds as the generic parser.

The fast path only ever *accepts*: any frame it does not recognise in full (another channel,
an ``op``, a missing key, a number where a string is expected, a level that is not a pair of
strings, a value out of bounds, a crossed book) returns None, and the caller hands the frame
to ``parse_frame``, which accepts or rejects it exactly as before. So what is counted as
malformed, and why, does not depend on this module; it only decides how fast a good frame is.
"""

from __future__ import annotations

import functools

import msgspec

from laptop_agents.data.providers.bitunix_protocol import DepthPush
from laptop_agents.data.providers.bitunix_values import (
    TS_MAX_MS,
    TS_MIN_MS,
    MalformedFrame,
    amount_text,
    price_text,
    symbol_name,
)

DEPTH_BBO_CHANNEL = "depth_book1"  # bitunix_protocol's name (not imported: no cycle)
SYMBOLS_REMEMBERED = 256  # validated symbol strings; a hostile server cannot grow it further


# The exact shape of a push (reference 4.4), unknown keys forbidden: msgspec skips an unknown
# key's value without checking it as orjson would (``1e999`` there is "not JSON" to orjson),
# so a frame with any other key is left to the generic parser.
# gc=False: nothing here can hold a cycle, so the collector need not track a struct per frame.
class _Levels(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    b: tuple[tuple[str, str], ...]  # a level of other than two strings: generic parser
    a: tuple[tuple[str, str], ...]


class _Depth(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    ch: str
    symbol: str
    ts: int
    data: _Levels  # a control frame's "op" is an unknown key here: generic parser



_decode = msgspec.json.Decoder(_Depth).decode


@functools.lru_cache(maxsize=SYMBOLS_REMEMBERED)
def _symbol(text: str) -> str:
    return symbol_name(text, "push symbol")


def fast_depth(text: str | bytes) -> DepthPush | None:
    """The quote of a well-formed ``depth_book1`` push; None for anything else."""
    try:
        frame = _decode(text)
    except (msgspec.DecodeError, UnicodeDecodeError):
        return None
    if frame.ch != DEPTH_BBO_CHANNEL:
        return None
    ts = frame.ts
    if not TS_MIN_MS <= ts <= TS_MAX_MS:
        return None
    bids, asks = frame.data.b, frame.data.a
    if not bids or not asks:
        return None
    best_bid, best_ask = bids[0], asks[0]
    try:
        bid, ask = price_text(best_bid[0]), price_text(best_ask[0])
        bid_size, ask_size = amount_text(best_bid[1]), amount_text(best_ask[1])
        symbol = _symbol(frame.symbol)
    except MalformedFrame:
        return None
    if bid > ask:
        return None
    return DepthPush(symbol, ts, bid, bid_size, ask, ask_size)


__all__ = ["fast_depth"]
