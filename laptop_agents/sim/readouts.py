"""The simulated market read out as the client's own models (`Candle`, `Tick`, `Instrument`).

Tests compare what a client built from the wire against these: the ground truth.
"""

from __future__ import annotations

from decimal import Decimal

from laptop_agents.models import Candle, Instrument, MarkPrice, Tick
from laptop_agents.sim import frames, intervals
from laptop_agents.sim.contracts import SymbolSpec, fmt_scaled
from laptop_agents.sim.deep import DEEP_START_MS
from laptop_agents.sim.funding import price_state
from laptop_agents.sim.market import SymbolMarket
from laptop_agents.sim.records import Agg


def closed_candles(market: SymbolMarket, interval: str, now_ms: int, start_ms: int | None,
                   end_ms: int | None) -> list[Candle]:
    """Candles closed by ``now_ms`` with ``start_ms <= open_time < end_ms``, oldest first;
    without ``start_ms`` from the origin, else from the deep history too.

    ``interval`` in WebSocket (``1min``, ``1week``) or REST (``1m``, ``1w``) spelling.
    """
    name = intervals.canonical(interval)
    if name is None:
        raise KeyError(interval)
    lo = market.origin_ms if start_ms is None else max(start_ms, DEEP_START_MS)
    bucket = intervals.floor(name, lo)
    if bucket < lo:
        bucket = intervals.following(name, bucket)
    hi = now_ms if end_ms is None else min(end_ms, now_ms)
    out: list[Candle] = []
    while bucket < hi and (following := intervals.following(name, bucket)) <= now_ms:
        agg = market.span(bucket, following, following - 1)
        if agg is not None:
            out.append(_candle(market, name, bucket, agg))
        bucket = following
    return out


def _candle(market: SymbolMarket, interval: str, bucket: int, agg: Agg) -> Candle:
    f = frames.agg_fields(market, agg)
    return Candle(symbol=market.spec.symbol, interval=interval, open_time=bucket,
                  open=Decimal(f["o"]), high=Decimal(f["h"]), low=Decimal(f["l"]),
                  close=Decimal(f["c"]), volume=Decimal(f["b"]), quote_volume=Decimal(f["q"]))


def current_tick(market: SymbolMarket, now_ms: int) -> Tick:
    """The best bid/offer and last trade at ``now_ms``."""
    seg = market.bbo(now_ms)
    pd, sd = market.spec.price_decimals, market.spec.size_decimals
    last = market.last_trade(now_ms)
    return Tick(symbol=market.spec.symbol, bid=Decimal(fmt_scaled(seg.bid, pd)),
                ask=Decimal(fmt_scaled(seg.ask, pd)),
                bid_size=Decimal(fmt_scaled(seg.bid_size, sd)),
                ask_size=Decimal(fmt_scaled(seg.ask_size, sd)),
                last=Decimal(fmt_scaled(last.price, pd)), ts=now_ms)


def instrument(spec: SymbolSpec) -> Instrument:
    return Instrument(symbol=spec.symbol,
                      tick_size=Decimal(1).scaleb(-spec.price_decimals),
                      lot_step=Decimal(1).scaleb(-spec.size_decimals),
                      min_qty=Decimal(spec.min_trade_volume),
                      max_leverage=spec.max_leverage)


def mark_price(market: SymbolMarket, seed: int, interval_ms: int, now_ms: int) -> MarkPrice:
    """What the ``price`` channel says at ``now_ms``, as the client's model (rate a fraction)."""
    state = price_state(market, seed, interval_ms, now_ms)
    pd = market.spec.price_decimals
    return MarkPrice(symbol=market.spec.symbol, mark=Decimal(fmt_scaled(state.mark, pd)),
                     index=Decimal(fmt_scaled(state.index, pd)),
                     funding_rate=state.last_rate / 100, last_settlement_ms=state.last_ms,
                     next_settlement_ms=state.next_ms, ts=now_ms)
