"""The depth_book1 fast path never disagrees with the generic parser: whatever it accepts,
``parse_frame`` accepts as the same quote; everything else it leaves to ``parse_frame``."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from laptop_agents.data.providers import bitunix_protocol as p
from laptop_agents.data.providers.bitunix_depth_fast import fast_depth

from .hostile import DEPTH, HOSTILE_NUMBERS, HOSTILE_TS, any_input, with_value

GOOD = json.dumps(DEPTH)


def _same_as_generic(text: str | bytes) -> None:
    quote = fast_depth(text)
    if quote is None:
        return  # the generic parser decides, as it always did
    push = p.parse_frame(text)
    assert isinstance(push, p.DepthPush)
    assert (push.symbol, push.ts, push.bid, push.bid_size, push.ask, push.ask_size) == (
        quote.symbol, quote.ts, quote.bid, quote.bid_size, quote.ask, quote.ask_size)


def test_a_real_push_takes_the_fast_path() -> None:
    quote = fast_depth(GOOD)
    assert quote is not None and str(quote.bid) == "7403.89" and str(quote.ask_size) == "3.340"
    _same_as_generic(GOOD)


@pytest.mark.parametrize("text", [
    GOOD[:-1] + ',"x":1e999}',  # orjson: not JSON; msgspec would skip the value
    GOOD[:-1] + ',"x":"\\ud800"}',
    GOOD[:-1] + ',"op":"ping"}',
    GOOD[:-1] + ',"op":null}',
    GOOD.replace('"b":[["7403.89","0.002"]]', '"b":[["7403.89","0.002"]],"c":1'),
    GOOD.replace('"7403.89"', "7403.89"),
    GOOD.replace('"7403.89"', '""'),
    GOOD.replace('"7403.89"', '"7406"'),  # crossed
    GOOD.replace('"BTCUSDT"', '"BTC-USDT"'),
    GOOD.replace('"ch":"depth_book1","ch":"ticker"', ""),
    '{"ch":"ticker","ch":"depth_book1"' + GOOD[len('{"ch":"depth_book1"'):],
    '{"ch":"depth_book1","ts":1e999,' + GOOD[1:],
    GOOD + " x",
    "\ufeff" + GOOD,
    GOOD.encode()[:-3] + b"\xff\"}",
])
def test_frames_off_the_exact_shape_are_left_to_the_generic_parser(text: str | bytes) -> None:
    _same_as_generic(text)


@settings(max_examples=600, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(any_input)
@example(with_value(DEPTH, ("data", "b"), [["1e999999", "1"]]))
def test_no_frame_is_accepted_that_the_generic_parser_refuses(text: str | bytes) -> None:
    _same_as_generic(text)


@settings(max_examples=300, deadline=None)
@given(st.sampled_from(HOSTILE_NUMBERS), st.sampled_from(HOSTILE_TS),
       st.sampled_from([("data", "b"), ("data", "a")]))
def test_hostile_values_in_a_depth_push(number: object, ts: object,
                                        side: tuple[str, str]) -> None:
    _same_as_generic(with_value(DEPTH, (*side,), [[number, "1"]]))
    _same_as_generic(with_value(DEPTH, (*side,), [["7404", number]]))
    _same_as_generic(with_value(DEPTH, ("ts",), ts))
