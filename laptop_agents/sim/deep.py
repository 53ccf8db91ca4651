"""The deep history: any past minute of a simulated contract as a pure function of (seed,
symbol, time), from ``DEEP_START_MS`` on, independent of when a simulator starts.

Three levels, each pinned to the one above (sim/deep_paths.py does the path arithmetic):

* **days**: one log return per UTC day, walked forward from ``DEEP_START_MS`` with one
  ``random.Random`` per (seed, symbol): GARCH(1,1) variance (daily volatility clusters), a rare
  jump, and a slow pull towards the contract's centre price so that decades stay BTC-like.
  Memoised, so day ``d``'s open is the same whoever asks first;
* **hours**: a Brownian bridge between a day's open and the next day's open, with an intraday
  variance profile (busiest around 15:00 UTC), hour-level jumps and the day's jump in one
  hour; each hour's high, low, volume and turnover are drawn here, from a generator seeded by
  (seed, symbol, day);
* **minutes**: a bridge between an hour's ends, seeded by (seed, symbol, hour), bent so that
  its extremes are the hour's; volume and turnover split exactly.

So every candle of any interval is an exact aggregate of its minutes, while day candles need
only the hour level. Results are cached (LRU) per day and per hour.
"""

from __future__ import annotations

import math
import random
from collections import OrderedDict
from dataclasses import dataclass
from typing import Generic, TypeVar

from laptop_agents.sim import deep_paths as dp
from laptop_agents.sim.contracts import FACTOR_SYMBOL, SPECS, SymbolSpec
from laptop_agents.sim.records import HOUR_MS, MINUTE_MS, Agg

DAY_MS = 86_400_000
DEEP_START_MS = 946_684_800_000  # 2000-01-01T00:00:00Z: the first candle the deep model has
_DAY0 = DEEP_START_MS // DAY_MS

SIGMA_DAY = 0.03  # ~57 % a year, BTC-like
GARCH_ALPHA, GARCH_BETA = 0.08, 0.90  # daily persistence 0.98: calm and wild weeks
DAY_JUMP_PROB, DAY_JUMP_SIGMA = 0.02, 0.06  # a 6 % shock about every seven weeks
PULL_PER_DAY = 1.0 / 365.0  # log price reverts to the centre with a ~1 year time scale
HOUR_JUMP_PROB, HOUR_JUMP_SIGMA = 1.0 / 24.0, 0.006
MINUTE_JUMP_PROB, MINUTE_JUMP_SIGMA = 1.0 / 60.0, 0.002  # as the live model's hourly jump
VOLUME_PER_MINUTE = 10.0  # base units, as the live model trades (~10 BTC a minute)
_DAY_CACHE, _HOUR_CACHE, _AGG_CACHE = 256, 512, 1 << 15


@dataclass(frozen=True, slots=True)
class DayPath:
    """One day's 24 hours: their path (log prices), their candles and each hour's own
    (idiosyncratic) share of its variance, which the hour's minutes split."""

    hours: list[dp.Span]
    aggs: list[Agg]
    idio: list[float]


@dataclass(frozen=True, slots=True)
class HourPath:
    """One hour's 61 minute points (log prices; point k opens minute k) and 60 candles."""

    points: list[float]
    variances: list[float]
    aggs: list[Agg]


_K = TypeVar("_K")
_V = TypeVar("_V")


class _Lru(Generic[_K, _V]):
    """A small least-recently-used cache."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: OrderedDict[_K, _V] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: _K, value: _V) -> _V:
        self._items[key] = value
        if len(self._items) > self._size:
            self._items.popitem(last=False)
        return value


class DeepMarket:
    """One contract's deep history for one seed.

    The market factor's (BTCUSDT's, ``spec.is_factor``) is self-contained. Any other leans on
    the factor's (``factor``; built here when not given, so the same seed gives the same path
    whatever else is simulated; a simulator shares one): its daily shocks add ``beta`` times
    the factor's, and its hour and minute paths add ``beta`` times the factor's excursion
    from a straight line (zero at both ends, so the pinning to the level above still holds).
    """

    def __init__(self, spec: SymbolSpec, seed: int, factor: DeepMarket | None = None) -> None:
        self.spec = spec
        self.seed = seed
        self.factor = None if spec.is_factor else (
            factor if factor is not None else DeepMarket(SPECS[FACTOR_SYMBOL], seed))
        # The factor's own walk is all "idiosyncratic": beta 0, idio 1 (so its arithmetic,
        # and hence BTCUSDT's path, is exactly what it was before other contracts leaned on it).
        self._beta = 0.0 if self.factor is None else spec.beta
        self._idio = 1.0 if self.factor is None else spec.idio
        self._per_unit = 10.0**spec.price_decimals  # ticks per unit of price
        self._lot = 10**spec.size_decimals * spec.units
        self._walk_rng = random.Random(f"{seed}:{spec.symbol}:deep-days")
        self._centre = math.log(spec.start_price) + self._walk_rng.gauss(0.0, 0.05)
        stationary = SIGMA_DAY / math.sqrt(2.0 * PULL_PER_DAY)
        level = self._centre + self._walk_rng.gauss(0.0, stationary * self._idio)
        if self.factor is not None:  # start where the factor's excursion puts it
            level += self._beta * (self.factor.walk_level(_DAY0) - self.factor.centre)
        self._state = (level, (SIGMA_DAY * self._idio) ** 2)
        # per day: (open, own variance, own jump, own shock + jump before the pull)
        self._walk: list[tuple[float, float, float, float]] = []
        self._days: _Lru[int, DayPath] = _Lru(_DAY_CACHE)
        self._hours: _Lru[int, HourPath] = _Lru(_HOUR_CACHE)
        self._day_aggs: _Lru[int, Agg] = _Lru(_AGG_CACHE)

    # --- the daily walk -------------------------------------------------------------------
    @property
    def centre(self) -> float:
        return self._centre

    def walk_level(self, day: int) -> float:
        """The log open of epoch day ``day``."""
        return self._day(day)[0]

    def _day(self, day: int) -> tuple[float, float, float, float]:
        """(open, close, own variance, own jump) of epoch day ``day`` (not before
        DEEP_START_MS)."""
        need = day - _DAY0 + 2
        gauss, rand = self._walk_rng.gauss, self._walk_rng.random
        sigma2 = (SIGMA_DAY * self._idio) ** 2
        base = sigma2 * (1.0 - GARCH_ALPHA - GARCH_BETA)
        while len(self._walk) < need:
            level, var = self._state
            z, u, size = gauss(0.0, 1.0), rand(), gauss(0.0, DAY_JUMP_SIGMA)
            jump = size if u < DAY_JUMP_PROB else 0.0
            shock = math.sqrt(var) * z
            self._walk.append((level, var, jump, shock + jump))
            # beta x the factor's own shock (not its pull): both excursions then revert at
            # the same rate, so this one stays beta x the factor's plus its own.
            common = 0.0 if self.factor is None else \
                self._beta * self.factor.raw_move(_DAY0 + len(self._walk) - 1)
            level += shock + jump + common - PULL_PER_DAY * (level - self._centre)
            var = base + GARCH_ALPHA * shock * shock + GARCH_BETA * var
            self._state = (level, min(max(var, sigma2 / 9.0), sigma2 * 16.0))
        level, var, jump, _ = self._walk[day - _DAY0]
        return level, self._walk[day - _DAY0 + 1][0], var, jump

    def raw_move(self, day: int) -> float:
        """Day ``day``'s own shock plus jump (its log return before the pull)."""
        self._day(day)
        return self._walk[day - _DAY0][3]

    # --- a day's hours --------------------------------------------------------------------
    def day_path(self, day: int) -> DayPath:
        cached = self._days.get(day)
        if cached is not None:
            return cached
        start, end, var, jump = self._day(day)
        rng = random.Random(f"{self.seed}:{self.spec.symbol}:deep-day:{day}")
        gauss = rng.gauss
        profile = [(1.0 + 0.5 * math.cos(2.0 * math.pi * (h - 15) / 24.0))
                   * math.exp(0.35 * gauss(0.0, 1.0)) for h in range(24)]
        scale = var / sum(profile)
        variances = [p * scale for p in profile]
        kick = (int(rng.random() * 24), jump)
        own = dp.bridge(rng, start, end, variances, HOUR_JUMP_PROB, HOUR_JUMP_SIGMA, kick)
        if self.factor is None:
            points, totals = own, variances
        else:
            shape = self.factor.day_path(day)
            points = dp.lean(own, [s.open for s in shape.hours] + [shape.hours[-1].close],
                             self._beta)
            totals = [v + self._beta**2 * s.var for v, s in zip(variances, shape.hours,
                                                                  strict=True)]
        hours: list[dp.Span] = []
        aggs: list[Agg] = []
        ref = SIGMA_DAY**2 / 24.0 * (self._beta**2 + self._idio**2)
        for h in range(24):
            a, b, v = points[h], points[h + 1], totals[h]
            high, low = dp.extremes(rng, a, b, v)
            hours.append(dp.Span(a, high, low, b, v))
            volume = max(600, round(VOLUME_PER_MINUTE * 60.0 * self._lot * (v / ref) ** 0.4
                                    * math.exp(0.25 * gauss(0.0, 1.0))))
            aggs.append(self._hour_agg(hours[-1], volume))
        return self._days.put(day, DayPath(hours, aggs, variances))

    def _hour_agg(self, span: dp.Span, volume: int) -> Agg:
        o, c = dp.to_ticks(span.open, self._per_unit), dp.to_ticks(span.close, self._per_unit)
        h, lw = dp.to_ticks(span.high, self._per_unit), dp.to_ticks(span.low, self._per_unit)
        # Turnover at the mean of the hour's open and close (where a bridge spends its time on
        # average), kept a tick inside its range when it has one,
        # so the minutes can always reach it (dp.shift_volume).
        typical = round((o + c) / 2.0)
        if h - lw >= 2:
            typical = min(h - 1, max(lw + 1, typical))
        return Agg(o, h, lw, c, volume, volume * typical)

    def day_agg(self, day: int) -> Agg:
        cached = self._day_aggs.get(day)
        if cached is not None:
            return cached
        aggs = self.day_path(day).aggs
        agg = aggs[0].copy()
        for part in aggs[1:]:
            agg.merge(part)
        return self._day_aggs.put(day, agg)

    # --- an hour's minutes ----------------------------------------------------------------
    def hour_path(self, hour_ms: int) -> HourPath:
        hour = hour_ms // HOUR_MS
        cached = self._hours.get(hour)
        if cached is not None:
            return cached
        day = self.day_path(hour_ms // DAY_MS)
        index = hour % 24
        span, total = day.hours[index], day.aggs[index]
        rng = random.Random(f"{self.seed}:{self.spec.symbol}:deep-hour:{hour}")
        weights = [math.exp(0.5 * rng.gauss(0.0, 1.0)) for _ in range(60)]
        scale = day.idio[index] / sum(weights)  # the factor's own minutes add the rest
        variances = [w * scale for w in weights]
        points = dp.bridge(rng, span.open, span.close, variances, MINUTE_JUMP_PROB,
                           MINUTE_JUMP_SIGMA)
        if self.factor is not None:
            shape = self.factor.hour_path(hour_ms)
            points = dp.lean(points, shape.points, self._beta)
            variances = [v + self._beta**2 * f for v, f in zip(variances, shape.variances,
                                                                strict=True)]
        highs, lows = zip(*(dp.extremes(rng, points[k], points[k + 1], variances[k])
                            for k in range(60)), strict=True)
        points, bent_highs, bent_lows = _bend_to(span, points, list(highs), list(lows))
        noise = [math.sqrt(v) * math.exp(0.3 * rng.gauss(0.0, 1.0)) for v in variances]
        aggs = self._minute_aggs(points, bent_highs, bent_lows, total, noise)
        return self._hours.put(hour, HourPath(points, variances, aggs))

    def _minute_aggs(self, points: list[float], highs: list[float], lows: list[float],
                     total: Agg, weights: list[float]) -> list[Agg]:
        per = self._per_unit
        ticks = [dp.to_ticks(p, per) for p in points]
        his = [dp.to_ticks(x, per) for x in highs]
        los = [dp.to_ticks(x, per) for x in lows]
        # Each minute's volume leans towards the minutes priced near the hour's turnover
        # price, so the hour's turnover splits into minutes that trade within their ranges.
        mids = [(los[k] + his[k]) / 2.0 for k in range(60)]
        weights = dp.tilt(weights, mids, total.quote / total.volume)
        vols = dp.partition(total.volume, weights, floor=1)
        quotes = dp.split_quote(total.quote, vols, los, his)
        if quotes is None:
            dp.shift_volume(total.quote, vols, los, his)
            quotes = dp.split_quote(total.quote, vols, los, his)
        assert quotes is not None, "the hour's turnover lies within its range"
        return [Agg(ticks[k], his[k], los[k], ticks[k + 1], vols[k], quotes[k])
                for k in range(60)]

    # --- queries --------------------------------------------------------------------------
    def minute(self, minute_ms: int) -> Agg:
        """The candle of the minute starting at ``minute_ms`` (>= DEEP_START_MS)."""
        hour_ms = minute_ms // HOUR_MS * HOUR_MS
        return self.hour_path(hour_ms).aggs[(minute_ms - hour_ms) // MINUTE_MS]

    def log_price(self, minute_ms: int) -> float:
        """The path's log price at the whole minute ``minute_ms``: that minute's open."""
        hour_ms = minute_ms // HOUR_MS * HOUR_MS
        return self.hour_path(hour_ms).points[(minute_ms - hour_ms) // MINUTE_MS]

    def minute_variance(self, minute_ms: int) -> float:
        """The diffusive log-return variance of the minute starting at ``minute_ms``."""
        hour_ms = minute_ms // HOUR_MS * HOUR_MS
        return self.hour_path(hour_ms).variances[(minute_ms - hour_ms) // MINUTE_MS]

    def span(self, start: int, end: int) -> Agg | None:
        """The aggregate of the whole minutes in ``[start, end)``, clipped to DEEP_START_MS;
        whole days and hours come from their own aggregates (the same sums, far cheaper)."""
        t = max(start, DEEP_START_MS)
        agg: Agg | None = None
        while t < end:
            if t % DAY_MS == 0 and t + DAY_MS <= end:
                part, t = self.day_agg(t // DAY_MS), t + DAY_MS
            elif t % HOUR_MS == 0 and t + HOUR_MS <= end:
                part, t = self.day_path(t // DAY_MS).aggs[t // HOUR_MS % 24], t + HOUR_MS
            else:
                part, t = self.minute(t), t + MINUTE_MS
            if agg is None:
                agg = part.copy()
            else:
                agg.merge(part)
        return agg


def _bend_to(span: dp.Span, points: list[float], highs: list[float], lows: list[float]
             ) -> tuple[list[float], list[float], list[float]]:
    """The minute path bent so that its highest high is the hour's high and its lowest low
    the hour's low exactly (both ends stay put)."""
    top, bottom = max(span.open, span.close), min(span.open, span.close)
    k_hi = max(range(60), key=highs.__getitem__)
    k_lo = min(range(60), key=lows.__getitem__)
    up = (span.high - top) / (highs[k_hi] - top) if highs[k_hi] > top else 0.0
    down = (bottom - span.low) / (bottom - lows[k_lo]) if lows[k_lo] < bottom else 0.0

    def bent(x: float) -> float:
        return min(span.high, max(span.low, dp.bend(x, top, bottom, up, down)))

    new_points = [bent(p) for p in points]
    new_points[0], new_points[-1] = span.open, span.close
    new_highs = [bent(x) for x in highs]
    new_lows = [bent(x) for x in lows]
    new_highs[k_hi], new_lows[k_lo] = span.high, span.low
    return new_points, new_highs, new_lows
