"""The simulator's deterministic market model: a pure function of (seed, origin, simulated time).

Before ``origin_ms`` it is the deep history (sim/deep.py: a function of seed and time alone).
From the origin it is generated sequentially in one-second steps of simulated time, starting
at the deep history's price there. Nothing here reads a clock: callers ``advance(t_ms)`` to
the simulated instant they observe and then query it, so the data depend only on the seed,
the origin and the instants asked about — never on wall timing, push timing or who is
connected. Scripted prices (:meth:`SymbolMarket.script`) are the one deliberate exception;
they change the future from the moment they are applied, deterministically for the same
script at the same simulated time. Prices are integers in ticks, sizes integers in lot steps
(records in :mod:`.records`, contracts and number formats in :mod:`.contracts`).

Per step (one simulated second):

* volatility follows a GARCH(1,1)-like recursion on the per-second log return, so quiet and
  busy stretches cluster; a Poisson jump (about one an hour) moves the price by a few
  tenths of a percent, raises the variance and widens the spread for a few seconds;
* the spread is one tick most of the time;
* every second has at least one trade at its start (so a candle's open is known from the
  first instant of its bucket), more when volatile; buys lift the ask, sells hit the bid.
"""

from __future__ import annotations

import math
import random
import statistics
from collections.abc import Iterable

from laptop_agents.sim.book import book_levels as book_levels  # re-exported
from laptop_agents.sim.contracts import FACTOR_SYMBOL, SPECS, SymbolSpec
from laptop_agents.sim.deep import DEEP_START_MS, DeepMarket
from laptop_agents.sim.records import HOUR_MS, MINUTE_MS, Agg, Segment, Step, Trade, aggregate
from laptop_agents.sim.walk import TABLE, FactorTape, Walk, aggregate_minutes, random_step

# Steps kept in detail (for trade pushes and the running minute); older ones survive only as
# per-minute aggregates, which is all REST and candles need.
_DETAIL_SECONDS = 900


class SymbolMarket:
    """One contract's simulated market: the deep history (sim/deep.py) before ``origin_ms``
    (a whole minute), the detailed one-second model from it on, joined without a seam.

    Any contract but the factor (BTCUSDT) leans on the market factor's ``factor`` tape
    (sim/walk.py); without one it builds its own, so its path never depends on which other
    contracts are simulated; a simulator passes one shared tape (:func:`factor_tape`).
    """

    # Per-minute sigma ~0.07 % (the factor's; a contract's own noise is ``idio`` x this).
    SIGMA_MINUTE = 0.0007

    def __init__(self, spec: SymbolSpec, seed: int, origin_ms: int,
                 factor: FactorTape | None = None) -> None:
        if origin_ms % MINUTE_MS:
            raise ValueError("origin_ms must be a whole minute")
        self.spec = spec
        self.origin_ms = origin_ms
        if not spec.is_factor and factor is None:
            factor = factor_tape(seed, origin_ms)
        tick = 10.0**-spec.price_decimals
        lot = 10**spec.size_decimals * spec.units
        # Log-normal size distributions as quantile tables: trades median ~0.03 BTC worth with
        # a fat right tail, resting BBO sizes median ~1.3 BTC worth.
        normal = statistics.NormalDist()
        quantiles = [normal.inv_cdf((i + 0.5) / TABLE) for i in range(TABLE)]
        trade_sizes = [max(1, int(lot * 0.03 * math.exp(1.2 * z))) for z in quantiles]
        self.book_sizes = [max(1, int(lot * 1.3 * math.exp(0.9 * z))) for z in quantiles]
        own = 1.0 if factor is None else spec.idio
        sigma2 = (own * self.SIGMA_MINUTE / math.sqrt(60.0)) ** 2
        # The detailed model starts where the deep history is at the origin: its price and
        # its volatility there (the own share of it), so the first live minute continues
        # the last deep one.
        self.deep = DeepMarket(spec, seed, None if factor is None else factor.deep)
        joint = max(origin_ms, DEEP_START_MS)
        share = 1.0 if factor is None else own**2 / (own**2 + spec.beta**2)
        var = min(max(self.deep.minute_variance(joint) / 60.0 * share, sigma2 / 9.0),
                  sigma2 * 16.0)
        # A string seed is hashed with SHA-512 by `random`, so it is stable across runs.
        self._walk = Walk(random.Random(f"{seed}:{spec.symbol}"), tick, sigma2, trade_sizes,
                          self.book_sizes, var, math.exp(self.deep.log_price(joint)),
                          beta=0.0 if factor is None else spec.beta, factor=factor)
        self._steps: dict[int, Step] = {}
        self._next_second = origin_ms // 1000
        self._minutes: list[Agg] = []  # finished minutes, index = (start - origin) // 60000
        self._script: list[tuple[int, int, int]] = []  # (ms, bid, ask) still to apply
        self._pinned: tuple[int, int] | None = None  # scripted (bid, ask) holding the price
        self._release_ms = 0  # the walk resumes at the first whole second from here
        self._cache_key: tuple[int, int, int] | None = None
        self._cache_val: Agg | None = None

    # --- generation -----------------------------------------------------------------------
    @property
    def generated_until_ms(self) -> int:
        """Exclusive end of the generated steps."""
        return self._next_second * 1000

    def advance(self, t_ms: int) -> None:
        """Generate every step up to and including the one containing ``t_ms``."""
        last = t_ms // 1000
        if self._walk.factor is not None:
            # The factor first, in one go: its own fast path then covers the history too.
            self._walk.factor.ensure(last)
        # Whole minutes that end before the detailed window are only ever read as minute
        # aggregates: those skip building steps and trades (start-up's 1000 minutes of
        # history). A script in progress needs the step-by-step path.
        if not self._script and self._pinned is None and self._next_second % 60 == 0:
            whole = (last - _DETAIL_SECONDS + 1 - self._next_second) // 60
            if whole > 0:
                self._minutes.extend(aggregate_minutes(self._walk, self._next_second, whole))
                self._next_second += 60 * whole
        while self._next_second <= last:
            self._generate(self._next_second)
            self._next_second += 1

    def _generate(self, second: int) -> None:
        start = second * 1000
        points = [p for p in self._script if start <= p[0] < start + 1000]
        if self._pinned is not None and not self._script and start >= self._release_ms:
            # The script is done: the random walk continues from the scripted level.
            bid, ask = self._pinned
            self._walk.mid = (bid + ask) / 2.0 * self._walk.tick
            self._walk.extra_spread = float(max(0, ask - bid - 1))
            self._pinned = None
        if points or self._pinned is not None:
            step = self._pinned_step(second, points)
        else:
            step = random_step(self._walk, second)
        self._store(step)

    def _sizes(self) -> tuple[int, int]:
        r, table = self._walk.rng.random, self.book_sizes
        return table[int(r() * TABLE)], table[int(r() * TABLE)]

    def _trade_qty(self) -> int:
        return self._walk.trade_sizes[int(self._walk.rng.random() * TABLE)]

    def _pinned_step(self, second: int, points: list[tuple[int, int, int]]) -> Step:
        start = second * 1000
        bid, ask = self._pinned if self._pinned is not None else self._last_bbo()
        bsz, asz = self._sizes()
        step = Step(second, [Segment(start, bid, ask, bsz, asz)])
        step.trades.append(Trade(start, ask, self._trade_qty(), True))
        self._apply_points(step, points, bid)
        return step

    def _apply_points(self, step: Step, points: list[tuple[int, int, int]], prev_bid: int) -> None:
        for ms, bid, ask in points:
            bsz, asz = self._sizes()
            step.segments.append(Segment(ms, bid, ask, bsz, asz))
            up = bid >= prev_bid
            if step.trades and step.trades[-1].ms == ms:
                step.trades.pop()
            step.trades.append(Trade(ms, ask if up else bid, self._trade_qty(), up))
            prev_bid = bid
            self._script.remove((ms, bid, ask))
            self._pinned = (bid, ask)

    def _store(self, step: Step) -> None:
        minute_start = step.second * 1000 // MINUTE_MS * MINUTE_MS
        finished = (minute_start - self.origin_ms) // MINUTE_MS  # minutes before this one
        if step.second * 1000 == minute_start and len(self._minutes) < finished:
            self._finish_minute(minute_start - MINUTE_MS)  # unless aggregate_minutes did
        self._steps[step.second] = step
        self._steps.pop(step.second - _DETAIL_SECONDS, None)

    def _finish_minute(self, minute_start: int) -> None:
        first = minute_start // 1000
        agg = aggregate(t for s in range(first, first + 60) for t in self._steps[s].trades)
        assert agg is not None  # every step has a trade at its start
        self._minutes.append(agg)

    def _last_bbo(self) -> tuple[int, int]:
        seg = self._steps[self._next_second - 1].segments[-1]
        return seg.bid, seg.ask

    # --- scripting ------------------------------------------------------------------------
    def script(self, now_ms: int, bid: int, ask: int, pushes: int, push_sim_ms: int) -> None:
        """Move the BBO linearly to (bid, ask) over ``pushes`` points ``push_sim_ms`` apart.

        The first point takes effect at ``now_ms``; each level holds for ``push_sim_ms`` (so a
        push on that cadence sees every level, the last one included) and then the random walk
        continues from (bid, ask). Trades generated for the current second after ``now_ms``
        (never observed yet) are discarded and replaced by the scripted path.
        """
        if ask <= bid or bid <= 0:
            raise ValueError("need 0 < bid < ask")
        self.advance(now_ms)
        self._cache_key = None
        step = self._steps[now_ms // 1000]
        cur = step.bbo_at(now_ms)
        step.trades = [t for t in step.trades if t.ms <= now_ms]
        step.segments = [s for s in step.segments if s.ms <= now_ms]
        pushes = max(1, pushes)
        gap = max(1, push_sim_ms)
        self._script = []
        for k in range(pushes):
            frac = (k + 1) / pushes
            b = round(cur.bid + (bid - cur.bid) * frac)
            a = round(cur.ask + (ask - cur.ask) * frac)
            a = max(a, b + 1)
            self._script.append((now_ms + k * gap, b, a))
        self._script[-1] = (self._script[-1][0], bid, ask)
        self._release_ms = now_ms + pushes * gap
        self._pinned = (cur.bid, cur.ask)
        end = step.second * 1000 + 1000
        self._apply_points(step, [p for p in self._script if p[0] < end], cur.bid)

    # --- queries (t_ms must not be later than the last advance) ---------------------------
    def bbo(self, t_ms: int) -> Segment:
        return self._steps[t_ms // 1000].bbo_at(t_ms)

    def last_trade(self, t_ms: int) -> Trade:
        second = t_ms // 1000
        while True:
            trades = [t for t in self._steps[second].trades if t.ms <= t_ms]
            if trades:
                return trades[-1]
            second -= 1

    def trades(self, after_ms: int, upto_ms: int, limit: int) -> list[Trade]:
        """Trades with ``after_ms < ms <= upto_ms`` (only the detailed window), newest ``limit``."""
        out: list[Trade] = []
        first = max(after_ms // 1000, min(self._steps))
        for second in range(first, upto_ms // 1000 + 1):
            step = self._steps.get(second)
            if step is not None:
                out.extend(t for t in step.trades if after_ms < t.ms <= upto_ms)
        return out[-limit:]

    def minute(self, minute_start: int) -> Agg | None:
        """A finished minute's aggregate: the deep history's before the origin; None before
        DEEP_START_MS or when not finished."""
        if minute_start < self.origin_ms:
            return self.deep.minute(minute_start) if minute_start >= DEEP_START_MS else None
        idx = (minute_start - self.origin_ms) // MINUTE_MS
        if 0 <= idx < len(self._minutes):
            return self._minutes[idx]
        return None

    def candle(self, interval_ms: int, bucket_start: int, upto_ms: int) -> Agg | None:
        """Aggregate of the trades in ``[bucket_start, bucket_start+interval)`` up to ``upto_ms``.

        None when the bucket has no trades yet. For a bucket that is still running this is the
        running candle at ``upto_ms``: by construction a prefix of the final aggregate (same
        open; high, low and volume only ever grow).
        """
        return self.span(bucket_start, bucket_start + interval_ms, upto_ms)

    def span(self, start: int, end: int, upto_ms: int) -> Agg | None:
        """Aggregate of ``[start, end)`` (whole minutes) up to ``upto_ms``: the deep history
        before the origin, the detailed model from it on."""
        if start > upto_ms:
            return None
        early = self.deep.span(start, min(end, self.origin_ms)) \
            if start < self.origin_ms else None
        if end <= self.origin_ms:
            return early
        late = self._live_span(max(start, self.origin_ms), end, upto_ms)
        if early is None or late is None:
            return early or late
        early.merge(late)
        return early

    def _live_span(self, bucket_start: int, bucket_end: int, upto_ms: int) -> Agg | None:
        if bucket_start > upto_ms:
            return None
        key = (bucket_end, bucket_start, upto_ms)
        if key == self._cache_key:
            return self._cache_val.copy() if self._cache_val else None
        end = min(bucket_end, upto_ms + 1)
        agg: Agg | None = None
        m = bucket_start
        while m + MINUTE_MS <= end:
            part = self.minute(m)
            if part is None:
                break
            if agg is None:
                agg = part.copy()
            else:
                agg.merge(part)
            m += MINUTE_MS
        if m < end:
            first, last = m // 1000, (end - 1) // 1000
            part = aggregate(
                t for s in range(first, last + 1) for t in self._steps[s].trades if t.ms < end
            )
            if part is not None:
                if agg is None:
                    agg = part
                else:
                    agg.merge(part)
        self._cache_key, self._cache_val = key, (agg.copy() if agg else None)
        return agg

    def rolling(self, t_ms: int, window_ms: int) -> tuple[Agg | None, int | None]:
        """24 h style rolling aggregate over ``(t - window, t]`` by whole minutes + the running one.

        Returns (aggregate, opening price of the window); before the origin the window reads
        the deep history.
        """
        current = t_ms // MINUTE_MS * MINUTE_MS
        first = current - window_ms + MINUTE_MS
        agg: Agg | None = None
        for m in range(first, current, MINUTE_MS):
            part = self.minute(m)
            if part is None:
                continue
            if agg is None:
                agg = part.copy()
            else:
                agg.merge(part)
        running = self.candle(MINUTE_MS, current, t_ms)
        if running is not None:
            if agg is None:
                agg = running
            else:
                agg.merge(running)
        return agg, (agg.open if agg else None)


def origin_for(start_ms: int, history_minutes: int) -> int:
    """First generated instant: ``history_minutes`` before the start, floored to the hour.

    Flooring to the hour makes every bucket up to 60min complete from the first row on.
    """
    return (start_ms - history_minutes * MINUTE_MS) // HOUR_MS * HOUR_MS


def factor_tape(seed: int, origin_ms: int) -> FactorTape:
    """The market factor's tape for ``seed`` from ``origin_ms``: recorded by a hidden, never
    scripted BTCUSDT market of its own (scripting the simulated BTCUSDT moves only that)."""
    hidden = SymbolMarket(SPECS[FACTOR_SYMBOL], seed, origin_ms)
    tape = FactorTape(origin_ms, hidden.deep, hidden._walk.sigma2)
    hidden._walk.record = tape
    tape.source = hidden.advance
    return tape


def build_markets(symbols: Iterable[str], seed: int, origin_ms: int) -> dict[str, SymbolMarket]:
    """A market per symbol (upper-cased), all leaning on one shared factor tape."""
    names = [s.upper() for s in symbols]
    tape = None if all(SPECS[n].is_factor for n in names) else factor_tape(seed, origin_ms)
    return {n: SymbolMarket(SPECS[n], seed, origin_ms, tape) for n in names}
