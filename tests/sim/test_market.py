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

from laptop_agents.sim.contracts import SPECS, fmt_scaled
from laptop_agents.sim.market import SymbolMarket, origin_for
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.records import MINUTE_MS
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


@settings(max_examples=10, deadline=None)
@given(seed=st.integers(0, 2**31), minute=st.integers(0, 9))
def test_trades_add_up_to_the_candle(seed: int, minute: int) -> None:
    m = _market(seed, 10)
    start = ORIGIN + minute * MINUTE_MS
    trades = m.trades(start - 1, start + MINUTE_MS - 1, 10**6)
    agg = m.minute(start)
    assert trades and agg is not None
    assert trades[0].ms == start  # every bucket trades at its first instant
    assert (agg.open, agg.close) == (trades[0].price, trades[-1].price)
    assert (agg.high, agg.low) == (max(t.price for t in trades), min(t.price for t in trades))
    assert agg.volume == sum(t.qty for t in trades)
    assert agg.quote == sum(t.price * t.qty for t in trades)
    for t in trades:  # buys lift the ask, sells hit the bid
        seg = m.bbo(t.ms)
        assert t.price == (seg.ask if t.buy else seg.bid)


def test_jumps_move_the_price_and_widen_the_spread() -> None:
    # Only the last 15 minutes are kept in detail, so look at each second as it is generated.
    seconds = range(ORIGIN // 1000 + 1, ORIGIN // 1000 + 600 * 60)
    fresh = SymbolMarket(SPECS["BTCUSDT"], 42, ORIGIN)
    onsets = 0
    big = 0
    prev = None
    for s in seconds:
        fresh.advance(s * 1000)
        seg = fresh.bbo(s * 1000)
        if prev is not None:
            spread, prev_spread = seg.ask - seg.bid, prev.ask - prev.bid
            if spread >= 6 and prev_spread <= 2:
                onsets += 1
                move = abs(math.log((seg.bid + seg.ask) / (prev.bid + prev.ask)))
                big += move > 0.0003  # > 30 per-second sigmas of the diffusion
        prev = seg
    assert onsets >= 3, onsets  # about one jump an hour
    assert big >= 0.7 * onsets, (big, onsets)  # a wide spread comes with a jump in price


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


async def _stream_buckets(session: Any, sim: SimExchange, buckets: int
                          ) -> dict[int, list[dict[str, Any]]]:
    """Every 1min kline push, grouped by bucket, until ``buckets`` buckets have been seen."""
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("market_kline_1min", "BTCUSDT"))
    seen: dict[int, list[dict[str, Any]]] = {}
    async with asyncio.timeout(15):
        while len(seen) < buckets:
            push = await next_json(ws, is_ch("market_kline_1min"))
            seen.setdefault(push["ts"] // MINUTE_MS * MINUTE_MS, []).append(push)
    await ws.close()
    stamps = [p["ts"] for _, pushes in sorted(seen.items()) for p in pushes]
    assert stamps == sorted(stamps)  # one stream: ts never goes back
    for pushes in seen.values():  # within a bucket: open fixed, h/l/volumes monotone
        for prev, push in itertools.pairwise(p["data"] for p in pushes):
            assert push["o"] == prev["o"]
            assert Decimal(push["h"]) >= Decimal(prev["h"])
            assert Decimal(push["l"]) <= Decimal(prev["l"])
            assert Decimal(push["b"]) >= Decimal(prev["b"])
            assert Decimal(push["q"]) >= Decimal(prev["q"])
    return seen


async def test_with_final_push_streamed_pushes_agree_with_rest_closed_candles(session) -> None:
    # The optional closing push (off by default, as live sends none) is what is under test.
    async with SimExchange(SimOptions(seed=9, speed=120, history_minutes=30, kline_push_ms=60,
                                      idle_timeout=30, kline_final_push=True)) as sim:
        seen = await _stream_buckets(session, sim, 4)
        first = min(seen)
        async with session.get(sim.rest_url + "/api/v1/futures/market/kline", params={
                "symbol": "BTCUSDT", "interval": "1m", "startTime": str(first),
                "limit": "200"}) as r:
            rows = {int(row["time"]): row for row in (await r.json())["data"]}
        now = sim.now_ms()
        closed = [b for b in sorted(seen) if b + MINUTE_MS <= now]
        assert len(closed) >= 3
        for bucket in closed:
            # The last push of a closed bucket is its final state (ts = its last ms) and
            # equals, field for field, the row REST returns for it (1m volumes are swapped).
            final = seen[bucket][-1]
            assert final["ts"] == bucket + MINUTE_MS - 1
            row, data = rows[bucket], final["data"]
            assert (row["open"], row["high"], row["low"], row["close"]) == \
                (data["o"], data["h"], data["l"], data["c"])
            assert (row["quoteVol"], row["baseVol"]) == (data["b"], data["q"])


async def test_by_default_the_stream_is_a_prefix_of_rest(session) -> None:
    # By default there is no closing push, as live.
    async with SimExchange(SimOptions(seed=9, speed=120, history_minutes=30, kline_push_ms=60,
                                      idle_timeout=30)) as sim:
        seen = await _stream_buckets(session, sim, 4)
        truth = {c.open_time: c for c in sim.closed_candles("BTCUSDT")}
        closed = sorted(seen)[:-1]
        # No closing push: the last push of a bucket lands wherever the timer happened to be.
        assert any(seen[b][-1]["ts"] != b + MINUTE_MS - 1 for b in closed)
        checked = 0
        for bucket in closed:
            data, c = seen[bucket][-1]["data"], truth[bucket]
            assert Decimal(data["o"]) == c.open
            assert Decimal(data["h"]) <= c.high and Decimal(data["l"]) >= c.low
            assert Decimal(data["b"]) <= c.volume and Decimal(data["q"]) <= c.quote_volume
            checked += 1
        assert checked >= 3
