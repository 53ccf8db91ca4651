"""Builders of candles, ticks, intents and settings for the trading-core tests."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from laptop_agents.config import Settings
from laptop_agents.models import DEFAULT_BTCUSDT, Candle, Instrument, Side, Tick
from laptop_agents.strategy.base import OrderIntent, PositionView, StrategyContext

D = Decimal
INSTRUMENT: Instrument = DEFAULT_BTCUSDT
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, a minute (and day) boundary
MIN = 60_000


def settings(**overrides: Any) -> Settings:
    return Settings(**overrides)


def candle(i: int, o: Any, h: Any, lo: Any, c: Any, v: Any = 10, t0: int = T0) -> Candle:
    return Candle("BTCUSDT", "1min", t0 + i * MIN, D(str(o)), D(str(h)), D(str(lo)), D(str(c)),
                  D(str(v)), D(str(c)) * D(str(v)))


def series(closes: list[Any], spread: Any = 15, volume: Any = 10) -> list[Candle]:
    """Candles opening at the previous close, with high/low ``spread`` around the close."""
    out = []
    prev = D(str(closes[0]))
    for i, c in enumerate(closes):
        close = D(str(c))
        sp = D(str(spread))
        out.append(candle(i, prev, max(prev, close) + sp, min(prev, close) - sp, close, volume))
        prev = close
    return out


def tick(bid: Any, ask: Any = None, ts: int = T0, symbol: str = "BTCUSDT") -> Tick:
    b = D(str(bid))
    a = D(str(ask)) if ask is not None else b + D("0.1")
    return Tick(symbol, b, a, D(1), D(1), b, ts)


def intent(side: Side = Side.LONG, order_type: str = "market", qty: Any = "0.1",
           entry: Any = 50000, stop: Any = None, target: Any = None, atr: Any = 50,
           setup: str = "test") -> OrderIntent:
    e = D(str(entry))
    sign = 1 if side is Side.LONG else -1
    s = D(str(stop)) if stop is not None else e - sign * 100
    t = D(str(target)) if target is not None else e + sign * 200
    return OrderIntent(side, order_type, D(str(qty)), e, s, t, setup,  # type: ignore[arg-type]
                       "test intent", D(str(atr)))


def context(candles: list[Candle], *, equity: Any = 10000, position: PositionView | None = None,
            since_exit: int | None = None, working: bool = False) -> StrategyContext:
    return StrategyContext(tuple(candles), position, D(str(equity)), INSTRUMENT, since_exit,
                           working)
