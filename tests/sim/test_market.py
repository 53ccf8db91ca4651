"""The market model: invariants, determinism, prefix consistency, scripting; stream vs REST."""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
from decimal import Decimal
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from laptop_agents.sim.market import MINUTE_MS, SPECS, SymbolMarket, fmt_scaled, origin_for
from laptop_agents.sim.server import SimExchange

from .helpers import connect, is_ch, next_json, subscribe

ORIGIN = 1_790_000_040_000 // 3_600_000 * 3_600_000


def _market(seed: int, minutes: int) -> SymbolMarket:
    m = SymbolMarket(SPECS["BTCUSDT"], seed, ORIGIN)
    m.advance(ORIGIN + minutes * MINUTE_MS)
    return m


@settings(max_examples=15, deadline=None)
@given(seed=st.integers(0, 2**31), probe=st.integers(0, 10 * MINUTE_MS - 1))
def test_candle_invariants_and_running_prefix(seed: int, probe: int) -> None:
    m = _market(seed, 10)
    for i in range(10):
        agg = m.candle(MINUTE_MS, ORIGIN + i * MINUTE_MS, ORIGIN + (i + 1) * MINUTE_MS - 1)
        assert agg is not None
        assert agg.high >= max(agg.open, agg.close) and agg.low <= min(agg.open, agg.close)
        assert agg.volume > 0 and agg.low * agg.volume <= agg.quote <= agg.high * agg.volume
    # The running candle at any instant is a prefix of the final one.
    t = ORIGIN + probe
    for iv in (MINUTE_MS, 5 * MINUTE_MS):
        bucket = t // iv * iv
        running = m.candle(iv, bucket, t)
        final = m.candle(iv, bucket, bucket + iv - 1)
        assert running is not None and final is not None
        assert running.open == final.open
        assert running.high <= final.high and running.low >= final.low
        assert running.volume <= final.volume and running.quote <= final.quote
    seg = m.bbo(t)
    assert 0 < seg.bid < seg.ask


@settings(max_examples=5, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_higher_intervals_aggregate_minutes(seed: int) -> None:
    m = _market(seed, 15)
    five = m.candle(5 * MINUTE_MS, ORIGIN, ORIGIN + 5 * MINUTE_MS - 1)
    minutes = [m.minute(ORIGIN + i * MINUTE_MS) for i in range(5)]
    assert five is not None and all(minutes)
    assert five.open == minutes[0].open and five.close == minutes[-1].close  # type: ignore[union-attr]
    assert five.high == max(x.high for x in minutes)  # type: ignore[union-attr]
    assert five.volume == sum(x.volume for x in minutes)  # type: ignore[union-attr]


def test_same_seed_same_market_regardless_of_query_pattern() -> None:
    a = _market(11, 30)
    b = SymbolMarket(SPECS["BTCUSDT"], 11, ORIGIN)
    t = ORIGIN
    while t < ORIGIN + 30 * MINUTE_MS:  # many small advances with queries in between
        t += 777
        b.advance(t)
        b.bbo(t)
        b.candle(MINUTE_MS, t // MINUTE_MS * MINUTE_MS, t)
    b.advance(ORIGIN + 30 * MINUTE_MS)
    for i in range(30):
        assert a.minute(ORIGIN + i * MINUTE_MS) == b.minute(ORIGIN + i * MINUTE_MS)
    c = _market(12, 30)
    assert [c.minute(ORIGIN + i * MINUTE_MS) for i in range(30)] != \
        [a.minute(ORIGIN + i * MINUTE_MS) for i in range(30)]


def test_realistic_btc_statistics() -> None:
    m = _market(42, 600)
    closes = [m.minute(ORIGIN + i * MINUTE_MS).close for i in range(600)]  # type: ignore[union-attr]
    rets = [math.log(b / a) for a, b in itertools.pairwise(closes)]
    sigma = statistics.pstdev(rets)
    assert 0.0004 < sigma < 0.0015  # per-minute ~0.05-0.1 %
    # Volatility clusters: absolute returns are positively autocorrelated over minutes.
    absr = [abs(r) for r in rets]
    assert statistics.correlation(absr[:-1], absr[1:]) > 0.0
    spreads = [m.bbo(ORIGIN + s * 1000 + 1).ask - m.bbo(ORIGIN + s * 1000 + 1).bid
               for s in range(600 * 60 - 500, 600 * 60)]
    assert statistics.median(spreads) == 1  # one tick (0.1) most of the time


def test_script_exact_level_then_walk_resumes() -> None:
    m = _market(5, 3)
    now = ORIGIN + 3 * MINUTE_MS + 250
    m.script(now, 500_000, 500_003, pushes=4, push_sim_ms=3000)
    assert (m.bbo(now).bid, m.bbo(now).ask) != (500_000, 500_003)  # first of 4 steps
    last_point = now + 3 * 3000
    m.advance(last_point + 2999)
    assert (m.bbo(last_point).bid, m.bbo(last_point).ask) == (500_000, 500_003)
    assert (m.bbo(last_point + 2999).bid, m.bbo(last_point + 2999).ask) == (500_000, 500_003)
    assert m.last_trade(last_point + 10).price in (500_000, 500_003)
    m.advance(last_point + 60_000)
    later = m.bbo(last_point + 60_000)
    assert abs(later.bid - 500_000) < 5_000  # continues from the scripted level
    agg = m.candle(MINUTE_MS, last_point // MINUTE_MS * MINUTE_MS, last_point + 10)
    assert agg is not None and agg.high >= 500_000


def test_fmt_scaled() -> None:
    assert fmt_scaled(685900, 1) == "68590"
    assert fmt_scaled(685814, 1) == "68581.4"
    assert fmt_scaled(52395, 4) == "5.2395"
    assert fmt_scaled(5, 4) == "0.0005"
    assert origin_for(1_790_000_040_000, 1000) % 3_600_000 == 0


async def test_streamed_pushes_agree_with_rest_closed_candles(session) -> None:
    async with SimExchange(seed=9, speed=120, history_minutes=30, kline_push_ms=60,
                           idle_timeout=30) as sim:
        ws = await connect(session, sim.ws_url)
        await subscribe(ws, ("market_kline_1min", "BTCUSDT"))
        last: dict[int, dict[str, Any]] = {}
        async with asyncio.timeout(15):
            while len(last) < 4:
                push = await next_json(ws, is_ch("market_kline_1min"))
                bucket = push["ts"] // MINUTE_MS * MINUTE_MS
                prev = last.get(bucket)
                if prev is not None:  # within a bucket: open fixed, h/l/volume monotone
                    assert push["data"]["o"] == prev["o"]
                    assert Decimal(push["data"]["h"]) >= Decimal(prev["h"])
                    assert Decimal(push["data"]["l"]) <= Decimal(prev["l"])
                    assert Decimal(push["data"]["b"]) >= Decimal(prev["b"])
                last[bucket] = push["data"]
        truth = {c.open_time: c for c in sim.closed_candles("BTCUSDT")}
        checked = 0
        for bucket, data in sorted(last.items())[1:-1]:  # whole buckets seen, now closed
            c = truth[bucket]
            assert Decimal(data["o"]) == c.open
            assert Decimal(data["h"]) <= c.high and Decimal(data["l"]) >= c.low
            assert Decimal(data["b"]) <= c.volume and Decimal(data["q"]) <= c.quote_volume
            checked += 1
        assert checked >= 2
