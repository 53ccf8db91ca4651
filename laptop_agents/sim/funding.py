"""Mark price, index price and funding of a simulated contract: pure functions of the market
model, the seed and simulated time (so a restarted simulator on the same seed and origin shows
the same marks, index prices and rates at the same instants).

* **Mark** at ``t``: the volume-weighted mean price of the trades in ``[t - 60 s, t)`` (a
  smoothed last price, like the exchange's), rounded to the tick. For ``t`` on a whole minute
  that window is exactly the previous minute, whose aggregate the model keeps for ever; so a
  settlement's mark (settlements fall on whole minutes) can be read for any instant of the
  history, while other instants need the model's detailed last 15 minutes.
* **Index** at ``t``: the mark moved by a premium of a few basis points, drawn per minute from
  (seed, symbol, minute).
* **Funding**: settlement ``k`` happens at ``k * interval_ms`` since the epoch; its rate (in
  percent, as the wire sends it) depends only on (seed, symbol, k): a moving average of two
  hashed Gaussian shocks, so neighbouring rates are correlated yet the sign changes about
  every third settlement, clamped to -0.03 % .. +0.06 % around a +0.005 % base.
"""

from __future__ import annotations

import functools
import math
import random
from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

from laptop_agents.sim.market import SymbolMarket
from laptop_agents.sim.records import MINUTE_MS

MARK_WINDOW_MS = MINUTE_MS
INDEX_PREMIUM_SIGMA_BP = 2.0
INDEX_PREMIUM_MAX_BP = 5.0
RATE_BASE_PCT = 0.005
RATE_SCALE_PCT = 0.025
RATE_MIN_PCT = -0.03
RATE_MAX_PCT = 0.06
RATE_QUANTUM = Decimal("0.000001")  # percent: six decimals
_MA_TERMS = 2  # shocks averaged into one rate (neighbouring settlements share one)


def mark_ticks(market: SymbolMarket, t_ms: int) -> int:
    """The mark price at ``t_ms`` in ticks (the market must be advanced to ``t_ms``).

    Known for every whole minute of the history and for any instant of the last 15 minutes.
    """
    start = max(market.origin_ms, t_ms - MARK_WINDOW_MS)
    if t_ms % MINUTE_MS == 0 and start == t_ms - MINUTE_MS:
        agg = market.minute(start)
        if agg is not None:
            return _vwap(agg.quote, agg.volume)
    trades = market.trades(start - 1, t_ms - 1, 1 << 30)
    if not trades:  # the very first instant of the history: nothing traded before it
        return market.last_trade(t_ms).price
    return _vwap(sum(t.price * t.qty for t in trades), sum(t.qty for t in trades))


def _vwap(quote: int, volume: int) -> int:
    # Integer round-half-up of quote / volume: exact, so every caller gets the same tick.
    return (2 * quote + volume) // (2 * volume)


def index_ticks(market: SymbolMarket, seed: int, mark: int, t_ms: int) -> int:
    """The index price at ``t_ms`` in ticks, given the mark at that instant."""
    minute = t_ms // MINUTE_MS
    rng = random.Random(f"{seed}:{market.spec.symbol}:index:{minute}")
    premium_bp = max(-INDEX_PREMIUM_MAX_BP,
                     min(INDEX_PREMIUM_MAX_BP, rng.gauss(0.0, INDEX_PREMIUM_SIGMA_BP)))
    return mark + round(mark * premium_bp / 10_000.0)


@functools.lru_cache(maxsize=4096)
def _shock(seed: int, symbol: str, k: int) -> float:
    # A string seed is hashed with SHA-512 by `random`: stable across runs and platforms.
    return random.Random(f"{seed}:{symbol}:funding:{k}").gauss(0.0, 1.0)


@functools.lru_cache(maxsize=4096)
def funding_rate_pct(seed: int, symbol: str, k: int) -> Decimal:
    """The rate of settlement ``k`` in percent, quantized to six decimals."""
    z = sum(_shock(seed, symbol, k - j) for j in range(_MA_TERMS)) / math.sqrt(_MA_TERMS)
    pct = min(RATE_MAX_PCT, max(RATE_MIN_PCT, RATE_BASE_PCT + RATE_SCALE_PCT * z))
    rate = Decimal(pct).quantize(RATE_QUANTUM, rounding=ROUND_HALF_EVEN)
    return rate if rate != 0 else Decimal(0)  # never "-0" on the wire


def fmt_rate(rate: Decimal) -> str:
    """A percent rate as the exchange prints it: plain decimal, no trailing zeros."""
    return "0" if rate == 0 else format(rate.normalize(), "f")


def last_settlement_k(t_ms: int, interval_ms: int) -> int:
    """Index of the latest settlement at or before ``t_ms``."""
    return t_ms // interval_ms


def first_settlement_k(market: SymbolMarket, interval_ms: int) -> int:
    """Index of the first settlement whose whole mark window lies in the generated history."""
    return -(-(market.origin_ms + MARK_WINDOW_MS) // interval_ms)


@dataclass(frozen=True, slots=True)
class PriceState:
    """What the ``price`` channel and the funding endpoints say at one instant."""

    mark: int  # ticks
    index: int  # ticks
    last_rate: Decimal  # percent, the settlement at last_ms
    last_ms: int
    next_rate: Decimal  # percent, the settlement at next_ms (predicted = what will settle)
    next_ms: int


def price_state(market: SymbolMarket, seed: int, interval_ms: int, t_ms: int) -> PriceState:
    mark = mark_ticks(market, t_ms)
    k = last_settlement_k(t_ms, interval_ms)
    symbol = market.spec.symbol
    return PriceState(mark=mark, index=index_ticks(market, seed, mark, t_ms),
                      last_rate=funding_rate_pct(seed, symbol, k), last_ms=k * interval_ms,
                      next_rate=funding_rate_pct(seed, symbol, k + 1),
                      next_ms=(k + 1) * interval_ms)


@dataclass(frozen=True, slots=True)
class Settlement:
    ts: int  # ms
    rate: Decimal  # percent
    mark: int  # ticks


def settlements(market: SymbolMarket, seed: int, interval_ms: int, now_ms: int,
                start_ms: int | None, end_ms: int | None, limit: int) -> list[Settlement]:
    """Settlements with ``start_ms <= ts < end_ms`` and ``ts <= now_ms``, newest first, at most
    ``limit`` (the newest of the range), clipped to the generated history."""
    top = last_settlement_k(now_ms, interval_ms)
    if end_ms is not None:
        top = min(top, (end_ms - 1) // interval_ms)
    low = first_settlement_k(market, interval_ms)
    if start_ms is not None:
        low = max(low, -(-start_ms // interval_ms))
    symbol = market.spec.symbol
    return [Settlement(k * interval_ms, funding_rate_pct(seed, symbol, k),
                       mark_ticks(market, k * interval_ms))
            for k in range(top, max(low, top - limit + 1) - 1, -1)]
