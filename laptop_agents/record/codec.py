"""Records of a recording, to and from msgpack values (docs/replay.md has the table).

Every record is a msgpack array whose first element is its tag. Market items are spelled out
field by field (a Tick is ~70 bytes before compression, no field names); Decimals travel as
their exact strings, so ``Decimal(str(d)) == d`` with the same exponent. REST answers travel
as msgspec's encoding of the dataclass and are decoded back into the type the method returns.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

import msgspec

from laptop_agents.data.providers.bitunix_rest_parse import DepthSnapshot
from laptop_agents.models import (
    Candle,
    ConnectionEvent,
    ConnectionState,
    FundingQuote,
    FundingSettlement,
    Instrument,
    MarketEvent,
    MarkPrice,
    Tick,
)
from laptop_agents.session.timeline import Stamp

TICK, CANDLE, MARK, CONNECTION, SPEED, POINT, END, NEXT = range(8)

# The REST methods the engine calls, with the type each returns.
ANSWER_TYPES: dict[str, Any] = {
    "klines": list[Candle],
    "depth": DepthSnapshot,
    "instrument": Instrument,
    "funding_rate": FundingQuote,
    "funding_history": list[FundingSettlement],
}


class RecordingError(Exception):
    """A recording that cannot be read (truncated, corrupt, unknown version)."""


@dataclass(frozen=True, slots=True)
class Point:
    """A time-dependent step: its kind, its stamp, and for a REST answer what came back."""

    kind: str
    stamp: Stamp
    answer: object = None  # the decoded answer (replay) or the value returned (recording)
    error: str | None = None  # the REST call raised: its description


@dataclass(frozen=True, slots=True)
class Item:
    """An item of the market stream and the monotonic time it reached the engine."""

    event: MarketEvent
    mono: float


Record = Item | Point | float | tuple[int, str]  # float: a new exchange speed; tuple: END/NEXT


def _d(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _D(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def encode_item(item: MarketEvent, mono: float) -> list[object]:
    if isinstance(item, Tick):
        return [TICK, mono, item.symbol, str(item.bid), str(item.ask), str(item.bid_size),
                str(item.ask_size), _d(item.last), item.ts]
    if isinstance(item, Candle):
        return [CANDLE, mono, item.symbol, item.interval, item.open_time, str(item.open),
                str(item.high), str(item.low), str(item.close), str(item.volume),
                str(item.quote_volume), item.closed, item.confirmed]
    if isinstance(item, MarkPrice):
        return [MARK, mono, item.symbol, str(item.mark), str(item.index),
                str(item.funding_rate), item.last_settlement_ms, item.next_settlement_ms,
                item.ts]
    return [CONNECTION, mono, item.state.value, item.reason, item.outage_s, item.at]


def encode_point(point: Point) -> list[object]:
    s = point.stamp
    method = point.kind.removeprefix("rest.")
    answer = None
    if point.error is None and method in ANSWER_TYPES and point.kind.startswith("rest."):
        answer = msgspec.msgpack.encode(point.answer)
    return [POINT, point.kind, s.now_ms, s.mono, s.speed, s.value, answer, point.error]


def _decode_item(tag: int, r: list[Any]) -> Item:
    if tag == TICK:
        return Item(Tick(r[2], Decimal(r[3]), Decimal(r[4]), Decimal(r[5]), Decimal(r[6]),
                         _D(r[7]), r[8]), r[1])
    if tag == CANDLE:
        return Item(Candle(r[2], r[3], r[4], Decimal(r[5]), Decimal(r[6]), Decimal(r[7]),
                           Decimal(r[8]), Decimal(r[9]), Decimal(r[10]), r[11], r[12]), r[1])
    if tag == MARK:
        return Item(MarkPrice(r[2], Decimal(r[3]), Decimal(r[4]), Decimal(r[5]), r[6], r[7],
                              r[8]), r[1])
    return Item(ConnectionEvent(ConnectionState(r[2]), r[3], r[4], r[5]), r[1])


def decode_record(raw: object) -> Record:
    """One record from its msgpack value; RecordingError when it is not one."""
    try:
        if not isinstance(raw, list) or not raw:
            raise ValueError("not a record")
        r: list[Any] = raw
        tag = r[0]
        if tag in (TICK, CANDLE, MARK, CONNECTION):
            return _decode_item(tag, r)
        if tag == SPEED:
            return float(r[1])
        if tag == POINT:
            kind, answer = r[1], None
            method = kind.removeprefix("rest.")
            if r[6] is not None:
                answer = msgspec.msgpack.decode(r[6], type=ANSWER_TYPES[method])
            return Point(kind, Stamp(int(r[2]), float(r[3]), float(r[4]), r[5]), answer, r[7])
        if tag in (END, NEXT):
            return (tag, str(r[1]) if len(r) > 1 else "")
        raise ValueError(f"unknown tag {tag!r}")
    except (ValueError, TypeError, IndexError, KeyError, ArithmeticError,
            msgspec.MsgspecError) as error:
        raise RecordingError(f"a record cannot be decoded ({error})") from None


__all__ = ["ANSWER_TYPES", "CANDLE", "CONNECTION", "END", "MARK", "NEXT", "POINT", "SPEED",
           "TICK", "Item", "Point", "Record", "RecordingError", "decode_record", "encode_item",
           "encode_point"]
