"""Bounds on every value the Bitunix wire carries, and the checks that enforce them (pure).

A value that is syntactically a number can still crash a task far from the parser:
``Decimal("1e999999")`` parses, and dividing it by a tick size raises ``decimal.Overflow``;
a ``ts`` of ``2**62`` ms is an int, and turning it into a date raises. So every number is
checked here against bounds that are wide enough for any real contract and narrow enough that
the arithmetic done downstream (price / tick, price x size, day of a timestamp) cannot
overflow. Anything outside them raises :class:`MalformedFrame`, which callers count and skip.
docs/market-data.md ("Parsing bounds") lists each bound and why it was chosen.
"""

from __future__ import annotations

import functools
import math
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Context, Decimal, InvalidOperation

# A number string longer than this is not something an exchange prints (BTC turnover with
# ten decimals is ~25 characters); it bounds the work Decimal() does on hostile input.
MAX_NUMBER_CHARS = 32
VALIDATED_STRINGS = 8192  # validated price and size strings remembered (about 1 MB)
# Prices: the cheapest listed contracts trade around 1e-8 (multiplier contracts exist so that
# prices stay readable); the dearest around 1e5. Prices are also at most 12 decimals, so
# price / tick stays below 1e24: exact within Decimal's default 28 digits.
PRICE_MIN = Decimal("1e-12")
PRICE_MAX = Decimal("1e12")
# Sizes and volumes (order-book sizes, candle base volume and quote turnover, minimum order):
# zero is legal (an empty candle); otherwise no finer than the finest lot step and no larger
# than 1e18, far above a three-day turnover of any contract yet small enough that price x size
# (< 1e30) never approaches Decimal's exponent limit.
AMOUNT_MIN = Decimal("1e-12")
AMOUNT_MAX = Decimal("1e18")
# Integers that are not timestamps (precisions, leverage) are short; 2**63 has 19 digits.
MAX_INT_CHARS = 19
# Exchange timestamps in ms: 2015-01-01 (before any USDT-M perpetual existed) to 2100-01-01.
# Both ends are far inside what datetime can represent, so utc_day() and friends cannot fail.
TS_MIN_MS = 1_420_070_400_000
TS_MAX_MS = 4_102_444_800_000
# Price decimals (quotePrecision) and quantity decimals (basePrecision): tick = 10**-precision,
# so the tick is never finer than PRICE_MIN.
MAX_PRECISION = 12
MAX_LEVERAGE = 1000
# Symbols: ASCII letters and digits only (str.isalnum() also accepts other scripts' letters
# and digits), as long as the longest multiplier contracts ("1000000MOGUSDT") and then some.
_SYMBOL = re.compile(r"[A-Za-z0-9]{1,32}")
# Plain decimal notation, optionally with a short exponent. ASCII digits only: Decimal() also
# accepts other scripts' digits, underscores ("1_000"), surrounding spaces, "NaN", "Infinity".
_NUMBER = re.compile(r"-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]{1,4})?")
_DIGITS = re.compile(r"-?[0-9]+")
# Funding rates arrive in percent (WS `fr`, REST `fundingRate`) and are kept as fractions.
# Real rates are capped by the exchange at a few tenths of a percent per settlement (live
# `maxFundingRate`); 5 % is far above any cap and keeps a funding payment a small multiple of
# the position's notional.
MAX_FUNDING_FRACTION = Decimal("0.05")
# Dividing by 100 only moves the exponent; a context wider than any accepted number string
# keeps the digits exact (the default 28 digits could round a 31-digit string).
_EXACT = Context(prec=2 * MAX_NUMBER_CHARS)
# Settlement times (`ft`, `nft`): ISO-8601 like "2026-09-23T08:00:00Z", fractional seconds of
# any precision (trade times carry nanoseconds), "Z", an offset or nothing (read as UTC).
_ISO = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})[T ]([0-9]{2}):([0-9]{2}):([0-9]{2})"
                  r"(?:\.([0-9]{1,9}))?(Z|[+-][0-9]{2}:?[0-9]{2})?")


class MalformedFrame(ValueError):
    """A frame that is not valid JSON, has an unexpected shape, or is on an unknown channel."""


def sample(text: str | bytes, limit: int = 120) -> str:
    """A short printable excerpt of a frame for debug logs."""
    shown = text if isinstance(text, str) else repr(text[: limit + 1])
    return shown if len(shown) <= limit else shown[:limit] + "…"


def to_decimal(value: object, what: str) -> Decimal:
    """A finite Decimal from a JSON number string (or number), not yet range-checked.

    Floats (REST documentation examples use JSON numbers) go through their shortest repr.
    """
    if isinstance(value, bool):
        raise MalformedFrame(f"{what}: expected a number string, got bool")
    if isinstance(value, str):
        text = value
    elif isinstance(value, int):
        if abs(value) >= 10**MAX_NUMBER_CHARS:
            raise MalformedFrame(f"{what}: number too large")
        text = str(value)
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise MalformedFrame(f"{what}: not finite")
        text = repr(value)
    else:
        raise MalformedFrame(f"{what}: expected a number string, got {type(value).__name__}")
    if len(text) > MAX_NUMBER_CHARS:
        raise MalformedFrame(f"{what}: number longer than {MAX_NUMBER_CHARS} characters")
    if not _NUMBER.fullmatch(text):
        raise MalformedFrame(f"{what}: not a number: {sample(text, 40)!r}")
    try:
        number = Decimal(text)
    except InvalidOperation as error:  # pragma: no cover - the pattern admits only numbers
        raise MalformedFrame(f"{what}: not a number") from error
    if not number.is_finite():  # pragma: no cover - likewise
        raise MalformedFrame(f"{what}: not finite")
    return number


def price(value: object, what: str) -> Decimal:
    """A price: PRICE_MIN <= price <= PRICE_MAX."""
    return _number(value, what, _price_text, _checked_price)


def amount(value: object, what: str) -> Decimal:
    """A size or volume: 0, or AMOUNT_MIN <= amount <= AMOUNT_MAX (never negative, not -0)."""
    return _number(value, what, _amount_text, _checked_amount)


def _number(value: object, what: str, from_text: Callable[[str], Decimal],
            checked: Callable[[Decimal, str], Decimal]) -> Decimal:
    if type(value) is str:
        try:
            return from_text(value)
        except MalformedFrame as error:
            raise MalformedFrame(f"{what}: {error}") from None
    return checked(to_decimal(value, what), what)


# The same price and size strings come back push after push (the top of the book moves a
# tick at a time): a validated string is remembered, so a repeat costs a dict lookup instead
# of a pattern match, a Decimal and two comparisons. Only valid strings are remembered
# (lru_cache does not keep exceptions), and the cache is bounded.
@functools.lru_cache(maxsize=VALIDATED_STRINGS)
def _price_text(text: str) -> Decimal:
    return _checked_price(to_decimal(text, "number"), "number")


@functools.lru_cache(maxsize=VALIDATED_STRINGS)
def _amount_text(text: str) -> Decimal:
    return _checked_amount(to_decimal(text, "number"), "number")


# The fast path of depth_book1 (bitunix_depth_fast) calls these directly on strings.
price_text = _price_text
amount_text = _amount_text


def _checked_price(number: Decimal, what: str) -> Decimal:
    if not PRICE_MIN <= number <= PRICE_MAX:
        raise MalformedFrame(f"{what}: price {number} outside [{PRICE_MIN}, {PRICE_MAX}]")
    return number


def _checked_amount(number: Decimal, what: str) -> Decimal:
    if number.is_signed():
        raise MalformedFrame(f"{what} must not be negative")
    if number != 0 and not AMOUNT_MIN <= number <= AMOUNT_MAX:
        raise MalformedFrame(f"{what}: {number} outside [{AMOUNT_MIN}, {AMOUNT_MAX}]")
    return number


def bounded_int(value: object, what: str, low: int, high: int, *, strings: bool = True) -> int:
    """An integer (or, with ``strings``, a string of ASCII digits) with ``low <= n <= high``."""
    if isinstance(value, bool):
        raise MalformedFrame(f"{what}: expected an integer, got bool")
    if isinstance(value, int):
        number = value
    elif strings and isinstance(value, str) and len(value) <= MAX_INT_CHARS \
            and _DIGITS.fullmatch(value):
        number = int(value)
    else:
        raise MalformedFrame(f"{what}: expected an integer")
    if not low <= number <= high:
        raise MalformedFrame(f"{what}: {sample(str(number), 30)} outside [{low}, {high}]")
    return number


def timestamp_ms(value: object, what: str = "ts", *, strings: bool = False) -> int:
    """Exchange milliseconds between TS_MIN_MS and TS_MAX_MS.

    WebSocket ``ts`` must be a JSON integer; REST kline ``time`` arrives as a string live
    (``strings=True``).
    """
    return bounded_int(value, what, TS_MIN_MS, TS_MAX_MS, strings=strings)


def funding_fraction(value: object, what: str) -> Decimal:
    """A funding rate sent in percent (``"-0.00077"``) as an exact fraction (``-0.0000077``),
    with ``|fraction| <= MAX_FUNDING_FRACTION``."""
    fraction = to_decimal(value, what).scaleb(-2, _EXACT)
    if abs(fraction) > MAX_FUNDING_FRACTION:
        raise MalformedFrame(f"{what}: {fraction} beyond +-{MAX_FUNDING_FRACTION} per settlement")
    return fraction


def settlement_ms(value: object, what: str) -> int | None:
    """A settlement time: an ISO-8601 UTC string, or milliseconds (integer or digit string);
    None when missing or empty. Within TS_MIN_MS..TS_MAX_MS like every exchange time."""
    if value is None or value == "":
        return None
    if isinstance(value, str) and not _DIGITS.fullmatch(value):
        return timestamp_ms(_iso_ms(value, what), what)
    return timestamp_ms(value, what, strings=True)


def _iso_ms(text: str, what: str) -> int:
    match = _ISO.fullmatch(text) if len(text) <= 40 else None
    if match is None:
        raise MalformedFrame(f"{what}: not an ISO-8601 time: {sample(text, 40)!r}")
    year, month, day, hour, minute, second = (int(g) for g in match.groups()[:6])
    fraction, zone = match.group(7) or "", match.group(8)
    offset = timedelta(0)
    if zone and zone != "Z":
        sign = -1 if zone[0] == "-" else 1
        digits = zone[1:].replace(":", "")
        offset = sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:]))
    try:
        moment = datetime(year, month, day, hour, minute, second, tzinfo=timezone(offset))
    except ValueError as error:  # month 13, hour 25, an offset of a day or more ...
        raise MalformedFrame(f"{what}: {error}") from None
    # Whole seconds through the timestamp, then the milliseconds of the fraction (sub-ms
    # digits are cut, never rounded up into the next millisecond).
    whole = int((moment - datetime(1970, 1, 1, tzinfo=UTC)).total_seconds())
    return whole * 1000 + int((fraction + "00")[:3])


def symbol_name(value: object, what: str = "symbol") -> str:
    """An upper-cased ASCII alphanumeric symbol of 1 to 32 characters."""
    if not isinstance(value, str) or not _SYMBOL.fullmatch(value):
        raise MalformedFrame(f"{what}: not a valid symbol")
    return value.upper()


__all__ = [
    "AMOUNT_MAX",
    "AMOUNT_MIN",
    "MAX_FUNDING_FRACTION",
    "MAX_LEVERAGE",
    "MAX_NUMBER_CHARS",
    "MAX_PRECISION",
    "PRICE_MAX",
    "PRICE_MIN",
    "TS_MAX_MS",
    "TS_MIN_MS",
    "MalformedFrame",
    "amount",
    "amount_text",
    "bounded_int",
    "funding_fraction",
    "price",
    "price_text",
    "sample",
    "settlement_ms",
    "symbol_name",
    "timestamp_ms",
    "to_decimal",
]
