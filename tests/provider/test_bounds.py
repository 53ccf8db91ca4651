"""No frame can crash the client: every number the parsers accept is finite and bounded.

Hypothesis throws arbitrary JSON (recursive values under the real keys op/ch/symbol/ts/data,
real pushes with fields replaced, random text and bytes) at the pure parser; only
MalformedFrame or a bounded frame may come out. REST rows get the same bounds.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, example, given, settings

from laptop_agents.data.providers import bitunix_protocol as p
from laptop_agents.data.providers import bitunix_values as v
from laptop_agents.models import Candle

from .hostile import (
    DEPTH,
    HOSTILE_NUMBERS,
    HOSTILE_TS,
    KLINE,
    TICKER,
    any_input,
    with_value,
)


def assert_bounded(result: p.Frame) -> None:
    """A frame that parsed carries only finite, bounded numbers and a sane timestamp."""
    names = (result.__struct_fields__ if isinstance(result, msgspec.Struct)
             else [field.name for field in dataclasses.fields(result)])
    for name in names:
        value = getattr(result, name)
        if isinstance(value, Decimal):
            assert value.is_finite()
            if name in ("volume", "quote_volume", "bid_size", "ask_size"):
                assert value == 0 or v.AMOUNT_MIN <= value <= v.AMOUNT_MAX, (name, value)
                assert not value.is_signed()
            else:
                assert v.PRICE_MIN <= value <= v.PRICE_MAX, (name, value)
        elif name == "ts":
            assert isinstance(value, int) and not isinstance(value, bool)
            assert v.TS_MIN_MS <= value <= v.TS_MAX_MS


def parse_or_malformed(text: str | bytes) -> p.Frame | None:
    try:
        result = p.parse_frame(text)
    except p.MalformedFrame:
        return None  # the only exception the parser may raise
    assert_bounded(result)
    return result


@pytest.mark.parametrize("value", HOSTILE_NUMBERS)
@pytest.mark.parametrize(("base", "path"), [
    (KLINE, ("data", "o")), (KLINE, ("data", "h")), (KLINE, ("data", "c")),
    (DEPTH, ("data", "b")), (TICKER, ("data", "la")),
])
def test_hostile_numbers_in_price_fields_are_malformed(
    base: dict[str, Any], path: tuple[str, ...], value: Any
) -> None:
    text = with_value(base, path, [[value, "1"]] if base is DEPTH else value)
    with pytest.raises(p.MalformedFrame):
        p.parse_frame(text)


@pytest.mark.parametrize("ts", HOSTILE_TS)
def test_timestamps_must_be_integers_within_2015_and_2100(ts: Any) -> None:
    for base in (KLINE, DEPTH, TICKER):
        with pytest.raises(p.MalformedFrame):
            p.parse_frame(with_value(base, ("ts",), ts))
    assert isinstance(p.parse_frame(with_value(KLINE, ("ts",), v.TS_MIN_MS)), p.KlinePush)
    assert isinstance(p.parse_frame(with_value(KLINE, ("ts",), v.TS_MAX_MS)), p.KlinePush)


def test_bounds_of_each_value_kind() -> None:
    assert v.price("0.000000000001", "p") == Decimal("1e-12")
    assert v.price("1000000000000", "p") == Decimal("1e12")
    assert v.price(68581.4, "p") == Decimal("68581.4")  # REST examples use JSON numbers
    assert v.price("6.8e4", "p") == Decimal("68000")
    for bad in ("1e-13", "1000000000001", "0", "-1", "1e999999"):
        with pytest.raises(v.MalformedFrame):
            v.price(bad, "p")
    assert v.amount("0", "a") == 0 and v.amount("1e18", "a") == Decimal("1e18")
    for bad in ("-0", "-1", "1e-13", "1e19", "NaN"):
        with pytest.raises(v.MalformedFrame):
            v.amount(bad, "a")
    assert v.timestamp_ms("1789482120000", "time", strings=True) == 1789482120000
    with pytest.raises(v.MalformedFrame):
        v.timestamp_ms("1789482120000", "ts")  # WS ts is a JSON integer
    with pytest.raises(v.MalformedFrame):
        v.timestamp_ms("1" * 40, "time", strings=True)
    assert v.symbol_name("btcUSDT") == "BTCUSDT"
    for bad in ("ＢＴＣ", "BTC-USDT", "", "A" * 33, 5):
        with pytest.raises(v.MalformedFrame):
            v.symbol_name(bad)


def test_rest_rows_get_the_same_bounds() -> None:
    row = {"open": "76445", "high": "76480.7", "low": "76389", "close": "76389",
           "quoteVol": "31.5403", "baseVol": "2410748.64904", "time": "1789482120000"}
    assert isinstance(p.parse_kline_row(row, "BTCUSDT", "1min"), Candle)
    for key, bad in (("close", "1e999999"), ("open", "NaN"), ("high", "1e13"),
                     ("quoteVol", "-0"), ("baseVol", "1e19"), ("time", str(2**62)),
                     ("time", "1e12"), ("time", True), ("low", "١٢٣")):
        with pytest.raises(p.MalformedFrame):
            p.parse_kline_row(dict(row, **{key: bad}), "BTCUSDT", "1min")
    for bad_book in ({"asks": [["1e999999", "1"]], "bids": []},
                     {"asks": [["2", "Infinity"]], "bids": []},
                     {"asks": [], "bids": [["1", str(10**40)]]}):
        with pytest.raises(p.MalformedFrame):
            p.parse_depth(bad_book)
    pair = {"symbol": "BTCUSDT", "quotePrecision": 1, "basePrecision": 4,
            "minTradeVolume": "0.0001", "maxLeverage": 125, "symbolStatus": "OPEN"}
    assert p.parse_trading_pair(pair).tradable
    for key, bad in (("quotePrecision", 13), ("basePrecision", -1), ("quotePrecision", 2**62),
                     ("minTradeVolume", "1e999999"), ("maxLeverage", 10**6),
                     ("maxLeverage", True), ("symbol", "BTC USDT"), ("symbolStatus", 7),
                     ("isApiSupported", "maybe")):
        with pytest.raises(p.MalformedFrame):
            p.parse_trading_pair(dict(pair, **{key: bad}))


@settings(max_examples=1500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_input)
@example(with_value(KLINE, ("data", "o"), "1e999999"))
@example(with_value(KLINE, ("data", "c"), "NaN"))
@example(with_value(DEPTH, ("data", "a"), [["Infinity", "1"]]))
@example(with_value(DEPTH, ("data", "b"), [["7403.89", "-0"]]))
@example(with_value(TICKER, ("data", "la"), "1e-999999"))
@example(with_value(KLINE, ("ts",), 2**62))
@example(with_value(KLINE, ("ts",), True))
@example(with_value(KLINE, ("ts",), 10**400))
@example(with_value(KLINE, ("data", "b"), 10**400))
@example('{"ch":"ticker","symbol":"BTCUSDT","ts":1790126515684,"data":{"la":1e999999}}')
@example('{"op":"ping","pong":' + str(2**70) + "}")
def test_any_input_parses_to_a_bounded_frame_or_malformed(data: str | bytes) -> None:
    parse_or_malformed(data)
