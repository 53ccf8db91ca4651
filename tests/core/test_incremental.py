"""Incremental indicators give exactly (digit for digit) what a fresh computation gives.

Three layers, each against an independent reference:

* ``ratio_to_decimal`` against libmpdec's own correctly rounded division;
* ``indicators.ema`` / ``atr`` (exact, rounded once) against the definition walked in
  ``Fraction``s, and within 1e-20 of the old step-by-step 28-digit ``Decimal`` walk;
* ``CandleIndicators`` (the cache a strategy keeps between decisions) against
  ``indicators.ema`` / ``atr`` of each context's candles alone, over random histories and
  random sequences of contexts: slides by one, catch-ups, jumps, repeats, restarts, other
  histories, short windows and prices on a finer grid than before.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import ROUND_HALF_EVEN, Context, Decimal
from fractions import Fraction
from functools import partial

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laptop_agents.models import Candle
from laptop_agents.strategy import indicators as ind
from laptop_agents.strategy.exact import _fast_ratio, ratio_to_decimal
from laptop_agents.strategy.incremental import CandleIndicators
from laptop_agents.strategy.supervisor import Supervisor
from tests.core.factories import D, candle, context
from tests.core.factories import settings as settings_for_tests

ORACLE = Context(prec=28, rounding=ROUND_HALF_EVEN)


def exact(value: Fraction) -> Decimal:
    return ORACLE.divide(Decimal(value.numerator), Decimal(value.denominator))


def same(a: Decimal | None, b: Decimal | None) -> bool:
    """Equal value and equal digits (a Decimal's representation reaches the journal)."""
    if a is None or b is None:
        return a is b
    return a.as_tuple() == b.as_tuple()


# --- ratio_to_decimal -------------------------------------------------------------------------
@given(st.integers(-(10 ** 400), 10 ** 400), st.integers(1, 10 ** 400))
def test_ratio_is_correctly_rounded(num: int, den: int) -> None:
    assert same(ratio_to_decimal(num, den), ORACLE.divide(Decimal(num), Decimal(den)))


@given(st.integers(1, 10 ** 30), st.integers(0, 40), st.integers(1, 10 ** 300))
def test_ratio_ties_and_exact_values(digits: int, places: int, scale: int) -> None:
    # A value with a 5 just past the 28th digit (a tie), or exact, scaled up arbitrarily.
    for num in (digits * 10 + 5, digits):
        den = 10 ** places
        assert same(ratio_to_decimal(num * scale, den * scale),
                     ORACLE.divide(Decimal(num), Decimal(den)))


@given(st.integers(2 ** 200, 2 ** 1600), st.integers(2 ** 200, 2 ** 1600))
def test_the_top_bits_shortcut_is_the_full_division(num: int, den: int) -> None:
    cut = den.bit_length() - 128
    fast = _fast_ratio(num, den, den >> cut, cut)
    if fast is not None:  # None: it declined, and the full division answers
        assert same(fast, ORACLE.divide(Decimal(num), Decimal(den)))


# --- the full computation -------------------------------------------------------------------
def ema_by_definition(values: list[Decimal], n: int) -> list[Fraction]:
    current = sum((Fraction(v) for v in values[:n]), Fraction(0)) / n
    out = [current]
    for v in values[n:]:
        current += Fraction(2, n + 1) * (Fraction(v) - current)
        out.append(current)
    return out


def ema_old(values: list[Decimal], n: int) -> list[Decimal]:
    """indicators.ema before it became exact: 28-digit rounding at every step."""
    alpha = Decimal(2) / Decimal(n + 1)
    current = sum(values[:n], Decimal(0)) / n
    out = [current]
    for v in values[n:]:
        current = current + alpha * (v - current)
        out.append(current)
    return out


prices = st.lists(st.decimals(min_value=D("0.001"), max_value=D("99999"), places=3),
                  min_size=1, max_size=80)


@given(prices, st.integers(1, 30))
def test_ema_is_the_definition_rounded_once(values: list[Decimal], n: int) -> None:
    if len(values) < n:
        return
    got = ind.ema(values, n)
    assert all(same(g, exact(f)) for g, f in zip(got, ema_by_definition(values, n), strict=True))
    for new, old in zip(got, ema_old(values, n), strict=True):
        assert abs(new - old) <= abs(new) * D("1e-20")


@given(prices, st.integers(1, 20))
def test_atr_is_wilder_by_definition_rounded_once(closes: list[Decimal], n: int) -> None:
    candles = [candle(i, c, c + i % 7, max(c - i % 5, D("0.001")), c)
               for i, c in enumerate(closes)]
    ranges = [Fraction(tr) for tr in ind.true_ranges(candles)]
    if len(ranges) < n:
        return
    current = sum(ranges[:n], Fraction(0)) / n
    expected = [current]
    for tr in ranges[n:]:
        current = (current * (n - 1) + tr) / n
        expected.append(current)
    got = ind.atr(candles, n)
    assert all(same(g, exact(f)) for g, f in zip(got, expected, strict=True))


def test_long_windows_take_the_shortcut_and_stay_exact() -> None:
    # 300 closes: numerators and divisors of ~1,400 bits, the shortcut's territory.
    closes = [c.close for c in history(3, 300)]
    for n in (9, 50):
        expected = [exact(f) for f in ema_by_definition(closes, n)]
        assert all(same(g, e) for g, e in zip(ind.ema(closes, n), expected, strict=True))


# --- the incremental cache against the full computation ------------------------------------
def history(seed: int, length: int, fine_from: int | None = None) -> list[Candle]:
    """A random walk on a 0.1 grid (0.001 from ``fine_from`` on), volumes on 0.0001."""
    rng = random.Random(seed)
    price, out = 50_000.0, []
    for i in range(length):
        price *= 1 + rng.gauss(0, 0.002)
        places = 3 if fine_from is not None and i >= fine_from else 1
        q = D(1).scaleb(-places)
        close = D(str(price)).quantize(q)
        high = close + D(str(rng.random() * 40)).quantize(q)
        low = close - D(str(rng.random() * 40)).quantize(q)
        out.append(candle(i, close, high, low, close, D(str(rng.random() * 20)).quantize(
            D("0.0001"))))
    return out


def reading(read: Callable[[], Decimal], full: Callable[[], Decimal]) -> None:
    """The cache's value is the full computation's, digit for digit; or both refuse."""
    try:
        expected = full()
    except ValueError:
        with pytest.raises(ValueError):
            read()
        return
    assert same(read(), expected)


def check(cache: CandleIndicators, window: tuple[Candle, ...], emas: tuple[int, ...],
          atr_n: int, before_last: bool = False) -> None:
    got = cache.read(window)
    closes = [c.close for c in window]
    for n in emas:
        reading(partial(got.ema, n), lambda n=n: ind.ema(closes, n)[-1])
        if before_last:
            reading(partial(got.ema_before, n),
                    lambda n=n: ind.ema(closes[:-1], n)[-1])
    reading(got.atr, lambda: ind.atr(window, atr_n)[-1])


moves = st.lists(st.tuples(st.sampled_from(["slide", "slide", "slide", "catch_up", "grow",
                                            "jump", "repeat", "back", "other", "shrink"]),
                           st.integers(1, 40)), min_size=1, max_size=40)


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2 ** 32), moves, st.integers(2, 25), st.integers(2, 15))
def test_cache_equals_full_computation(seed: int, steps: list[tuple[str, int]], slow: int,
                                       atr_n: int) -> None:
    emas = (2, max(3, slow // 2), slow + 1)
    main = history(seed, 400, fine_from=300)
    other = history(seed + 1, 400)
    cache = CandleIndicators(emas, atr_n, before_last=True)
    series, start, end = main, 0, 60
    for move, k in steps:
        if move == "slide":
            start, end = start + 1, end + 1
        elif move == "catch_up":
            start, end = start + k, end + k
        elif move == "grow":
            end += k
        elif move == "jump":
            start, end = start + 100 + k, end + 100 + k
        elif move == "back":
            start, end = max(0, start - k), max(1, end - k)
        elif move == "other":
            series = other if series is main else main
        elif move == "shrink":
            start = min(start + k, end - 1)
        start, end = min(start, 399), min(end, 400)
        check(cache, tuple(series[start:max(end, start + 1)]), emas, atr_n, before_last=True)
    assert cache.rebuilds + cache.steps >= 1


def test_a_slide_is_a_step_not_a_rebuild() -> None:
    candles = tuple(history(7, 400))
    cache = CandleIndicators((9, 20, 50), 14)
    for i in range(300, 400):
        check(cache, candles[i - 300:i], (9, 20, 50), 14)
    assert (cache.rebuilds, cache.steps) == (1, 99)
    # Equal but distinct candle objects are still the same history.
    copies = tuple(Candle(**{f: getattr(c, f) for f in Candle.__dataclass_fields__})
                   for c in candles[100:400])
    check(cache, copies, (9, 20, 50), 14)
    assert cache.rebuilds == 1


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 2 ** 32), st.lists(st.integers(-3, 40), min_size=5, max_size=25))
def test_a_supervisor_decides_as_if_each_context_were_its_first(seed: int,
                                                               shifts: list[int]) -> None:
    """Purity: one long-lived Supervisor (its cache warm from earlier contexts) and a new
    one per context give the same decision, whatever order the contexts come in."""
    candles = history(seed, 700)
    kept = Supervisor(settings_for_tests())
    end = 300
    for shift in shifts:
        end = min(max(end + shift, 100), 700)
        ctx = context(candles[max(0, end - 300):end])
        assert kept.decide(ctx) == Supervisor(settings_for_tests()).decide(ctx)
