"""BitunixRestClient against the simulator's REST endpoints (real loopback HTTP)."""

from __future__ import annotations

import asyncio
import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from laptop_agents.config import load_settings
from laptop_agents.data.providers.bitunix_protocol import BitunixApiError, RateLimitedError
from laptop_agents.data.providers.bitunix_rest import (
    RETRY_ATTEMPTS,
    TRADING_PAIRS_PATH,
    BitunixRestClient,
)
from laptop_agents.data.providers.ratelimit import SlidingWindowLimiter
from tests.support.sim import fast_settings

from .conftest import MINUTE, assert_contiguous


async def test_klines_page_and_equal_the_ground_truth(sim: Any,
                                                      session: aiohttp.ClientSession) -> None:
    rest = BitunixRestClient(session, fast_settings(sim))
    candles = await rest.klines("btcusdt", "1min", limit=450)  # three pages of <= 200
    assert len(candles) == 450
    # a fresh client first learns the exchange's time from a reply's Date header
    assert rest.requests == 1 + 3
    assert_contiguous(candles)
    now = sim.clock.now_ms()
    # the in-progress candle is dropped; the newest returned one is closed
    assert candles[-1].open_time + MINUTE <= now < candles[-1].open_time + 2 * MINUTE + 5_000
    assert candles == sim.closed_candles("BTCUSDT", "1min", start_ms=candles[0].open_time,
                                         end_ms=candles[-1].open_time + MINUTE)
    # the simulator swaps the 1m volume field names like live; the client undoes it
    assert all(c.quote_volume > c.volume for c in candles)


async def test_klines_by_range_are_exact_and_end_exclusive(sim: Any,
                                                           session: aiohttp.ClientSession) -> None:
    rest = BitunixRestClient(session, fast_settings(sim))
    newest = await rest.klines("BTCUSDT", "1min", limit=1)
    end = newest[-1].open_time
    start = end - 10 * MINUTE
    ranged = await rest.klines("BTCUSDT", "1min", start_ms=start, end_ms=end)
    assert [c.open_time for c in ranged] == list(range(start, end, MINUTE))
    one = await rest.klines("BTCUSDT", "1min", start_ms=start, end_ms=start + MINUTE)
    assert one == ranged[:1]
    five = await rest.klines("BTCUSDT", "5min", start_ms=start - 30 * MINUTE, end_ms=end)
    assert five and all(c.open_time % (5 * MINUTE) == 0 for c in five)
    assert five == sim.closed_candles("BTCUSDT", "5min", start_ms=five[0].open_time,
                                      end_ms=five[-1].open_time + 5 * MINUTE)


async def test_instruments_and_depth(sim: Any, session: aiohttp.ClientSession) -> None:
    rest = BitunixRestClient(session, fast_settings(sim))
    instrument = await rest.instrument("BTCUSDT")
    assert instrument == sim.instrument("BTCUSDT")
    assert instrument.tick_size == Decimal("0.1")
    pairs = await rest.trading_pairs()
    assert "BTCUSDT" in pairs
    book = await rest.depth("BTCUSDT", 5)
    assert len(book.bids) == 5 and len(book.asks) == 5
    assert book.bids[0][0] < book.asks[0][0]
    with pytest.raises(ValueError):
        await rest.depth("BTCUSDT", 100)  # the demos' default; the server rejects it


async def test_api_errors_are_typed(sim: Any, session: aiohttp.ClientSession) -> None:
    rest = BitunixRestClient(session, fast_settings(sim))
    with pytest.raises(BitunixApiError) as error:
        await rest.klines("NOPEUSDT", "1min", limit=5)
    assert error.value.code == 20015
    with pytest.raises(BitunixApiError) as error:
        await rest.instrument("NOPEUSDT")
    with pytest.raises(BitunixApiError) as error:
        await rest.get("/api/v1/futures/market/no_such_path", {})
    assert error.value.code == 404


PAIR = {"symbol": "BTCUSDT", "base": "BTC", "quote": "USDT", "minTradeVolume": "0.0001",
        "basePrecision": 4, "quotePrecision": 1, "maxLeverage": 125}


async def _scripted_exchange(aiohttp_server: Any, codes: list[int]) -> tuple[Any, list[float]]:
    """A loopback REST server whose trading_pairs answers with ``codes`` in turn (the last one
    repeats), recording the arrival time of every request."""
    arrivals: list[float] = []

    async def pairs(request: web.Request) -> web.Response:
        arrivals.append(time.monotonic())
        code = codes[min(len(arrivals), len(codes)) - 1]
        if code:
            return web.json_response({"code": code, "data": None, "msg": "Too many requests"})
        return web.json_response({"code": 0, "data": [PAIR], "msg": "Success"})

    app = web.Application()
    app.router.add_get(TRADING_PAIRS_PATH, pairs)
    server = await aiohttp_server(app)  # 127.0.0.1, port 0
    return server, arrivals


def _client(session: aiohttp.ClientSession, server: Any, **kwargs: Any) -> BitunixRestClient:
    settings = load_settings(bitunix_rest_url=str(server.make_url("")).rstrip("/"))
    return BitunixRestClient(session, settings, **kwargs)


async def test_rest_rate_is_capped_at_ten_per_second(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    server, arrivals = await _scripted_exchange(aiohttp_server, [0])
    rest = _client(session, server)  # default LA_REST_MAX_REQUESTS_PER_SECOND = 10
    for _ in range(15):
        await rest.trading_pairs(["BTCUSDT"])
    assert len(arrivals) == 15
    # never an 11th request within one second of the first of ten ...
    assert all(arrivals[i] - arrivals[i - 10] >= 0.95 for i in range(10, 15))
    # ... but ten go out at once (the cap is ten, not lower)
    assert arrivals[9] - arrivals[0] < 0.9


async def test_rate_limited_replies_are_retried_with_growing_backoff(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    server, arrivals = await _scripted_exchange(aiohttp_server, [10005, 10006, 0])
    rest = _client(session, server, retry_initial=0.1)
    pairs = await rest.trading_pairs(["BTCUSDT"])
    assert pairs["BTCUSDT"].tick_size == Decimal("0.1")
    assert len(arrivals) == 3
    # 0.1 s (+ jitter <= 0.05) before the first retry, 0.2 s (+ jitter) before the second
    assert arrivals[1] - arrivals[0] >= 0.1
    assert arrivals[2] - arrivals[1] >= 0.2


async def test_rate_limiting_gives_up_after_four_attempts(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    server, arrivals = await _scripted_exchange(aiohttp_server, [10006])
    rest = _client(session, server, retry_initial=0.02)
    with pytest.raises(RateLimitedError) as error:
        await rest.trading_pairs(["BTCUSDT"])
    assert error.value.code == 10006
    assert len(arrivals) == RETRY_ATTEMPTS == 4


async def test_other_api_errors_are_not_retried(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    server, arrivals = await _scripted_exchange(aiohttp_server, [10002, 0])
    rest = _client(session, server, retry_initial=0.02)
    with pytest.raises(BitunixApiError) as error:
        await rest.trading_pairs(["BTCUSDT"])
    assert error.value.code == 10002 and not isinstance(error.value, RateLimitedError)
    assert len(arrivals) == 1


async def test_sliding_window_limiter_never_exceeds_its_rate() -> None:
    limiter = SlidingWindowLimiter(4, period=0.2, margin=0.0)
    stamps: list[float] = []
    for _ in range(12):
        await limiter.acquire()
        stamps.append(time.monotonic())
    for i in range(4, len(stamps)):
        assert stamps[i] - stamps[i - 4] >= 0.2 - 1e-3


async def test_many_symbols_share_the_rest_limiter_in_turn() -> None:
    """Warm-ups of several symbols run at once (SymbolSet.warm_up) and queue on one limiter:
    first come, first served, so each symbol's next page waits behind one request of each
    other symbol, never behind all of another symbol's history."""
    from laptop_agents.data.providers.ratelimit import SlidingWindowLimiter

    limiter = SlidingWindowLimiter(max_events=3, period=0.05, margin=0.0)
    order: list[str] = []

    async def warm_up(symbol: str) -> None:
        for _ in range(4):  # four pages of klines, one after the other
            await limiter.acquire()
            order.append(symbol)
            await asyncio.sleep(0.001)  # the request itself

    async with asyncio.TaskGroup() as group:
        for symbol in ("BTCUSDT", "ETHUSDT", "SOLUSDT"):
            group.create_task(warm_up(symbol))
    assert order == ["BTCUSDT", "ETHUSDT", "SOLUSDT"] * 4
