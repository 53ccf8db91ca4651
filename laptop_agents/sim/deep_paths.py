"""Pure path pieces of the deep history (sim/deep.py): a day's hours and an hour's minutes.

Everything works on natural-log prices. A day is pinned at both ends by the daily walk; its 24
hours are a Brownian bridge between those anchors, and each hour's 60 minutes are a bridge
between that hour's ends. Extremes are drawn top-down: an hour's high and low come from the
day's draw, and the hour's minute path is then bent monotonically so that its highest minute
high and lowest minute low are exactly those. So an hour is always the aggregate of its
minutes and a day of its hours, while a day needs only 24 hour draws, not 1440 minute ones:
that is what makes 200 months of day candles affordable in pure Python.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    """One hour (or minute) of a path in log prices, and the diffusive variance over it."""

    open: float
    high: float
    low: float
    close: float
    var: float


def bridge(rng: random.Random, start: float, end: float, variances: list[float],
           jump_prob: float, jump_sigma: float, kick: tuple[int, float] = (0, 0.0)
           ) -> list[float]:
    """Points 0..n from ``start`` to ``end``: Gaussian steps (and rare jumps, and ``kick`` =
    (step, size) added to one step) pinned to ``end`` in proportion to each step's variance."""
    walk, cum = 0.0, 0.0
    walks, cums = [0.0], [0.0]
    gauss, rand, sqrt = rng.gauss, rng.random, math.sqrt
    for k, v in enumerate(variances):
        x = gauss(0.0, sqrt(v))
        if rand() < jump_prob:
            x += gauss(0.0, jump_sigma)
        if k == kick[0]:
            x += kick[1]
        walk += x
        cum += v
        walks.append(walk)
        cums.append(cum)
    gap = end - start - walk
    points = [start + w + gap * c / cum for w, c in zip(walks, cums, strict=True)]
    points[-1] = end  # exactly: the next piece starts from it
    return points


def lean(points: list[float], factor: list[float], beta: float) -> list[float]:
    """``points`` plus ``beta`` times the factor path's excursion from the straight line
    between its ends: its moves are shared, the ends of ``points`` stay exactly put."""
    n = len(points) - 1
    f0, step = factor[0], (factor[-1] - factor[0]) / n
    out = [p + beta * (f - (f0 + step * k))
           for k, (p, f) in enumerate(zip(points, factor, strict=True))]
    out[0], out[-1] = points[0], points[-1]
    return out


def extremes(rng: random.Random, a: float, b: float, var: float) -> tuple[float, float]:
    """High and low of a Brownian bridge from ``a`` to ``b`` with variance ``var`` (the exact
    law of each: P(max > m) = exp(-2 (m - a)(m - b) / var), drawn independently)."""
    d2 = (b - a) * (b - a)
    rand, log, sqrt = rng.random, math.log, math.sqrt
    high = (a + b + sqrt(d2 - 2.0 * var * log(1.0 - rand()))) / 2.0
    low = (a + b - sqrt(d2 - 2.0 * var * log(1.0 - rand()))) / 2.0
    return high, low


def partition(total: int, weights: list[float], floor: int = 0) -> list[int]:
    """Integers >= ``floor`` summing exactly to ``total``, in proportion to ``weights``."""
    n = len(weights)
    rest = total - floor * n
    scale = rest / sum(weights)
    out: list[int] = []
    acc, prev = 0.0, 0
    for w in weights:
        acc += w
        cur = min(rest, int(acc * scale))
        out.append(floor + cur - prev)
        prev = cur
    out[-1] += rest - prev
    return out


def split_quote(total: int, vols: list[int], lows: list[int], highs: list[int]
                ) -> list[int] | None:
    """Integer turnovers summing exactly to ``total``, each within ``vol * [low, high]``: every
    part sits at the same fraction of its own range. None when ``total`` is out of reach."""
    lo = sum(v * lw for v, lw in zip(vols, lows, strict=True))
    hi = sum(v * h for v, h in zip(vols, highs, strict=True))
    if not lo <= total <= hi:
        return None
    width, extra = hi - lo, total - lo
    out: list[int] = []
    cum, prev = 0, 0
    for v, lw, h in zip(vols, lows, highs, strict=True):
        cum += v * (h - lw)
        cur = extra * cum // width if width else 0
        out.append(v * lw + cur - prev)
        prev = cur
    return out


def shift_volume(total: int, vols: list[int], lows: list[int], highs: list[int]) -> None:
    """Move volume (in place, each part keeping >= 1) towards the minute with the highest high
    (or lowest low) until ``total`` is reachable by split_quote. Rare: only when the hour's
    turnover lies beyond what its minutes' volume-weighted ranges allow."""
    up = total > sum(v * h for v, h in zip(vols, highs, strict=True))
    prices = highs if up else lows
    target = max(range(len(vols)), key=prices.__getitem__) if up else \
        min(range(len(vols)), key=prices.__getitem__)
    for k in sorted(range(len(vols)), key=prices.__getitem__, reverse=not up):
        reach = sum(v * p for v, p in zip(vols, prices, strict=True))
        need = total - reach if up else reach - total
        gain = abs(prices[target] - prices[k])
        if need <= 0:
            return
        if k == target or gain == 0:
            continue
        moved = min(vols[k] - 1, -(-need // gain))
        vols[k] -= moved
        vols[target] += moved


def bend(x: float, top: float, bottom: float, up: float, down: float) -> float:
    """The monotone map that stretches a path's excursions above ``top`` by ``up`` and below
    ``bottom`` by ``down``, leaving [bottom, top] (its two ends) in place."""
    if x > top:
        return top + (x - top) * up
    if x < bottom:
        return bottom - (bottom - x) * down
    return x


def to_ticks(log_price: float, per_unit: float) -> int:
    """A log price as whole ticks (``per_unit`` = ticks per unit of price), at least one."""
    return max(1, round(math.exp(log_price) * per_unit))


def tilt(weights: list[float], prices: list[float], target: float) -> list[float]:
    """``weights`` tilted exponentially towards higher or lower ``prices`` so that their
    weighted mean is ``target`` (the weights unchanged when no tilt can reach it)."""
    lowest, highest = min(prices), max(prices)
    if not lowest < target < highest:
        return weights
    scale = 1.0 / (highest - lowest)
    z = [(p - target) * scale for p in prices]
    exp = math.exp
    lo, hi = -60.0, 60.0
    for _ in range(50):  # bisection: the weighted mean of z grows with the tilt
        mid = (lo + hi) / 2.0
        if sum(w * exp(mid * d) * d for w, d in zip(weights, z, strict=True)) > 0.0:
            hi = mid
        else:
            lo = mid
    lam = (lo + hi) / 2.0
    return [w * exp(lam * d) for w, d in zip(weights, z, strict=True)]
