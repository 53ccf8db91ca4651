"""The deep history: any past range as a pure function of (seed, symbol, time), every REST
interval in full pages, intervals that agree, and no seam where the detailed model starts."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime
from typing import Any

import pytest

from laptop_agents.sim.contracts import SPECS
from laptop_agents.sim.deep import DAY_MS, DEEP_START_MS, DeepMarket
from laptop_agents.sim.market import SymbolMarket, origin_for
from laptop_agents.sim.records import HOUR_MS, MINUTE_MS, Agg
from laptop_agents.sim.server import SimExchange

from .helpers import rest

KLINE = "/api/v1/futures/market/kline"
START = 1_790_000_040_000
PAST = int(datetime(2020, 3, 17, 5, 0, tzinfo=UTC).timestamp()) * 1000
REST_INTERVALS = ["1m", "5m", "15m", "30m", "1h", "2h", "4h", "6h", "8h", "12h", "1d", "3d",
                  "1w", "1M"]


def _merged(parts: list[Agg]) -> Agg:
    agg = parts[0].copy()
    for part in parts[1:]:
        agg.merge(part)
    return agg


def test_the_past_depends_on_seed_and_time_not_on_the_start() -> None:
    early = SymbolMarket(SPECS["BTCUSDT"], 42, origin_for(START, 1000))
    late = SymbolMarket(SPECS["BTCUSDT"], 42, origin_for(START + 90 * DAY_MS, 60))
    other = SymbolMarket(SPECS["BTCUSDT"], 43, origin_for(START, 1000))
    minutes = [PAST + k * MINUTE_MS for k in range(180)]
    assert [early.minute(m) for m in minutes] == [late.minute(m) for m in minutes]
    assert [early.minute(m) for m in minutes] != [other.minute(m) for m in minutes]
    # The cold path (nothing cached, asked in another order) gives the same candles.
    fresh = DeepMarket(SPECS["BTCUSDT"], 42)
    assert [fresh.minute(m) for m in reversed(minutes)][::-1] == \
        [early.minute(m) for m in minutes]
    assert early.span(PAST, PAST + 30 * DAY_MS, START) == fresh.span(PAST, PAST + 30 * DAY_MS)


@pytest.mark.parametrize("symbol", ["BTCUSDT", "ETHUSDT"])
def test_an_hour_is_its_minutes_and_a_day_its_hours(symbol: str) -> None:
    deep = DeepMarket(SPECS[symbol], 5)
    day = PAST // DAY_MS
    hours = deep.day_path(day).aggs
    for h in range(24):
        minutes = [deep.minute(day * DAY_MS + h * HOUR_MS + k * MINUTE_MS) for k in range(60)]
        assert _merged(minutes) == hours[h]
    assert _merged(hours) == deep.day_agg(day)
    # Any span merges whole days, hours and minutes into the same sums as its minutes.
    start, end = day * DAY_MS + 7 * MINUTE_MS, day * DAY_MS + DAY_MS + 5 * HOUR_MS + 3 * MINUTE_MS
    by_minute = [deep.minute(m) for m in range(start, end, MINUTE_MS)]
    assert deep.span(start, end) == _merged(by_minute)


def test_a_simulated_year_is_plausible() -> None:
    deep = DeepMarket(SPECS["BTCUSDT"], 11)
    first = PAST // DAY_MS
    days = [deep.day_agg(d) for d in range(first, first + 365)]
    for a, b in itertools.pairwise(days):
        assert b.open == a.close  # a day opens where the previous one closed
    for agg in days:
        assert 0 < agg.low <= min(agg.open, agg.close) <= max(agg.open, agg.close) <= agg.high
        assert agg.high < 1.6 * agg.low  # no day spans more than +60 %
        assert agg.low * agg.volume <= agg.quote <= agg.high * agg.volume
        assert 2_000 * 10_000 < agg.volume < 100_000 * 10_000  # BTC a day, in lots
    closes = [d.close for d in days]
    assert max(closes) < 5 * min(closes)
    for d in range(first, first + 365, 61):  # minutes of a few days in detail
        for h in (3, 15):
            for agg in deep.hour_path(d * DAY_MS + h * HOUR_MS).aggs:
                assert 0 < agg.low <= min(agg.open, agg.close)
                assert max(agg.open, agg.close) <= agg.high < 1.05 * agg.low
                assert agg.volume >= 1 and agg.low * agg.volume <= agg.quote <= \
                    agg.high * agg.volume


def test_the_live_model_continues_the_deep_one_at_the_origin() -> None:
    for seed in range(8):
        origin = origin_for(START, 1000)
        market = SymbolMarket(SPECS["BTCUSDT"], seed, origin)
        market.advance(origin + HOUR_MS)
        last_deep, first_live = market.minute(origin - MINUTE_MS), market.minute(origin)
        assert last_deep is not None and first_live is not None
        # Within a normal 1-minute move (a few tenths of a percent), and a straddling candle
        # joins both.
        assert abs(first_live.open - last_deep.close) < 0.003 * last_deep.close
        hour = market.candle(2 * HOUR_MS, origin - HOUR_MS, origin + HOUR_MS - 1)
        assert hour is not None and hour.open == market.minute(origin - HOUR_MS).open  # type: ignore[union-attr]


def _bucket_ok(interval: str, t: int) -> bool:
    moment = datetime.fromtimestamp(t / 1000, UTC)
    if interval == "1w":
        return moment.weekday() == 0 and (moment.hour, moment.minute) == (0, 0)
    if interval == "1M":
        return (moment.day, moment.hour, moment.minute) == (1, 0, 0)
    return True


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"start_ms": START, "history_minutes": 60}


@pytest.mark.parametrize("interval", REST_INTERVALS)
async def test_every_interval_pages_200_rows_far_in_the_past(
        sim: SimExchange, session: Any, interval: str) -> None:
    end = int(datetime(2024, 1, 1, tzinfo=UTC).timestamp()) * 1000
    body = await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval=interval,
                      endTime=end, limit=200)
    assert body["code"] == 0
    rows = body["data"]
    assert len(rows) == 200
    times = [int(r["time"]) for r in rows]
    assert times == sorted(times, reverse=True) and times[0] < end
    assert all(_bucket_ok(interval, t) for t in times)
    for newer, older in itertools.pairwise(rows):  # contiguous: each opens at the last close
        assert newer["open"] == older["close"]
    # The next page goes on where this one stopped, and a range is a page's slice.
    more = await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval=interval,
                      endTime=times[-1], limit=3)
    assert int(more["data"][0]["time"]) < times[-1]
    assert more["data"][0]["close"] == rows[-1]["open"]
    ranged = await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval=interval,
                        startTime=times[9], endTime=times[4])
    assert ranged["data"] == rows[5:10]


async def test_rows_straddling_the_origin_join_both_models(
        sim: SimExchange, session: Any) -> None:
    body = await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval="1m",
                      endTime=sim.origin_ms + 3 * MINUTE_MS, limit=6)
    rows = body["data"][::-1]
    truth = sim.closed_candles("BTCUSDT", "1m", sim.origin_ms - 3 * MINUTE_MS,
                               sim.origin_ms + 3 * MINUTE_MS)
    assert [int(r["time"]) for r in rows] == [c.open_time for c in truth]
    assert [r["close"] for r in rows] == [str(c.close) for c in truth]
    nothing = await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval="1d",
                         endTime=DEEP_START_MS, limit=5)
    assert nothing["data"] == []
