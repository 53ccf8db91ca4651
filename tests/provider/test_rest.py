"""BitunixRestClient against the simulator's REST endpoints (real loopback HTTP)."""

from __future__ import annotations

import time
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from laptop_agents.data.providers.bitunix_protocol import BitunixApiError
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.data.providers.ratelimit import SlidingWindowLimiter

from .conftest import MINUTE, assert_contiguous, fast_settings


async def test_klines_page_and_equal_the_ground_truth(sim: Any,
                                                      session: aiohttp.ClientSession) -> None:
    rest = BitunixRestClient(session, fast_settings(sim), sim.clock)
    candles = await rest.klines("btcusdt", "1min", limit=450)  # three pages of <= 200
    assert len(candles) == 450
    assert rest.requests == 3
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
    rest = BitunixRestClient(session, fast_settings(sim), sim.clock)
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
    rest = BitunixRestClient(session, fast_settings(sim), sim.clock)
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
    rest = BitunixRestClient(session, fast_settings(sim), sim.clock)
    with pytest.raises(BitunixApiError) as error:
        await rest.klines("NOPEUSDT", "1min", limit=5)
    assert error.value.code == 20015
    with pytest.raises(BitunixApiError) as error:
        await rest.instrument("NOPEUSDT")
    with pytest.raises(BitunixApiError) as error:
        await rest.get("/api/v1/futures/market/no_such_path", {})
    assert error.value.code == 404


async def test_rest_rate_is_capped(sim: Any, session: aiohttp.ClientSession) -> None:
    rest = BitunixRestClient(session, fast_settings(sim, rest_max_requests_per_second=10),
                             sim.clock)
    started = time.monotonic()
    for _ in range(11):
        await rest.trading_pairs(["BTCUSDT"])
    # 11 requests at <= 10 per second cannot finish within one second
    assert time.monotonic() - started >= 1.0


async def test_sliding_window_limiter_never_exceeds_its_rate() -> None:
    limiter = SlidingWindowLimiter(4, period=0.2, margin=0.0)
    stamps: list[float] = []
    for _ in range(12):
        await limiter.acquire()
        stamps.append(time.monotonic())
    for i in range(4, len(stamps)):
        assert stamps[i] - stamps[i - 4] >= 0.2 - 1e-3
