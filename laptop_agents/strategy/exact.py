"""Exact seeded averages (EMA, Wilder's ATR) over a window of integers, rounded once.

The indicators used to run their recursion in 28-digit ``Decimal``, rounding at every step.
That makes the value at the end of a window a function of the whole chain of roundings, so
it can only be had by walking the window again: ~0.3 ms per Supervisor decision. Here the
same definition (seed = mean of the window's first ``n`` values, then
``x = (p * x + q * v) / (p + q)``) is carried in exact integer arithmetic, which lets a
window gain a value at its end or lose one at its start in O(1) and still give *exactly*
the value a fresh walk would. The result is rounded once, to 28 significant digits
(half-even): it differs from the old step-by-step rounding by about 1e-26 relatively.

Prices are ``Decimal`` on a finite grid, so the caller scales them to integers
(``value * 10**scale``) and divides the scale back out in :meth:`Smoother.value`.
docs/strategy.md ("Incremental indicators") has the derivation in words.
"""

from __future__ import annotations

import threading
from collections import deque
from decimal import ROUND_HALF_EVEN, Context, Decimal

PRECISION = 28  # significant digits of every indicator value (the default Decimal context's)
ROUNDING = Context(prec=PRECISION, rounding=ROUND_HALF_EVEN)
# Wide enough that scaling a price to an integer is always exact (checked by the caller).
SCALING = Context(prec=80, rounding=ROUND_HALF_EVEN)
_GUARD = 10 ** PRECISION  # a quotient with at least 29 digits rounds correctly (+ sticky digit)
_LOG10_2 = 0.3010299956639812
State = tuple[int, int, int]  # (count, seed, acc): see Smoother
_TENS = tuple(10 ** k for k in range(64))  # the decimal shifts ratio_to_decimal uses


def ratio_to_decimal(num: int, den: int) -> Decimal:
    """``num / den`` (``den > 0``) correctly rounded to 28 significant digits, half-even.

    A function of the rational value alone (not of how ``num`` and ``den`` are scaled), so
    every path to the same value gives the same ``Decimal``, digit for digit.
    """
    if num == 0:
        return Decimal(0)
    negative, mag = num < 0, abs(num)
    # Shift so the integer quotient has 29-32 digits: 28 kept plus a guard digit.
    shift = PRECISION + 3 - int((mag.bit_length() - den.bit_length()) * _LOG10_2)
    while True:
        q, inexact = _quotient(mag, den, shift)
        if q >= _GUARD:
            break
        shift += 1  # the bit-length estimate fell short (rare): one more digit
    if inexact:
        # Sticky digit: the value lies strictly between q and q + 1, and so does q + 0.1;
        # neither can be a rounding tie, so both round the same way.
        q, shift = q * 10 + 1, shift + 1
    else:
        # Exact: drop trailing zeros so equal values get equal digits however they were scaled.
        while shift > 0 and q % 10 == 0:
            q, shift = q // 10, shift - 1
    return Decimal(-q if negative else q).scaleb(-shift, ROUNDING)


def _quotient(num: int, den: int, shift: int) -> tuple[int, bool]:
    """``floor(num * 10**shift / den)`` and whether the division left a remainder.

    Indicator numerators and denominators run to ~1,500 bits; their top 128 bits bound the
    ~100-bit quotient to well within one unit almost always, which settles it for a third
    of a full division. When the bound is not tight enough (or the quotient may be exact)
    it divides in full, so the answer is always exactly the full division's.
    """
    ten = _TENS[shift] if 0 <= shift < len(_TENS) else None
    cut = min(num.bit_length(), den.bit_length()) - 128
    if cut > 0 and ten is not None:
        num_hi, den_hi = num >> cut, den >> cut
        # num is in [num_hi, num_hi + 1) * 2**cut and den likewise, so the quotient lies
        # strictly between num_hi*ten/(den_hi+1) and (num_hi+1)*ten/den_hi: when no integer
        # above the lower end's floor is below the upper end, that floor is the quotient.
        low = num_hi * ten // (den_hi + 1)
        if (low + 1) * den_hi >= (num_hi + 1) * ten:
            return low, True
    if shift >= 0:
        q, rem = divmod(num * (ten or 10 ** shift), den)
    else:
        q, rem = divmod(num, den * 10 ** -shift)
    return q, rem != 0


class Smoother:
    """Seeded recursive average ``x = (p * x + q * v) / r`` of a window of integers, exact.

    ``EMA(n)``: ``p = n - 1, q = 2`` (alpha = 2 / (n + 1)); Wilder's ``ATR(n)``: ``p = n - 1,
    q = 1``; ``r = p + q``. The seed is the mean of the window's first ``n`` values. For a
    window ``v_0 .. v_{L-1}`` with ``K = L - n`` recursion steps the state is

        seed = v_0 + ... + v_{n-1}
        acc  = sum over i = n .. L-1 of  p**(L-1-i) * r**(i-n) * v_i
        value = (p**K * seed + q * n * acc) / (n * r**K)

    Appending ``v``: ``acc = p * acc + r**K * v``. Dropping ``v_0``: ``v_n`` moves from the
    recursion into the seed, ``acc = (acc - p**(K-1) * v_n) / r`` (an exact division: every
    remaining term still carries a factor ``r``). No rounding anywhere, so any sequence of
    appends and drops that ends on a window gives the same integers as building it afresh.
    """

    __slots__ = ("_den", "_p_pow", "_r_pow", "acc", "count", "n", "p", "q", "r", "seed", "undo")

    def __init__(self, n: int, q: int) -> None:
        if n < 1 or q < 1:
            raise ValueError("period and weight must be >= 1")
        self.n, self.p, self.q, self.r = n, n - 1, q, n - 1 + q
        self._p_pow, self._r_pow = _power_tables(self.p, self.r)
        self.count = self.seed = self.acc = 0
        # (count, seed, acc) before the latest append: the window without its last value.
        self.undo: State | None = None
        # (steps, unit, den = n * r**steps * unit, den's top 128 bits, bits cut) of the latest
        # value: a sliding window divides by the same den every time.
        self._den = (-1, 0, 0, 0, 0)

    def reset(self) -> None:
        self.count = self.seed = self.acc = 0
        self.undo = None

    def _powers(self, k: int) -> tuple[int, int]:
        p_pow, r_pow = self._p_pow, self._r_pow
        if len(r_pow) <= k:
            _extend(p_pow, r_pow, self.p, self.r, k)
        return p_pow[k], r_pow[k]

    def push(self, v: int) -> None:
        """Append ``v`` to the end of the window."""
        count, n = self.count, self.n
        self.undo = (count, self.seed, self.acc)
        if count < n:
            self.seed += v
        else:
            r_pow = self._r_pow
            if len(r_pow) <= count - n:
                _extend(self._p_pow, r_pow, self.p, self.r, count - n)
            self.acc = self.p * self.acc + r_pow[count - n] * v
        self.count = count + 1

    def extend(self, values: list[int]) -> None:
        """``push`` each of ``values`` in turn (a rebuild: one call, not one per value)."""
        if not values:
            return
        *head, last = values
        count, n, p, seed, acc = self.count, self.n, self.p, self.seed, self.acc
        r_pow = self._r_pow
        if len(r_pow) <= count + len(values) - n:
            _extend(self._p_pow, r_pow, p, self.r, count + len(values) - n)
        for v in head:
            if count < n:
                seed += v
            else:
                acc = p * acc + r_pow[count - n] * v
            count += 1
        self.count, self.seed, self.acc = count, seed, acc
        self.push(last)  # the last one also records ``undo``

    def pop(self, window: deque[int]) -> None:
        """Drop ``window[0]``, the window's first value (the caller then removes it)."""
        count, n = self.count, self.n
        if count <= n:
            self.seed -= window[0]
        else:
            moved = window[n]  # leaves the recursion, joins the seed
            self.seed += moved - window[0]
            self.acc = (self.acc - self._powers(count - n - 1)[0] * moved) // self.r
        self.count = count - 1
        self.undo = None  # the window without its last value is no longer what undo holds

    def slide(self, window: deque[int], v: int) -> None:
        """Drop ``window[0]`` and append ``v`` (the engine's window, one candle later): pop
        then push in one call, the hot path. The caller then updates ``window``."""
        count, n = self.count, self.n
        if count <= n:
            self.pop(window)
            self.push(v)
            return
        moved, steps = window[n], count - n - 1  # steps after the drop
        seed = self.seed + moved - window[0]
        acc = (self.acc - self._p_pow[steps] * moved) // self.r
        self.undo = (count - 1, seed, acc)
        self.seed, self.acc = seed, self.p * acc + self._r_pow[steps] * v

    def state(self) -> State:
        """The window's state: give it to :meth:`value_of`, now or after later steps."""
        return self.count, self.seed, self.acc

    def value(self, unit: int) -> Decimal | None:
        """The average of the window (values scaled by ``unit``); None with fewer than n."""
        return self.value_of((self.count, self.seed, self.acc), unit)

    def value_of(self, state: State, unit: int) -> Decimal | None:
        """The average of a window in ``state`` (from :meth:`state` or ``undo``).

        Reads only: the powers were extended by the pushes that made the state, and the
        divisor cache is swapped whole; so a value may be read while another read steps.
        """
        count, seed, acc = state
        steps = count - self.n
        if steps < 0:
            return None
        cached_steps, cached_unit, den, den_hi, cut = self._den
        if cached_steps != steps or cached_unit != unit:  # a sliding window keeps both
            den = self.n * self._powers(steps)[1] * unit
            cut = max(0, den.bit_length() - 128)
            den_hi = den >> cut
            self._den = (steps, unit, den, den_hi, cut)
        num = self._p_pow[steps] * seed + self.q * self.n * acc
        return _fast_ratio(num, den, den_hi, cut) or ratio_to_decimal(num, den)


def _fast_ratio(num: int, den: int, den_hi: int, cut: int) -> Decimal | None:
    """``ratio_to_decimal(num, den)`` from the top bits alone (the denominator's 128 and the
    numerator's as many more), or None when those do not settle it (then divide in full).

    The same bound as in ``_quotient``, for a positive inexact value with a cached divisor:
    the hot path of every indicator read.
    """
    if cut < 64 or num <= 0:
        return None
    num_hi = num >> cut
    shift = PRECISION + 3 - int((num_hi.bit_length() - den_hi.bit_length()) * _LOG10_2)
    if not 0 <= shift < len(_TENS):
        return None
    ten = _TENS[shift]
    low = num_hi * ten // (den_hi + 1)
    if low < _GUARD or (low + 1) * den_hi < (num_hi + 1) * ten:
        return None
    return Decimal(low * 10 + 1).scaleb(-shift - 1, ROUNDING)  # + sticky digit: inexact


# p**k and r**k by (p, r), shared by every smoother of the same period: a strategy built
# anew (each backtest, each test) does not square the same 1,000-bit powers again. The
# lists only grow; the lock keeps two threads from growing one at once.
_POWERS: dict[tuple[int, int], tuple[list[int], list[int]]] = {}
_POWERS_LOCK = threading.Lock()


def _power_tables(p: int, r: int) -> tuple[list[int], list[int]]:
    with _POWERS_LOCK:
        return _POWERS.setdefault((p, r), ([1], [1]))


def _extend(p_pow: list[int], r_pow: list[int], p: int, r: int, k: int) -> None:
    with _POWERS_LOCK:
        while len(r_pow) <= k:
            # p_pow first: a reader indexes r_pow only below its length, and p_pow is then
            # at least as long.
            p_pow.append(p_pow[-1] * p)
            r_pow.append(r_pow[-1] * r)


def exact_series(values: list[int], n: int, q: int, unit: int) -> list[Decimal]:
    """Every prefix's average from the ``n``-th value on (the full-walk reference)."""
    smoother = Smoother(n, q)
    out: list[Decimal] = []
    for v in values:
        smoother.push(v)
        value = smoother.value(unit)
        if value is not None:
            out.append(value)
    return out


def decimal_places(value: Decimal) -> int:
    """Digits after the point in ``value``'s representation (0 for an integer or 1E+3)."""
    exponent = value.as_tuple().exponent
    if not isinstance(exponent, int):
        raise ValueError(f"not a finite number: {value}")
    return max(0, -exponent)


def scale_all(values: list[Decimal]) -> tuple[list[int], int]:
    """``values`` as integers ``value * 10**scale`` with the smallest scale that is exact;
    returns them and ``10**scale``."""
    places = max((decimal_places(v) for v in values), default=0)
    factor = Decimal(10) ** places
    out = []
    for v in values:
        scaled = scale_one(v, factor)
        if scaled is None:
            raise ValueError(f"{v} has too many digits for exact indicators")
        out.append(scaled)
    return out, 10 ** places


def scale_one(value: Decimal, factor: Decimal) -> int | None:
    """``value * factor`` as an int, or None when that is not a whole number."""
    shifted = SCALING.multiply(value, factor)
    whole = int(shifted)
    return whole if whole == shifted else None
