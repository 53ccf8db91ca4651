"""Deterministic hostile frames for fuzzing a client through a real socket (pure).

``fuzz_frames(seed, count, symbol)`` yields frames that a correct client subscribed to
``symbol`` must reject, one way or another: broken JSON, binary, non-objects, unknown ``op``
or channel, pushes for other symbols, and real-looking pushes for ``symbol`` with at least
one field broken (numbers that are non-finite, out of range, too long or not numbers at all,
timestamps that are not integers in 2015..2100, missing fields, wrong types, a crossed book,
low above high, empty levels), random nested JSON under the real keys, and (every
``oversized_every`` frames) a frame of ``oversized_bytes``. Nothing here is a valid push for
``symbol`` and nothing is a valid control reply, so the client should count every frame as
malformed exactly once. The ranges follow docs/market-data.md ("Parsing bounds");
tests/sim/test_fuzz.py checks the promise against the client's own parser.

The same seed, count and symbol always give the same frames.
"""

from __future__ import annotations

import json
import random
import string
from collections.abc import Callable, Iterator
from typing import Any

KINDS = ("bad_json", "binary", "not_object", "unknown_op", "no_route", "unknown_channel",
         "wrong_symbol", "bad_price", "bad_amount", "bad_ts", "missing_field", "wrong_type",
         "inconsistent", "random_json")
CONTROL_OPS = frozenset({"ping", "pong", "connect", "login", "subscribe", "unsubscribe"})
# Channel names no client of this protocol subscribes under (REST spellings, unsupported
# channels, typos).
UNKNOWN_CHANNELS = ("market_kline_1m", "market_kline_", "depth_books", "depth_book2", "trade",
                    "tickers", "Ticker", "mark_kline_1min", "kline_1min", "", " ")
# Refused as a price: non-finite, beyond 1e-12..1e12, not a plain ASCII decimal, wrong type.
BAD_PRICES: tuple[Any, ...] = (
    "1e999999", "-1e999999", "1e-999999", "NaN", "Infinity", "-Infinity", "inf", "-0", "0",
    "-1", "1e13", "1e-13", "1" * 33, "٦٥٠٠٠", "65_000", " 65000", "65000 ", "0x10", "+65000",
    "", ".", "6.5.0", None, True, False, [], {}, 2**62, 10**40, -5, 0, 1e300, -65000.5,
)
# Refused as a size or volume: non-finite, negative (-0 too), beyond 1e-12..1e18, not numbers.
BAD_AMOUNTS: tuple[Any, ...] = (
    "1e999999", "NaN", "Infinity", "-0", "-1", "1e19", "1e-13", "1" * 33, "١٢٣", "1_000",
    " 1", "", None, True, [], {}, 10**19, 10**40, -1, -0.5, 1e300,
)
# Refused as a WebSocket ts: not a JSON integer, or outside 2015-01-01..2100-01-01 (ms).
BAD_TS: tuple[Any, ...] = (
    2**62, 2**63 - 1, -(2**63), 10**30, -1, 0, 1, True, False, None, 1.5, 1.79e12,
    "1790126515684", [], {}, 1_420_070_399_999, 4_102_444_800_001, 1_000_000_000,
)
OTHER_SYMBOLS = ("ETHUSDT", "DOGEUSDT", "NEWCOINUSDT", "XRPUSDT", "1000PEPEUSDT")
BAD_SYMBOLS: tuple[Any, ...] = ("", "BTC-USDT", "BTC USDT", "ＢＴＣＵＳＤＴ", None, 5, [], {},
                                "X" * 40)
_PRICE_FIELDS = ("o", "h", "l", "c")
_TEXT = string.ascii_letters + string.digits + string.punctuation + " \t\n" + "éß€中😀"


class _Gen:
    """One fuzz stream: a seeded RNG plus the templates of real pushes."""

    def __init__(self, seed: int, symbol: str, now_ms: int) -> None:
        self.r = random.Random(f"fuzz:{seed}:{symbol}")
        self.symbol = symbol
        self.now_ms = now_ms

    # --- real-looking pushes ---------------------------------------------------------------
    def kline(self, symbol: str) -> dict[str, Any]:
        return {"ch": "market_kline_1min", "symbol": symbol, "ts": self.ts(),
                "data": {"o": "65000.1", "h": "65010.5", "l": "64990", "c": "65005.2",
                         "b": "12.3456", "q": "802469.32"}}

    def depth(self, symbol: str) -> dict[str, Any]:
        return {"ch": "depth_book1", "symbol": symbol, "ts": self.ts(),
                "data": {"b": [["65000.1", "1.2"]], "a": [["65000.2", "0.8"]]}}

    def ticker(self, symbol: str) -> dict[str, Any]:
        return {"ch": "ticker", "symbol": symbol, "ts": self.ts(),
                "data": {"s": symbol, "o": "64000", "la": "65000.1", "h": "65500",
                         "l": "63900", "b": "27478.1701", "q": "1786041097.61", "r": "1.56"}}

    def push(self, symbol: str | None = None) -> dict[str, Any]:
        make = self.r.choice((self.kline, self.depth, self.ticker))
        return make(self.symbol if symbol is None else symbol)

    def ts(self) -> int:
        return self.now_ms + self.r.randrange(-5_000, 5_000)

    def text(self, length: int) -> str:
        return "".join(self.r.choice(_TEXT) for _ in range(length))

    def scalar(self) -> Any:
        return self.r.choice((
            None, True, False, self.r.randrange(-(2**70), 2**70), self.r.random() * 1e6,
            self.text(self.r.randrange(0, 12)), self.r.choice(BAD_PRICES),
        ))

    def value(self, depth: int = 0) -> Any:
        roll = self.r.random()
        if depth >= 3 or roll < 0.5:
            return self.scalar()
        if roll < 0.75:
            return [self.value(depth + 1) for _ in range(self.r.randrange(0, 4))]
        keys = ("o", "h", "l", "c", "b", "q", "la", "a", "s", "data", "ts", "result", "x")
        return {self.r.choice(keys): self.value(depth + 1) for _ in range(self.r.randrange(4))}

    # --- the kinds -------------------------------------------------------------------------
    def bad_json(self) -> str:
        good = json.dumps(self.push())
        if self.r.random() < 0.5:
            return good[: self.r.randrange(1, len(good) - 1)]  # truncated
        return self.r.choice(("{", "}", "[", "{'op': 'ping'}", "NaN", "{\"ch\":}", "nul",
                              "\x00", "{\"a\":1,}", self.text(self.r.randrange(1, 60))))

    def binary(self) -> bytes:
        return bytes(self.r.randrange(256) for _ in range(self.r.randrange(1, 64)))

    def not_object(self) -> str:
        return json.dumps(self.r.choice(([self.push()], 42, "text", None, True, [], 1.5)))

    def unknown_op(self) -> str:
        op = self.r.choice(("pingx", "PING", "Ping", "pong ", "error", "", "login2",
                            self.text(self.r.randrange(1, 10))))
        if op in CONTROL_OPS:
            op += "?"
        return json.dumps({"op": op, "data": self.value(), "ts": self.ts()})

    def no_route(self) -> str:
        frame = self.push()
        del frame["ch"]
        if self.r.random() < 0.5:
            frame["op"] = self.r.choice((5, None, [], {}, True))  # not a string: no route
        return json.dumps(frame)

    def unknown_channel(self) -> str:
        frame = self.push()
        frame["ch"] = self.r.choice(UNKNOWN_CHANNELS)
        return json.dumps(frame)

    def wrong_symbol(self) -> str:
        symbol = self.r.choice((*OTHER_SYMBOLS, *BAD_SYMBOLS))
        frame = self.push("OTHER")
        if isinstance(symbol, str) and symbol.upper() == self.symbol:
            symbol = "OTHER" + symbol
        frame["symbol"] = symbol
        if "s" in frame["data"]:
            frame["data"]["s"] = symbol
        return json.dumps(frame)

    def bad_price(self) -> str:
        frame = self.push()
        data, bad = frame["data"], self.r.choice(BAD_PRICES)
        if frame["ch"] == "depth_book1":
            data[self.r.choice("ba")][0][0] = bad
        elif frame["ch"] == "ticker":
            data["la"] = bad
        else:
            data[self.r.choice(_PRICE_FIELDS)] = bad
        return json.dumps(frame)

    def bad_amount(self) -> str:
        frame = self.push(None)
        if frame["ch"] == "ticker":  # the client reads no amount there: break its price
            frame = self.kline(self.symbol)
        data, bad = frame["data"], self.r.choice(BAD_AMOUNTS)
        if frame["ch"] == "depth_book1":
            data[self.r.choice("ba")][0][1] = bad
        else:
            data[self.r.choice("bq")] = bad
        return json.dumps(frame)

    def bad_ts(self) -> str:
        frame = self.push()
        frame["ts"] = self.r.choice(BAD_TS)
        return json.dumps(frame)

    def missing_field(self) -> str:
        frame = self.push()
        if self.r.random() < 0.5:
            del frame[self.r.choice(("symbol", "ts", "data"))]
        elif frame["ch"] == "depth_book1":
            del frame["data"][self.r.choice("ba")]
        elif frame["ch"] == "ticker":
            del frame["data"]["la"]
        else:
            del frame["data"][self.r.choice((*_PRICE_FIELDS, "b", "q"))]
        return json.dumps(frame)

    def wrong_type(self) -> str:
        frame = self.push()
        choice = self.r.randrange(3)
        if choice == 0:
            frame["data"] = self.r.choice(([frame["data"]], "data", 5, None, True))
        elif choice == 1 and frame["ch"] == "depth_book1":
            side = self.r.choice("ba")
            frame["data"][side] = self.r.choice(({"0": ["1", "1"]}, "65000", [], ["65000", "1"],
                                                 [["65000"]], [[["65000", "1"]]]))
        else:
            frame["ts"] = str(frame["ts"])
        return json.dumps(frame)

    def inconsistent(self) -> str:
        kind = self.r.randrange(3)
        if kind == 0:  # low above high
            frame = self.kline(self.symbol)
            frame["data"]["l"], frame["data"]["h"] = "65010.5", "64990"
        elif kind == 1:  # crossed book
            frame = self.depth(self.symbol)
            frame["data"]["b"][0][0], frame["data"]["a"][0][0] = "65001", "65000"
        else:  # the server's answer for an unknown symbol
            frame = self.depth(self.symbol)
            frame["data"] = {"b": [["", ""]], "a": [["", ""]]}
        return json.dumps(frame)

    def random_json(self) -> str:
        frame: dict[str, Any] = {}
        for key in ("op", "ch", "symbol", "data"):
            if self.r.random() < 0.6:
                frame[key] = self.value()
        if isinstance(frame.get("op"), str) and frame["op"] in CONTROL_OPS:
            frame["op"] += "!"
        if self.r.random() < 0.5:
            frame["ch"] = self.r.choice(("market_kline_1min", "depth_book1", "ticker"))
            frame["symbol"] = self.symbol
        frame["ts"] = self.r.choice(BAD_TS)  # never a valid push, whatever else came out
        return json.dumps(frame)

    def oversized(self, size: int) -> str:
        frame = self.push()
        frame["data"] = {"pad": "x" * size}
        return json.dumps(frame)


def fuzz_frames(seed: int, count: int, symbol: str = "BTCUSDT", *, now_ms: int,
                oversized_every: int = 0, oversized_bytes: int = 4 * 1024 * 1024 + 1024,
                ) -> Iterator[tuple[str, str | bytes]]:
    """``count`` (kind, frame) pairs; lazily, so a large batch does not stall the event loop.

    ``now_ms`` is the simulated time the realistic parts of the frames use.
    """
    gen = _Gen(seed, symbol.upper(), now_ms)
    makers: dict[str, Callable[[], str | bytes]] = {kind: getattr(gen, kind) for kind in KINDS}
    for index in range(count):
        if oversized_every and index % oversized_every == oversized_every - 1:
            yield "oversized", gen.oversized(oversized_bytes)
            continue
        kind = gen.r.choice(KINDS)
        yield kind, makers[kind]()
