"""Funding over REST against a real loopback aiohttp server: the current quote, and the history
paged over more than 200 rows whichever order and end of the window the server prefers."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from laptop_agents.config import load_settings
from laptop_agents.data.providers.bitunix_rest import (
    FUNDING_HISTORY_PATH,
    FUNDING_RATE_PATH,
    BitunixRestClient,
)
from laptop_agents.data.providers.bitunix_rest_parse import (
    DEFAULT_PRICE_PROTECT_SCOPE,
    BitunixApiError,
    parse_trading_pair,
)
from laptop_agents.models import FundingQuote, FundingSettlement

HOUR = 3_600_000
T0 = 1_789_000_000_000 // HOUR * HOUR
ROWS = 450  # more than two pages of 200


def row(i: int) -> dict[str, Any]:
    """Settlement ``i``: hourly from T0, rate ``i/1000`` percent, times as strings or ints."""
    ts = T0 + i * HOUR
    return {"symbol": "BTCUSDT", "fundingRate": f"{(i % 7) - 3}.{i:03d}e-3",
            "fundingTime": str(ts) if i % 2 else ts, "markPrice": f"{60000 + i}.5"}


def settlement(i: int) -> FundingSettlement:
    wire = row(i)
    return FundingSettlement(symbol="BTCUSDT", ts=T0 + i * HOUR,
                             rate=Decimal(wire["fundingRate"]).scaleb(-2),
                             mark=Decimal(wire["markPrice"]))


def _time(wire: Any) -> int:
    """A row's time as the server sorts it; a broken row sorts (and is kept) with T0."""
    try:
        return int(wire["fundingTime"])
    except (KeyError, TypeError, ValueError):
        return T0


@dataclass
class History:
    """A funding history endpoint: keeps ``limit`` rows of the window from the ``keep`` end,
    lists them in ``order``, reads the bounds as inclusive or exclusive, may repeat rows."""

    keep: str = "newest"
    order: str = "newest"
    exclusive: bool = False
    repeat: bool = False
    rows: list[dict[str, Any]] = field(default_factory=lambda: [row(i) for i in range(ROWS)])
    queries: list[dict[str, str]] = field(default_factory=list)

    async def handler(self, request: web.Request) -> web.Response:
        query = dict(request.query)
        self.queries.append(query)
        low = int(query["starTime"])
        high = int(query.get("endTime", 2**62))
        limit = int(query["limit"])
        if self.exclusive:
            low, high = low + 1, high - 1
        window = sorted((r for r in self.rows if low <= _time(r) <= high), key=_time)
        if self.repeat:  # every row twice: a full page holds half as many settlements
            window = [r for r in window for _ in (0, 1)]
        page = window[-limit:] if self.keep == "newest" else window[:limit]
        if self.order == "newest":
            page.reverse()
        return web.json_response({"code": 0, "data": page, "msg": "Success"})


async def client(aiohttp_server: Any, session: aiohttp.ClientSession,
                 routes: dict[str, Any]) -> BitunixRestClient:
    app = web.Application()
    for path, handler in routes.items():
        app.router.add_get(path, handler)
    server = await aiohttp_server(app)
    settings = load_settings(bitunix_rest_url=str(server.make_url("")).rstrip("/"),
                             rest_max_requests_per_second=1000)
    return BitunixRestClient(session, settings, retry_initial=0.01)


@pytest.mark.parametrize("history", [
    History(keep="newest", order="newest"),
    History(keep="oldest", order="oldest"),
    History(keep="oldest", order="newest"),
    History(keep="newest", order="oldest", exclusive=True),
    History(keep="newest", order="newest", repeat=True),
], ids=["newest-first", "oldest-first", "oldest-kept-listed-newest-first",
        "exclusive-bounds", "repeated-rows"])
async def test_history_pages_over_the_whole_window_in_either_order(
    aiohttp_server: Any, session: aiohttp.ClientSession, history: History
) -> None:
    rest = await client(aiohttp_server, session, {FUNDING_HISTORY_PATH: history.handler})
    got = await rest.funding_history("btcusdt", T0)
    assert got == [settlement(i) for i in range(ROWS)]  # oldest first, one per ts
    assert len(history.queries) >= 3  # it took several pages
    for query in history.queries:
        assert query["symbol"] == "BTCUSDT" and query["limit"] == "200"
        assert query["startTime"] == query["starTime"]  # both spellings, one value
    assert "endTime" not in history.queries[0]  # no end asked for: none sent at first
    # about two requests per 200-row page, not one per row
    assert len(history.queries) <= 2 * (ROWS * (2 if history.repeat else 1) // 199 + 2)


@pytest.mark.parametrize("keep", ["newest", "oldest"])
async def test_history_is_filtered_to_the_window_with_both_bounds_inclusive(
    aiohttp_server: Any, session: aiohttp.ClientSession, keep: str
) -> None:
    history = History(keep=keep, order=keep)
    rest = await client(aiohttp_server, session, {FUNDING_HISTORY_PATH: history.handler})
    got = await rest.funding_history("BTCUSDT", T0 + 10 * HOUR, T0 + 420 * HOUR)
    assert got == [settlement(i) for i in range(10, 421)]
    assert all("endTime" in q for q in history.queries)
    between = await rest.funding_history("BTCUSDT", T0 + 10 * HOUR + 1, T0 + 11 * HOUR - 1)
    assert between == []
    assert await rest.funding_history("BTCUSDT", T0 + 5 * HOUR, T0 + 4 * HOUR) == []


async def test_bad_history_rows_are_skipped_and_an_empty_reply_is_no_history(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    bad = [{"fundingRate": "abc", "fundingTime": T0, "markPrice": "1"},
           {"fundingRate": "0.01", "markPrice": "1"},  # no time
           {"fundingRate": "6", "fundingTime": T0 + 1, "markPrice": "1"},  # 6 %: beyond bound
           {"symbol": "ETHUSDT", "fundingRate": "0.01", "fundingTime": T0 + 2, "markPrice": "1"},
           "not a row"]
    history = History(rows=[row(i) for i in range(3)] + bad)
    empty = History(rows=[])

    async def null(request: web.Request) -> web.Response:
        return web.json_response({"code": 0, "data": None, "msg": "Success"})

    rest = await client(aiohttp_server, session, {FUNDING_HISTORY_PATH: history.handler})
    assert await rest.funding_history("BTCUSDT", T0) == [settlement(i) for i in range(3)]
    for handler in (empty.handler, null):
        rest = await client(aiohttp_server, session, {FUNDING_HISTORY_PATH: handler})
        assert await rest.funding_history("BTCUSDT", T0) == []


async def test_a_server_ignoring_the_window_does_not_loop(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    calls: list[int] = []

    async def same_page(request: web.Request) -> web.Response:
        calls.append(1)  # always the newest 200, whatever was asked
        data = [row(i) for i in range(ROWS - 1, ROWS - 201, -1)]
        return web.json_response({"code": 0, "data": data, "msg": "Success"})

    rest = await client(aiohttp_server, session, {FUNDING_HISTORY_PATH: same_page})
    got = await rest.funding_history("BTCUSDT", T0)
    assert got == [settlement(i) for i in range(ROWS - 200, ROWS)]
    assert len(calls) <= 3  # the first page, then one per side that added nothing


@pytest.mark.parametrize(("data", "expected"), [
    ({"symbol": "BTCUSDT", "markPrice": "86688.3", "lastPrice": "86690", "fundingRate": "0.01",
      "nextFundingTime": "1790150400000"},
     FundingQuote("BTCUSDT", Decimal("0.0001"), Decimal("86688.3"), 1_790_150_400_000)),
    ([{"markPrice": "86688.3", "lastPrice": "86690", "fundingRate": "-0.00077",
       "nextFundingTime": 1_790_150_400_000}],
     FundingQuote("BTCUSDT", Decimal("-0.0000077"), Decimal("86688.3"), 1_790_150_400_000)),
    ({"markPrice": 86688.3, "fundingRate": 0.005},  # numbers, no time
     FundingQuote("BTCUSDT", Decimal("0.00005"), Decimal("86688.3"), None)),
])
async def test_funding_rate_reads_an_object_or_a_one_element_list(
    aiohttp_server: Any, session: aiohttp.ClientSession, data: Any, expected: FundingQuote
) -> None:
    queries: list[dict[str, str]] = []

    async def quote(request: web.Request) -> web.Response:
        queries.append(dict(request.query))
        return web.json_response({"code": 0, "data": data, "msg": "Success"})

    rest = await client(aiohttp_server, session, {FUNDING_RATE_PATH: quote})
    assert await rest.funding_rate("btcusdt") == expected
    assert queries == [{"symbol": "BTCUSDT"}]


@pytest.mark.parametrize("data", [
    None, [], [{"markPrice": "1", "fundingRate": "0"}] * 2, {"markPrice": "1"},
    {"fundingRate": "0.01"}, {"markPrice": "1", "fundingRate": "7"},
    {"symbol": "ETHUSDT", "markPrice": "1", "fundingRate": "0"},
    {"markPrice": "1", "fundingRate": "0", "nextFundingTime": "soon"},
])
async def test_a_bad_funding_rate_reply_is_an_api_error(
    aiohttp_server: Any, session: aiohttp.ClientSession, data: Any
) -> None:
    async def quote(request: web.Request) -> web.Response:
        return web.json_response({"code": 0, "data": data, "msg": "Success"})

    rest = await client(aiohttp_server, session, {FUNDING_RATE_PATH: quote})
    with pytest.raises(BitunixApiError) as error:
        await rest.funding_rate("BTCUSDT")
    assert error.value.code == -1


async def test_funding_calls_share_the_retry_path(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    arrivals: list[str] = []

    async def limited(request: web.Request) -> web.Response:
        arrivals.append(request.path)
        if len(arrivals) % 2:  # every first try is rate limited
            return web.json_response({"code": 10006, "data": None, "msg": "too frequently"})
        if request.path == FUNDING_RATE_PATH:
            data: Any = {"markPrice": "1", "fundingRate": "0"}
        else:
            data = [row(0)]
        return web.json_response({"code": 0, "data": data, "msg": "Success"})

    rest = await client(aiohttp_server, session,
                        {FUNDING_RATE_PATH: limited, FUNDING_HISTORY_PATH: limited})
    assert (await rest.funding_rate("BTCUSDT")).rate == 0
    assert await rest.funding_history("BTCUSDT", T0) == [settlement(0)]
    assert arrivals == [FUNDING_RATE_PATH] * 2 + [FUNDING_HISTORY_PATH] * 2
    assert rest.requests == 4


PAIR = {"symbol": "BTCUSDT", "quotePrecision": 1, "basePrecision": 4,
        "minTradeVolume": "0.0001", "maxLeverage": 125, "symbolStatus": "OPEN"}


@pytest.mark.parametrize(("value", "scope"), [
    ("0.02", "0.02"), ("0.05", "0.05"), (0.03, "0.03"), (1, "1"),
    (None, DEFAULT_PRICE_PROTECT_SCOPE), ("", DEFAULT_PRICE_PROTECT_SCOPE),
    ("abc", DEFAULT_PRICE_PROTECT_SCOPE), ("0", DEFAULT_PRICE_PROTECT_SCOPE),
    ("-0.02", DEFAULT_PRICE_PROTECT_SCOPE), ("2", DEFAULT_PRICE_PROTECT_SCOPE),
    ("NaN", DEFAULT_PRICE_PROTECT_SCOPE), (True, DEFAULT_PRICE_PROTECT_SCOPE),
    ([], DEFAULT_PRICE_PROTECT_SCOPE),
])
def test_trading_pairs_carry_the_price_protect_scope(value: Any, scope: Any) -> None:
    pair = dict(PAIR) if value is None else dict(PAIR, priceProtectScope=value)
    instrument = parse_trading_pair(pair)
    assert instrument.price_protect_scope == Decimal(scope)
    assert instrument.tradable  # a bad scope never costs the row
