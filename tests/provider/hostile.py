"""Hostile market-data frames for property tests: recorded pushes, values a broken or hostile
server could send where a number or timestamp belongs, and Hypothesis strategies built on them."""

from __future__ import annotations

import copy
import json
from decimal import Decimal
from typing import Any

from hypothesis import strategies as st

from laptop_agents.data.providers import bitunix_values as v

NOW = 1_790_126_515_684
KLINE = {"ch": "market_kline_1min", "symbol": "BTCUSDT", "ts": NOW,
         "data": {"o": "68581.4", "h": "68590", "l": "68579.5", "c": "68583.4", "b": "5.2395",
                  "q": "359348.14078"}}
DEPTH = {"ch": "depth_book1", "symbol": "BTCUSDT", "ts": NOW,
         "data": {"b": [["7403.89", "0.002"]], "a": [["7405.96", "3.340"]]}}
TICKER = {"ch": "ticker", "symbol": "BTCUSDT", "ts": NOW, "data": {"la": "86688.2"}}
PRICE = {"ch": "price", "symbol": "BTCUSDT", "ts": NOW,
         "data": {"ip": "86720.6", "mp": "86688.3", "fr": "-0.00077",
                  "ft": "2026-09-23T00:00:00Z", "nft": "2026-09-23T08:00:00Z"}}

# Values a hostile or broken server could put where a number belongs.
HOSTILE_NUMBERS: list[Any] = [
    "1e999999", "-1e999999", "1e-999999", "NaN", "nan", "Infinity", "-Infinity", "inf", "-0",
    "-0.0", "0", "", " 1", "1 ", "1_000", "١٢٣", "0x10", "1e13", "1e-13", "1" * 33,
    "9" * 40, "1e99999999999", "+1", "--1", ".", "1.2.3", "68581.4\x00",
    2**62, -(2**62), 2**64, 10**40, -1, 0, 1e308, 5e-324, True, False, None, [], {},
]  # every one of them is refused as a price
HOSTILE_TS: list[Any] = [
    2**62, 2**63 - 1, -(2**63), 10**30, -1, 0, 1, True, False, None, 1.5, 1e12,
    "1790126515684", [], {}, v.TS_MIN_MS - 1, v.TS_MAX_MS + 1,
]


def to_text(frame: Any) -> str:
    # The standard library writes what orjson refuses too (NaN, Infinity, ints beyond 64 bits),
    # so those reach the parser as text, as a hostile server could send them.
    return json.dumps(frame)


scalars = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
           | st.sampled_from(HOSTILE_NUMBERS))
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(["o", "h", "l", "c", "b", "q", "la", "a", "s", "result",
                                       "msg"]) | st.text(max_size=4), inner, max_size=6),
    max_leaves=25,
)
numbers = (st.sampled_from(HOSTILE_NUMBERS) | st.decimals(allow_nan=True).map(str)
           | st.decimals(min_value=Decimal("1e-12"), max_value=Decimal("1e12"), places=12)
           .map(lambda d: format(d.normalize(), "f"))
           | st.integers() | st.floats() | st.sampled_from(["68581.4", "0.002", "1", "0"]))
timestamps = (st.sampled_from(HOSTILE_TS) | st.integers()
              | st.integers(min_value=v.TS_MIN_MS, max_value=v.TS_MAX_MS) | json_values)
levels = st.lists(st.lists(numbers, min_size=0, max_size=3), max_size=3)
data_values = (
    st.fixed_dictionaries({}, optional={k: numbers for k in ("o", "h", "l", "c", "b", "q", "la")})
    | st.fixed_dictionaries({}, optional={"b": levels, "a": levels})
    | json_values
)
# Open-ended frames: any subset of the real keys, each with any value.
frames = st.fixed_dictionaries({}, optional={
    "op": st.sampled_from(["ping", "pong", "connect", "login", "subscribe", "unsubscribe",
                           "x"]) | json_values,
    "ch": st.sampled_from(["market_kline_1min", "mark_kline_5min", "depth_book1", "ticker",
                           "trade", "market_kline_1m"]) | json_values,
    "symbol": st.sampled_from(["BTCUSDT", "btcusdt", "ETHUSDT", "", "BTC-USDT", "ＢＴＣ"])
    | json_values,
    "ts": timestamps,
    "data": data_values,
    "pong": json_values,
})
# Real pushes with a few fields replaced: these reach the number checks (and sometimes stay
# valid, so the bounds of what gets through are checked too).
PATHS: list[tuple[Any, ...]] = [
    ("ts",), ("symbol",), ("ch",), ("data",), ("data", "o"), ("data", "h"), ("data", "l"),
    ("data", "c"), ("data", "b"), ("data", "q"), ("data", "la"), ("data", "a"),
    ("data", "b", 0, 0), ("data", "b", 0, 1), ("data", "a", 0, 0), ("data", "a", 0, 1),
]


# `price` pushes: ISO-ish settlement times (some impossible), any number where one belongs.
iso_like = st.builds(
    "{:04d}-{:02d}-{:02d}T{:02d}:{:02d}:{:02d}{}{}".format,
    st.integers(0, 9999), st.integers(0, 13), st.integers(0, 32), st.integers(0, 25),
    st.integers(0, 61), st.integers(0, 61),
    st.sampled_from(["", ".5", ".123456789", ".1234567890"]),
    st.sampled_from(["", "Z", "+01:00", "-0130", "+24:00", "z"]),
)
times = iso_like | timestamps | st.sampled_from(["", None, "2026-09-23T08:00:00Z"])
fields = {"mp": numbers, "ip": numbers, "fr": numbers | st.decimals().map(str),
          "ft": times, "nft": times}
price_frames = st.fixed_dictionaries(
    {"ch": st.just("price")},
    optional={"symbol": st.sampled_from(["BTCUSDT", "btcusdt", "", "BTC-USDT"]) | json_values,
              "ts": timestamps,
              "data": st.fixed_dictionaries({}, optional=fields) | json_values},
)


def replace_paths(base: dict[str, Any], changes: dict[tuple[Any, ...], Any]) -> dict[str, Any]:
    frame = json.loads(json.dumps(base))
    for path, value in changes.items():
        target = frame
        try:
            for key in path[:-1]:
                target = target[key]
            if isinstance(target, dict) or (isinstance(target, list) and path[-1] < len(target)):
                target[path[-1]] = copy.deepcopy(value)  # sampled [] and {} are shared
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed this path
    return frame


mutated_pushes = st.builds(
    replace_paths, st.sampled_from([KLINE, DEPTH, TICKER]),
    st.dictionaries(st.sampled_from(PATHS), numbers | timestamps, max_size=3),
)
any_text = frames.map(to_text) | mutated_pushes.map(to_text) | st.text(max_size=300)
any_input = any_text | st.binary(max_size=300)


def with_value(base: dict[str, Any], path: tuple[str, ...], value: Any) -> str:
    frame = json.loads(json.dumps(base))
    target = frame
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return to_text(frame)
