"""Indicators of a context's candles, carried from one decision to the next.

A strategy must stay pure: the same context gives the same decision whatever contexts came
before. :class:`CandleIndicators` keeps the exact state (exact.py) of the last candle tuple it
was given. When the next tuple is that one with candles dropped from its start and appended
at its end (the engine's sliding window, one candle later), the state follows in O(1) per
candle; anything else (a jump, a restart, another history, a repeated or older context)
rebuilds it from the candles alone. Because the state is exact, both ways give the same
digits as ``indicators.ema`` / ``indicators.atr`` over the tuple: the cache changes the cost,
never the answer. tests/core/test_incremental.py checks that on random series and jumps.

Overlap is checked by tuple equality, which compares each candle by identity first: a few
microseconds for 300 shared ``Candle`` objects (the engine and a backtest hand over the same
objects every time). Equal candles that are distinct objects still match, only more slowly.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterable
from decimal import Decimal

from laptop_agents.models import Candle
from laptop_agents.strategy.exact import Smoother, State, decimal_places, scale_one

EMA_WEIGHT, WILDER_WEIGHT = 2, 1  # q in x = (p*x + q*v) / (p+q): alpha 2/(n+1) and 1/n


class Readings:
    """Indicators of one candle tuple, each worked out on first use (a decision that stops
    at the trend test never pays for the fast EMA). Like ``indicators.ema``/``atr``, a
    ValueError when the tuple is too short for the period.

    Holds the smoothers' states as they were for that tuple (immutable integers), so a later
    ``read`` of another tuple does not change what these give.
    """

    __slots__ = ("_atr", "_emas", "_memo", "_unit")

    def __init__(self, emas: dict[int, tuple[Smoother, State, State | None]],
                 atr: tuple[Smoother, State] | None, unit: int) -> None:
        self._emas, self._atr, self._unit = emas, atr, unit
        self._memo: dict[tuple[str, int], Decimal] = {}

    def ema(self, n: int) -> Decimal:
        """EMA(n) of the closes at the last candle (n must be one the cache was built for)."""
        return self._get("ema", n)

    def ema_before(self, n: int) -> Decimal:
        """EMA(n) over the tuple without its last candle (needs ``before_last=True``)."""
        return self._get("before", n)

    def atr(self) -> Decimal:
        """Wilder ATR at the last candle (needs an ATR period)."""
        return self._get("atr", 0)

    def _get(self, kind: str, n: int) -> Decimal:
        key = (kind, n)
        value = self._memo.get(key)
        if value is not None:
            return value
        state: State | None
        if kind == "atr":
            if self._atr is None:
                raise KeyError("no ATR period was given")
            smoother, state = self._atr
        else:
            smoother, now, before = self._emas[n]
            state = now if kind == "ema" else before
        # value_of only reads the smoother: safe beside a later read() of another tuple.
        value = None if state is None else smoother.value_of(state, self._unit)
        if value is None:
            what = "atr" if kind == "atr" else f"ema({n})"
            raise ValueError(f"{what}: too few candles ({kind})")
        self._memo[key] = value
        return value


class CandleIndicators:
    """Exact EMAs of the closes and a Wilder ATR, following a sliding window of candles.

    Safe to share between threads (a lock serialises :meth:`read`), though the engine never
    calls one strategy concurrently. ``rebuilds`` and ``steps`` count the two paths.
    """

    def __init__(self, ema_periods: Iterable[int], atr_period: int | None = None,
                 before_last: bool = False) -> None:
        self._emas = {n: Smoother(n, EMA_WEIGHT) for n in sorted(set(ema_periods))}
        self._atr = Smoother(atr_period, WILDER_WEIGHT) if atr_period else None
        self._before_last = before_last  # only EMA crosses need the previous candle's EMAs
        self._lock = threading.Lock()
        self._candles: tuple[Candle, ...] = ()
        self._readings: Readings | None = None
        self._closes: deque[int] = deque()
        self._ranges: deque[int] = deque()  # true range of every candle after the first
        self._unit, self._factor = 1, Decimal(1)  # prices are held as value * 10**places
        self.rebuilds = self.steps = 0

    def read(self, candles: tuple[Candle, ...]) -> Readings:
        """The indicators of ``candles`` (oldest first), exactly as a fresh computation."""
        with self._lock:
            if candles is self._candles and self._readings is not None:
                return self._readings
            try:
                if not self._follow(candles):
                    self._rebuild(candles)
                self._candles = candles
                self._readings = self._evaluate()
            except BaseException:
                # A half-applied step must never be extended later: start over next time.
                self._candles, self._readings = (), None
                raise
            return self._readings

    # --- the two paths ---------------------------------------------------------------------
    def _follow(self, candles: tuple[Candle, ...]) -> bool:
        """Step from the previous tuple to ``candles`` if it is a slide of it; else False."""
        old = self._candles
        if not old or not candles:
            return False
        last_time = old[-1].open_time
        end = len(candles)  # candles[:end] must equal the end of old
        while end > 0 and candles[end - 1].open_time > last_time:
            end -= 1
        added, dropped = len(candles) - end, len(old) - end
        if added == dropped == 0 and candles == old:
            return True  # the same candles again (a new but equal tuple): nothing to step
        # Nothing new (a repeat or an older context) or mostly new: a rebuild is as cheap.
        if added == 0 or dropped < 0 or added + dropped > end:
            return False
        if candles[:end] != old[dropped:]:
            return False
        fresh = []
        for candle in candles[end:]:
            prices = self._scaled(candle)
            if prices is None:
                return False  # a price with more decimals than the state's scale: rebuild
            fresh.append(prices)
        if added == dropped == 1 and len(self._closes) > 1:
            self._slide(*fresh[0])
        else:
            for _ in range(dropped):
                self._drop_first()
            for prices in fresh:
                self._append(*prices)
        self.steps += 1
        return True

    def _rebuild(self, candles: tuple[Candle, ...]) -> None:
        scaled = self._scale_all(candles)
        closes = [close for close, _, _ in scaled]
        ranges = [max(high - low, abs(high - prev), abs(low - prev))
                  for prev, (_, high, low) in zip(closes, scaled[1:], strict=False)]
        self._closes, self._ranges = deque(closes), deque(ranges)
        for smoother in self._emas.values():
            smoother.reset()
            smoother.extend(closes)
        if self._atr is not None:
            self._atr.reset()
            self._atr.extend(ranges)
        self.rebuilds += 1

    def _scale_all(self, candles: tuple[Candle, ...]) -> list[tuple[int, int, int]]:
        """Every candle's (close, high, low) as integers at the smallest scale that holds
        them all (found as it goes: a price with more decimals raises it and starts over)."""
        places = 0
        while True:
            self._unit, self._factor = 10 ** places, Decimal(10) ** places
            scaled = []
            for candle in candles:
                prices = self._scaled(candle)
                if prices is None:
                    break
                scaled.append(prices)
            else:
                return scaled
            needed = max(decimal_places(p) for p in (candle.close, candle.high, candle.low))
            if needed <= places or needed > 60:  # more digits than exact scaling holds
                raise ValueError(f"candle {candle.open_time}: a price with too many digits")
            places = needed

    # --- one candle in, one candle out -------------------------------------------------------
    def _append(self, close: int, high: int, low: int) -> None:
        closes = self._closes
        if closes:
            prev = closes[-1]
            true_range = max(high - low, abs(high - prev), abs(low - prev))
            self._ranges.append(true_range)
            if self._atr is not None:
                self._atr.push(true_range)
        closes.append(close)
        for smoother in self._emas.values():
            smoother.push(close)

    def _slide(self, close: int, high: int, low: int) -> None:
        """``_drop_first`` then ``_append``, fused: the engine's next context."""
        closes, ranges, atr = self._closes, self._ranges, self._atr
        prev = closes[-1]
        true_range = max(high - low, abs(high - prev), abs(low - prev))
        for smoother in self._emas.values():
            smoother.slide(closes, close)
        closes.popleft()
        closes.append(close)
        if atr is not None:
            atr.slide(ranges, true_range)
        ranges.popleft()
        ranges.append(true_range)

    def _drop_first(self) -> None:
        for smoother in self._emas.values():
            smoother.pop(self._closes)
        self._closes.popleft()
        if self._ranges:  # the new first candle's range needed the dropped close
            if self._atr is not None:
                self._atr.pop(self._ranges)
            self._ranges.popleft()

    def _scaled(self, candle: Candle) -> tuple[int, int, int] | None:
        """(close, high, low) as integers at the state's scale; None when one does not fit."""
        factor = self._factor
        close = scale_one(candle.close, factor)
        high = scale_one(candle.high, factor)
        low = scale_one(candle.low, factor)
        if close is None or high is None or low is None:
            return None
        return close, high, low

    def _evaluate(self) -> Readings:
        before = self._before_last
        emas = {n: (s, s.state(), s.undo if before else None) for n, s in self._emas.items()}
        atr = None if self._atr is None else (self._atr, self._atr.state())
        return Readings(emas, atr, self._unit)
