"""Pure builders of the simulator's wire frames (JSON text, every market number a string).

Shapes follow /work/shared/bitunix-protocol.md sections 1-4 as observed live: pushes carry
``ch``/``symbol``/``ts``/``data`` and no ``op``; control replies carry ``op`` and no ``ch``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

import orjson

from laptop_agents.sim.contracts import fmt_scaled
from laptop_agents.sim.funding import PriceState, fmt_rate
from laptop_agents.sim.market import SymbolMarket, book_levels
from laptop_agents.sim.records import Agg, Trade

# A JSON object as the wire carries it: values of any JSON type.
JsonObject = dict[str, Any]

CONNECT = {"op": "connect", "data": {"result": True}}
CAP_ERROR = {"op": "subscribe", "data": {"msg": "subscribe channel > 300", "nonce": "",
                                         "result": False}}
MALFORMED_KINDS = ("invalid_json", "binary", "missing_fields", "empty_prices", "oversized",
                   "wrong_types")


def iso_ns(ms: int) -> str:
    """Trade time as Bitunix sends it: ISO-8601 UTC with nanoseconds."""
    moment = datetime.fromtimestamp(ms // 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{(ms % 1000) * 1_000_000:09d}Z"


def iso_s(ms: int) -> str:
    """A settlement time as the ``price`` channel sends it: ISO-8601 UTC to the second."""
    return datetime.fromtimestamp(ms // 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def dumps(obj: Any) -> str:
    return orjson.dumps(obj).decode()


def agg_fields(market: SymbolMarket, agg: Agg) -> dict[str, str]:
    pd, sd = market.spec.price_decimals, market.spec.size_decimals
    return {
        "o": fmt_scaled(agg.open, pd),
        "h": fmt_scaled(agg.high, pd),
        "l": fmt_scaled(agg.low, pd),
        "c": fmt_scaled(agg.close, pd),
        "b": fmt_scaled(agg.volume, sd),
        "q": fmt_scaled(agg.quote, pd + sd),
    }


def kline_push(ch: str, market: SymbolMarket, agg: Agg, ts: int) -> JsonObject:
    return {"ch": ch, "symbol": market.spec.symbol, "ts": ts, "data": agg_fields(market, agg)}


def depth_push(ch: str, market: SymbolMarket, levels: int, ts: int) -> JsonObject:
    bids, asks = book_levels(market, ts, levels)
    pd, sd = market.spec.price_decimals, market.spec.size_decimals
    return {"ch": ch, "symbol": market.spec.symbol, "ts": ts, "data": {
        "b": [[fmt_scaled(p, pd), fmt_scaled(s, sd)] for p, s in bids],
        "a": [[fmt_scaled(p, pd), fmt_scaled(s, sd)] for p, s in asks],
    }}


def empty_depth_push(ch: str, symbol: str | None, levels: int, ts: int) -> JsonObject:
    """What live sends once for an unknown symbol: every level ``["",""]``."""
    frame: JsonObject = {"ch": ch, "ts": ts,
                             "data": {"b": [["", ""]] * levels, "a": [["", ""]] * levels}}
    if symbol is not None:
        frame["symbol"] = symbol
    return frame


def ticker_push(market: SymbolMarket, agg: Agg, open_price: int, last: int,
                ts: int) -> JsonObject:
    pd = market.spec.price_decimals
    change = (Decimal(last - open_price) * 100 / Decimal(open_price)).quantize(
        Decimal("1e-10"), rounding=ROUND_HALF_EVEN)
    fields = agg_fields(market, agg)
    return {"ch": "ticker", "symbol": market.spec.symbol, "ts": ts, "data": {
        "s": market.spec.symbol,
        "o": fmt_scaled(open_price, pd),
        "la": fmt_scaled(last, pd),
        "h": fields["h"],
        "l": fields["l"],
        "b": fields["b"],
        "q": fields["q"],
        "r": format(change, "f"),
    }}


def trade_push(market: SymbolMarket, trades: list[Trade], ts: int) -> JsonObject:
    pd, sd = market.spec.price_decimals, market.spec.size_decimals
    return {"ch": "trade", "symbol": market.spec.symbol, "ts": ts, "data": [
        {"t": iso_ns(t.ms), "p": fmt_scaled(t.price, pd), "v": fmt_scaled(t.qty, sd),
         "s": "buy" if t.buy else "sell"} for t in trades
    ]}


def price_push(market: SymbolMarket, state: PriceState, ts: int) -> JsonObject:
    """The ``price`` channel: index, mark, the last settled rate (percent) and both times."""
    pd = market.spec.price_decimals
    return {"ch": "price", "symbol": market.spec.symbol, "ts": ts, "data": {
        "ip": fmt_scaled(state.index, pd),
        "mp": fmt_scaled(state.mark, pd),
        "fr": fmt_rate(state.last_rate),
        "ft": iso_s(state.last_ms),
        "nft": iso_s(state.next_ms),
    }}


def malformed(kind: str, ch: str, symbol: str, ts: int, oversized_bytes: int) -> str | bytes:
    """One deliberately broken frame of ``kind`` for a stream (``ch``, ``symbol``)."""
    depth = ch.startswith("depth_book")
    if kind == "invalid_json":
        return '{"ch":"' + ch + '","symbol":"' + symbol + '","data":{"o":"1",'
    if kind == "binary":
        return b"\x00\x01\x02\xff binary frame from the simulator"
    if kind == "missing_fields":
        data: Any = {"b": [["1", "1"]]} if depth else {"o": "1"}
        return dumps({"ch": ch, "symbol": symbol, "ts": ts, "data": data})
    if kind == "empty_prices":
        if depth:
            return dumps(empty_depth_push(ch, symbol, 1, ts))
        if ch == "trade":
            return dumps({"ch": ch, "symbol": symbol, "ts": ts,
                          "data": [{"t": "", "p": "", "v": "", "s": "buy"}]})
        return dumps({"ch": ch, "symbol": symbol, "ts": ts,
                      "data": {k: "" for k in ("o", "h", "l", "c", "b", "q", "la", "r")}})
    if kind == "wrong_types":
        if depth:
            data = {"b": [[1.5, None]], "a": "x"}
        elif ch == "trade":
            data = {"p": 1}
        else:
            data = {"o": 1.5, "h": None, "l": [], "c": {}, "b": True, "q": 2}
        return dumps({"ch": ch, "symbol": symbol, "ts": str(ts), "data": data})
    if kind == "oversized":
        pad = "x" * oversized_bytes
        return dumps({"ch": ch, "symbol": symbol, "ts": ts, "data": {"pad": pad}})
    raise ValueError(f"unknown malformed kind {kind!r}; one of {', '.join(MALFORMED_KINDS)}")
