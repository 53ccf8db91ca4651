"""The detailed model's random walk (sim/market.py): one second at a time, or whole minutes
straight into their aggregates; and the market factor's tape that every contract but the
factor leans on.

Per second: an own log return with a GARCH(1,1)-like variance and rare jumps, plus ``beta``
times the factor's return in that same second (``FactorTape``: BTCUSDT's unscripted walk from
the same seed and origin, recorded by a hidden market of its own). So any contract's path is a
function of (seed, origin, its symbol, time) whatever else is simulated, and two contracts'
returns correlate through the factor (``beta`` and ``idio`` per contract, sim/contracts.py).
"""

from __future__ import annotations

import math
import random
from array import array
from collections.abc import Callable
from dataclasses import dataclass

from laptop_agents.sim.deep import DeepMarket
from laptop_agents.sim.records import Agg, Segment, Step, Trade

TABLE = 1024  # quantiles per size table (a table lookup is far cheaper than a gauss draw)
ALPHA, BETA = 0.01, 0.989  # GARCH persistence 0.999 per second (half-life ~11 minutes)
JUMP_PROB, JUMP_SIGMA = 1.0 / 3600.0, 0.002


class FactorTape:
    """The factor's per-second log returns and variances from ``origin_ms`` on, generated on
    demand by ``source`` (the hidden factor market's ``advance``); ``deep`` is the factor's
    deep history. One tape serves every contract of a simulator."""

    def __init__(self, origin_ms: int, deep: DeepMarket, sigma2: float) -> None:
        self.first = origin_ms // 1000
        self.deep = deep
        self.sigma2 = sigma2  # the factor's base per-second variance
        self.eps = array("d")
        self.var = array("d")
        self.source: Callable[[int], None] | None = None

    def ensure(self, second: int) -> None:
        """Generate the factor through ``second``."""
        if second - self.first >= len(self.eps):
            assert self.source is not None, "a tape records a factor market"
            self.source(second * 1000)


@dataclass(slots=True)
class Walk:
    """One contract's walk: parameters and the state carried from second to second."""

    rng: random.Random
    tick: float  # price units per tick
    sigma2: float  # own base per-second variance
    trade_sizes: list[int]
    book_sizes: list[int]
    var: float
    mid: float
    extra_spread: float = 0.0
    beta: float = 0.0  # loading on ``factor``
    factor: FactorTape | None = None  # None for the factor itself
    record: FactorTape | None = None  # set on the hidden factor market: its returns go here

    def common(self, second: int) -> tuple[float, float]:
        """(beta x the factor's return, beta^2 x its variance) in ``second``."""
        factor = self.factor
        if factor is None:
            return 0.0, 0.0
        factor.ensure(second)
        i = second - factor.first
        return self.beta * factor.eps[i], self.beta * self.beta * factor.var[i]

    def base2(self) -> float:
        """The contract's total base per-second variance (own + beta^2 x the factor's)."""
        factor = self.factor
        shared = 0.0 if factor is None else self.beta * self.beta * factor.sigma2
        return self.sigma2 + shared


def random_step(w: Walk, second: int) -> Step:
    """The next second of the walk: its BBO and trades."""
    r = w.rng
    eps = r.gauss(0.0, math.sqrt(w.var))
    # The diffusion part feeds the GARCH recursion; a jump only scales variance once, so
    # one jump does not keep the market wild for an hour.
    w.var = w.sigma2 * (1 - ALPHA - BETA) + ALPHA * eps * eps + BETA * w.var
    if r.random() < JUMP_PROB:
        eps += r.gauss(0.0, JUMP_SIGMA)
        w.extra_spread = 5.0 + 20.0 * r.random()
        w.var *= 2.0
    w.var = min(max(w.var, w.sigma2 / 9.0), w.sigma2 * 16.0)
    if w.record is not None:
        w.record.eps.append(eps)
        w.record.var.append(w.var)
    shared, shared_var = w.common(second)
    eps += shared
    w.mid *= math.exp(eps)
    spread = 1 + int(w.extra_spread) + (1 if r.random() < 0.05 else 0)
    w.extra_spread *= 0.6
    bid = max(1, round(w.mid / w.tick - spread / 2.0))
    ask = bid + spread
    table = w.book_sizes
    bsz, asz = table[int(r.random() * TABLE)], table[int(r.random() * TABLE)]
    start = second * 1000
    step = Step(second, [Segment(start, bid, ask, bsz, asz)])
    # Busier when volatile (own or market-wide); a geometric count keeps it cheap, >= 1.
    base2 = w.base2()
    mean_extra = 1.5 * math.sqrt((w.var + shared_var) / base2)
    p = 1.0 / (1.0 + mean_extra)
    extra = int(math.log(1.0 - r.random()) / math.log(1.0 - p)) if p < 1.0 else 0
    rand = r.random
    offsets = [0, *sorted(1 + int(rand() * 999) for _ in range(min(extra, 40)))]
    up_bias = 0.5 + max(-0.3, min(0.3, eps / (4 * math.sqrt(base2))))
    sizes = w.trade_sizes
    for off in offsets:
        buy = r.random() < up_bias
        step.trades.append(Trade(start + off, ask if buy else bid,
                                 sizes[int(r.random() * TABLE)], buy))
    return step


def aggregate_minutes(w: Walk, first_second: int, count: int) -> list[Agg]:
    """``count`` whole minutes from ``first_second``, as aggregates only.

    The same draws in the same order and the same arithmetic as `random_step` (so the same
    market: tests/sim/test_history.py), but no Step, Segment or Trade objects.
    """
    rand, gauss, table, sizes = w.rng.random, w.rng.gauss, TABLE, w.trade_sizes
    sqrt, exp, log = math.sqrt, math.exp, math.log
    sigma2, alpha, beta, tick = w.sigma2, ALPHA, BETA, w.tick
    var, mid, extra_spread = w.var, w.mid, w.extra_spread
    base, floor, cap = sigma2 * (1 - alpha - beta), sigma2 / 9.0, sigma2 * 16.0
    base2 = w.base2()
    root2 = 4 * sqrt(base2)
    record, common = w.record, w.common
    out: list[Agg] = []
    for minute in range(count):
        high, low, volume, quote, price, opened = 0, 1 << 62, 0, 0, 0, 0
        for second in range(60):
            eps = gauss(0.0, sqrt(var))
            var = base + alpha * eps * eps + beta * var
            if rand() < JUMP_PROB:
                eps += gauss(0.0, JUMP_SIGMA)
                extra_spread = 5.0 + 20.0 * rand()
                var *= 2.0
            var = floor if var < floor else cap if var > cap else var
            if record is not None:
                record.eps.append(eps)
                record.var.append(var)
            shared, shared_var = common(first_second + 60 * minute + second)
            eps += shared
            mid *= exp(eps)
            spread = 1 + int(extra_spread) + (1 if rand() < 0.05 else 0)
            extra_spread *= 0.6
            bid = max(1, round(mid / tick - spread / 2.0))
            ask = bid + spread
            rand(), rand()  # the BBO sizes, in no aggregate
            p = 1.0 / (1.0 + 1.5 * sqrt((var + shared_var) / base2))
            extra = min(int(log(1.0 - rand()) / log(1.0 - p)) if p < 1.0 else 0, 40)
            for _ in range(extra):
                rand()  # the trades' offsets within the second: only their count matters
            up_bias = 0.5 + max(-0.3, min(0.3, eps / root2))
            for k in range(extra + 1):
                price = ask if rand() < up_bias else bid
                qty = sizes[int(rand() * table)]
                if second == 0 and k == 0:
                    opened = price
                high, low = max(high, price), min(low, price)
                volume += qty
                quote += price * qty
        out.append(Agg(opened, high, low, price, volume, quote))
    w.var, w.mid, w.extra_spread = var, mid, extra_spread
    return out
