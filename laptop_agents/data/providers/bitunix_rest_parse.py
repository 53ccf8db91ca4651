"""Bitunix futures REST replies -> models (pure): the envelope, kline rows, trading pairs, depth,
funding (the current quote and past settlements; rates in percent on the wire, fractions here).

Every number goes through the bounds of :mod:`bitunix_values`; a row that breaks one raises
:class:`MalformedFrame` and the REST client skips it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from decimal import Decimal

from laptop_agents.data.providers.bitunix_values import (
    MAX_LEVERAGE,
    MAX_PRECISION,
    MalformedFrame,
    amount,
    bounded_int,
    funding_fraction,
    price,
    settlement_ms,
    symbol_name,
    timestamp_ms,
    to_decimal,
)
from laptop_agents.models import Candle, FundingQuote, FundingSettlement, Instrument

RATE_LIMIT_CODES = frozenset({10005, 10006})
# A row without `symbolStatus` is listed but not known to be open: not tradable.
UNKNOWN_STATUS = "UNKNOWN"
_STATUS = re.compile(r"[A-Za-z_]{1,32}")
# `priceProtectScope` when a row lacks it or carries nonsense: the value every live row shows.
DEFAULT_PRICE_PROTECT_SCOPE = Decimal("0.02")


class BitunixApiError(Exception):
    """A REST reply with ``code != 0`` (errors arrive as HTTP 200) or a non-200 HTTP status."""

    def __init__(self, code: int, msg: str) -> None:
        super().__init__(f"Bitunix API error {code}: {msg}")
        self.code = code
        self.msg = msg


class RateLimitedError(BitunixApiError):
    """Codes 10005 ("Too many requests") and 10006 ("Request too frequently")."""


def _dict(value: object, what: str) -> dict[str, object]:
    if not isinstance(value, dict):
        raise MalformedFrame(f"{what}: expected an object")
    return value


def parse_rest_envelope(payload: object) -> object:
    """The ``data`` of a ``{"code","data","msg"}`` reply; typed errors for ``code != 0``."""
    if not isinstance(payload, dict) or "code" not in payload:
        raise BitunixApiError(-1, "reply is not a {code, data, msg} envelope")
    try:
        code = bounded_int(payload["code"], "code", -(2**31), 2**31)
    except MalformedFrame:
        raise BitunixApiError(-1, f"non-integer code {str(payload['code'])[:40]!r}") from None
    if code != 0:
        msg = str(payload.get("msg", ""))[:300]
        if code in RATE_LIMIT_CODES:
            raise RateLimitedError(code, msg)
        raise BitunixApiError(code, msg)
    return payload.get("data")


def split_volumes(close: Decimal, first: Decimal, second: Decimal) -> tuple[Decimal, Decimal]:
    """(base, quote) of two volume fields whose names are unreliable (reference 6.3).

    The quote turnover is about ``close x`` the base volume, so pick the assignment whose
    product matches best. Works for prices above and below 1.
    """
    if first == 0 and second == 0:
        return first, second
    error_first_is_base = abs(second - close * first)
    error_second_is_base = abs(first - close * second)
    if error_first_is_base <= error_second_is_base:
        return first, second
    return second, first


def parse_kline_row(row: object, symbol: str, interval: str) -> Candle:
    data = _dict(row, "kline row")
    close = price(data.get("close"), "close")
    base, quote = split_volumes(close, amount(data.get("quoteVol"), "quoteVol"),
                                amount(data.get("baseVol"), "baseVol"))
    high, low = price(data.get("high"), "high"), price(data.get("low"), "low")
    if low > high:
        raise MalformedFrame("kline row low above high")
    return Candle(
        symbol=symbol, interval=interval,
        open_time=timestamp_ms(data.get("time"), "time", strings=True),
        open=price(data.get("open"), "open"), high=high, low=low, close=close,
        volume=base, quote_volume=quote,
    )


def _status(value: object) -> str:
    if value is None:
        return UNKNOWN_STATUS
    if not isinstance(value, str) or not _STATUS.fullmatch(value):
        raise MalformedFrame("symbolStatus: expected a status word")
    return value.upper()


def _api_supported(value: object) -> bool:
    # Missing: rows of the older documented shape lack the field; nothing says "disabled".
    if value is None:
        return True
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    raise MalformedFrame("isApiSupported: expected a boolean")


def _protect_scope(value: object) -> Decimal:
    """``priceProtectScope``, a fraction of the mark (``"0.02"``). Missing or invalid falls
    back to the default rather than refusing the row: the symbol stays tradable, and the
    broker still refuses orders far from the mark."""
    try:
        scope = to_decimal(value, "priceProtectScope")
    except MalformedFrame:
        return DEFAULT_PRICE_PROTECT_SCOPE
    return scope if 0 < scope <= 1 else DEFAULT_PRICE_PROTECT_SCOPE


def parse_trading_pair(row: object) -> Instrument:
    data = _dict(row, "trading pair")
    quote_precision = bounded_int(data.get("quotePrecision"), "quotePrecision", 0, MAX_PRECISION)
    base_precision = bounded_int(data.get("basePrecision"), "basePrecision", 0, MAX_PRECISION)
    return Instrument(
        symbol=symbol_name(data.get("symbol")),
        tick_size=Decimal(1).scaleb(-quote_precision),
        lot_step=Decimal(1).scaleb(-base_precision),
        min_qty=amount(data.get("minTradeVolume", "0"), "minTradeVolume"),
        max_leverage=bounded_int(data.get("maxLeverage", 125), "maxLeverage", 1, MAX_LEVERAGE),
        status=_status(data.get("symbolStatus")),
        api_supported=_api_supported(data.get("isApiSupported")),
        price_protect_scope=_protect_scope(data.get("priceProtectScope")),
    )


@dataclass(frozen=True, slots=True)
class DepthSnapshot:
    """REST order book: levels best first, (price, size)."""

    bids: list[tuple[Decimal, Decimal]]
    asks: list[tuple[Decimal, Decimal]]


def parse_depth(data: object) -> DepthSnapshot:
    book = _dict(data, "depth")

    def levels(raw: object, side: str) -> list[tuple[Decimal, Decimal]]:
        if not isinstance(raw, list):
            raise MalformedFrame(f"depth {side} is not a list")
        out = []
        for level in raw:
            if not isinstance(level, list) or len(level) < 2 or level[0] == "":
                raise MalformedFrame(f"depth {side}: bad level")
            out.append((price(level[0], "price"), amount(level[1], "size")))
        return out

    return DepthSnapshot(
        bids=levels(book.get("bids"), "bids"), asks=levels(book.get("asks"), "asks")
    )


def parse_funding_quote(data: object, symbol: str) -> FundingQuote:
    """``funding_rate``'s data: an object, or (some clients say) a one-element list of it.
    ``lastPrice`` is not needed and not required; ``nextFundingTime`` is optional."""
    if isinstance(data, list):
        if len(data) != 1:
            raise MalformedFrame(f"funding rate: a list of {len(data)} rows, expected one")
        data = data[0]
    row = _dict(data, "funding rate")
    _same_symbol(row, symbol)
    return FundingQuote(
        symbol=symbol, rate=funding_fraction(row.get("fundingRate"), "fundingRate"),
        mark=price(row.get("markPrice"), "markPrice"),
        next_settlement_ms=settlement_ms(row.get("nextFundingTime"), "nextFundingTime"),
    )


def parse_funding_row(row: object, symbol: str) -> FundingSettlement:
    """One ``get_funding_rate_history`` row; ``fundingTime`` is required (ms, int or string)."""
    data = _dict(row, "funding history row")
    _same_symbol(data, symbol)
    return FundingSettlement(
        symbol=symbol, ts=timestamp_ms(data.get("fundingTime"), "fundingTime", strings=True),
        rate=funding_fraction(data.get("fundingRate"), "fundingRate"),
        mark=price(data.get("markPrice"), "markPrice"),
    )


def _same_symbol(row: dict[str, object], symbol: str) -> None:
    # Rows may name their symbol; one naming another symbol is not an answer to our request.
    if "symbol" in row and symbol_name(row["symbol"]) != symbol:
        raise MalformedFrame(f"a row for {symbol_name(row['symbol'])}, asked for {symbol}")
