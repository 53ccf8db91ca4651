"""The ``price`` channel parser (reference 4.6): mark, index and funding state as a MarkPrice.

Funding rates are percent on the wire and fractions in MarkPrice, exactly; settlement times
are ISO-8601 live, milliseconds are accepted too; anything else is MalformedFrame.
"""

from __future__ import annotations

import json
from decimal import Context, Decimal
from typing import Any

import pytest
from hypothesis import HealthCheck, example, given, settings

from laptop_agents.data.providers import bitunix_values as v
from laptop_agents.data.providers.bitunix_price import parse_price_push
from laptop_agents.data.providers.bitunix_protocol import MalformedFrame, parse_frame
from laptop_agents.models import MarkPrice

from .hostile import HOSTILE_NUMBERS, HOSTILE_TS, NOW, PRICE, price_frames

MIDNIGHT = 1_790_121_600_000  # 2026-09-23T00:00:00Z
HOUR = 3_600_000


def push(**data: Any) -> str:
    """The reference's example push with ``data`` fields replaced (``None``: removed)."""
    frame = json.loads(json.dumps(PRICE))
    for key, value in data.items():
        if value is None:
            frame["data"].pop(key, None)
        else:
            frame["data"][key] = value
    return json.dumps(frame)


def test_the_reference_example_parses_to_a_mark_price() -> None:
    mark = parse_frame(json.dumps(PRICE))
    assert mark == MarkPrice(symbol="BTCUSDT", mark=Decimal("86688.3"), index=Decimal("86720.6"),
                             funding_rate=Decimal("-0.0000077"), last_settlement_ms=MIDNIGHT,
                             next_settlement_ms=MIDNIGHT + 8 * HOUR, ts=NOW)
    assert parse_price_push(json.loads(json.dumps(PRICE))) == mark
    # lower-case symbols are accepted on the wire and named in upper case
    lower = parse_frame(json.dumps(dict(PRICE, symbol="btcusdt")))
    assert isinstance(lower, MarkPrice) and lower.symbol == "BTCUSDT"


@pytest.mark.parametrize(("wire", "fraction"), [
    ("-0.00077", "-0.0000077"), ("0.01", "0.0001"), ("0.0100", "0.000100"), ("0", "0"),
    ("5", "0.05"), ("-5", "-0.05"), ("1e-3", "0.00001"), (0.01, "0.0001"), (1, "0.01"),
    # 30 significant digits: more than Decimal's default 28, still exact
    ("0.123456789012345678901234567891", "0.00123456789012345678901234567891"),
])
def test_funding_rates_are_percent_on_the_wire_and_exact_fractions(wire: Any,
                                                                  fraction: str) -> None:
    mark = parse_frame(push(fr=wire))
    assert isinstance(mark, MarkPrice)
    assert mark.funding_rate == Decimal(fraction)
    # exact: the same digits, only the exponent moved by two
    assert mark.funding_rate.as_tuple().digits == Decimal(fraction).as_tuple().digits
    assert mark.funding_rate.scaleb(2, Context(prec=64)) == Decimal(str(wire))


@pytest.mark.parametrize(("wire", "ms"), [
    ("2026-09-23T08:00:00Z", MIDNIGHT + 8 * HOUR),
    ("2026-09-23T08:00:00.5Z", MIDNIGHT + 8 * HOUR + 500),
    ("2026-09-23T08:00:00.123456789Z", MIDNIGHT + 8 * HOUR + 123),  # ns cut, not rounded
    ("2026-09-23T08:00:00.999999Z", MIDNIGHT + 8 * HOUR + 999),
    ("2026-09-23T08:00:00+01:00", MIDNIGHT + 7 * HOUR),
    ("2026-09-23T08:00:00-0130", MIDNIGHT + 9 * HOUR + HOUR // 2),
    ("2026-09-23T08:00:00", MIDNIGHT + 8 * HOUR),  # no zone: UTC, as every live time is
    ("2026-09-23 08:00:00Z", MIDNIGHT + 8 * HOUR),
    (MIDNIGHT + 8 * HOUR, MIDNIGHT + 8 * HOUR),  # milliseconds, as a JSON integer
    (str(MIDNIGHT + 8 * HOUR), MIDNIGHT + 8 * HOUR),  # ... or a string of digits
])
def test_settlement_times_are_iso_8601_or_milliseconds(wire: Any, ms: int) -> None:
    for key in ("ft", "nft"):
        mark = parse_frame(push(**{key: wire}))
        assert isinstance(mark, MarkPrice)
        assert (mark.last_settlement_ms if key == "ft" else mark.next_settlement_ms) == ms


@pytest.mark.parametrize("missing", [None, "", "null"])
def test_missing_or_empty_settlement_times_are_none(missing: str | None) -> None:
    frame = json.loads(json.dumps(PRICE))
    for key in ("ft", "nft"):
        if missing is None:
            del frame["data"][key]
        else:
            frame["data"][key] = None if missing == "null" else missing
    mark = parse_frame(json.dumps(frame))
    assert isinstance(mark, MarkPrice)
    assert mark.last_settlement_ms is None and mark.next_settlement_ms is None
    assert mark.mark == Decimal("86688.3")  # the mark itself is still good


BAD_FIELDS: list[tuple[str, Any]] = [
    ("mp", None), ("mp", ""), ("mp", "0"), ("mp", "-1"), ("mp", "1e13"), ("mp", "NaN"),
    ("mp", 1e300), ("mp", True), ("mp", []), ("ip", None), ("ip", ""), ("ip", "1e-13"),
    ("fr", None), ("fr", ""), ("fr", "5.0001"), ("fr", "-5.0001"), ("fr", "1e999999"),
    ("fr", "NaN"), ("fr", "Infinity"), ("fr", "1_0"), ("fr", True), ("fr", {}),
    ("ft", "2026-13-01T00:00:00Z"), ("ft", "2026-09-23T25:00:00Z"), ("ft", "yesterday"),
    ("ft", "2026-09-23"), ("ft", "2026-09-23T08:00:00+24:00"), ("ft", "1000"),
    ("ft", "2101-01-01T00:00:00Z"), ("ft", 1.5), ("ft", True), ("ft", []), ("ft", 2**62),
    ("nft", "2026-09-23T08:00:00ZZ"), ("nft", " 2026-09-23T08:00:00Z"),
    ("nft", "2026-09-23T08:00:00.1234567890Z"), ("nft", "٢٠٢٦-09-23T08:00:00Z"),
    ("nft", "x" * 1000),
]


@pytest.mark.parametrize(("key", "value"), BAD_FIELDS)
def test_each_field_missing_or_malformed_makes_the_push_malformed(key: str, value: Any) -> None:
    with pytest.raises(MalformedFrame):
        parse_frame(push(**{key: value}) if value is not None else _without(key))


def _without(key: str) -> str:
    frame = json.loads(json.dumps(PRICE))
    del frame["data"][key]
    return json.dumps(frame)


@pytest.mark.parametrize(("key", "value"), [
    ("ts", "1790126515695"), ("ts", None), ("ts", 1.5), ("ts", v.TS_MAX_MS + 1),
    ("symbol", "BTC-USDT"), ("symbol", None), ("symbol", ""), ("data", None), ("data", []),
    ("data", "86688.3"),
])
def test_a_bad_envelope_makes_the_push_malformed(key: str, value: Any) -> None:
    frame = json.loads(json.dumps(PRICE))
    if value is None:
        del frame[key]
    else:
        frame[key] = value
    with pytest.raises(MalformedFrame):
        parse_frame(json.dumps(frame))


def assert_sane(mark: MarkPrice) -> None:
    assert v.PRICE_MIN <= mark.mark <= v.PRICE_MAX and v.PRICE_MIN <= mark.index <= v.PRICE_MAX
    assert mark.funding_rate.is_finite() and abs(mark.funding_rate) <= v.MAX_FUNDING_FRACTION
    for ms in (mark.last_settlement_ms, mark.next_settlement_ms, mark.ts):
        assert ms is None or (type(ms) is int and v.TS_MIN_MS <= ms <= v.TS_MAX_MS)
    assert mark.symbol == mark.symbol.upper() and mark.symbol.isascii() and mark.symbol.isalnum()


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(price_frames)
@example({"ch": "price", "symbol": "BTCUSDT", "ts": NOW, "data": {"mp": "1", "ip": "1",
                                                                   "fr": "1e-9999"}})
@example({"ch": "price", "symbol": "BTCUSDT", "ts": NOW,
          "data": {"mp": "1", "ip": "1", "fr": "0", "ft": "9999-12-31T23:59:59-23:59"}})
def test_the_parser_returns_a_sane_mark_price_or_raises_malformed(frame: dict[str, Any]) -> None:
    try:
        mark = parse_frame(json.dumps(frame))
    except MalformedFrame:
        return  # the only exception the parser may raise
    assert isinstance(mark, MarkPrice)
    assert_sane(mark)


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
def test_hostile_numbers_never_make_a_funding_rate(value: Any) -> None:
    try:
        mark = parse_frame(push(fr=value))
    except MalformedFrame:
        return
    assert isinstance(mark, MarkPrice)
    assert_sane(mark)


@pytest.mark.parametrize("value", HOSTILE_TS)
def test_hostile_times_never_make_a_settlement_time(value: Any) -> None:
    try:
        mark = parse_frame(push(nft=value))
    except MalformedFrame:
        return
    assert isinstance(mark, MarkPrice)
    assert_sane(mark)
