"""BitunixWSProvider against the simulator: normal flow, backfill, partial candles, metrics."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp

from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.metrics import Metrics
from laptop_agents.models import Candle, ConnectionState
from laptop_agents.sim.subscriptions import parse_channel
from tests.support.sim import fast_settings

from .conftest import MINUTE, assert_contiguous, expected_bbo, make_provider, run_until, truth_for

# A ticker subscription is depth_book1 + ticker + price; the simulator counts only the channels
# it serves (it ignores unknown ones, like the live server), and it may not serve `price` yet.
TICKER_CHANNELS = 2 + (parse_channel("price") is not None)


async def test_ticks_and_closed_candles_equal_the_ground_truth(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    metrics = Metrics()
    # No ping in this short run, so every client frame the simulator counts is a subscribe.
    provider = make_provider(session, sim, fast_settings(sim, ws_ping_interval=60.0),
                             metrics=metrics)
    await provider.subscribe_kline("BTCUSDT", "1min")
    await provider.subscribe_ticker("btcusdt")
    seen = await run_until(provider, lambda s: len(s.candles) >= 3)

    assert seen.states() == [ConnectionState.CONNECTED]
    assert isinstance(seen.order[0], type(seen.events[0]))  # CONNECTED comes first
    assert_contiguous(seen.candles)
    assert seen.candles == truth_for(sim, seen.candles)
    assert all(c.closed for c in seen.candles)
    # every tick is the simulator's best bid/offer at its push time, in time order
    assert len(seen.ticks) > 20
    for tick in seen.ticks:
        assert (tick.bid, tick.ask, tick.bid_size, tick.ask_size) == expected_bbo(sim, tick)
    assert [t.ts for t in seen.ticks] == sorted(t.ts for t in seen.ticks)
    assert any(t.last is not None for t in seen.ticks)  # last price from `ticker`
    # a closed candle is yielded only after its interval ended in exchange time
    stats = provider.stats
    assert stats.ticks == len(seen.ticks) and stats.candles == 3
    assert stats.reconnects == 0 and stats.malformed == 0 and stats.connect_attempts == 1
    assert stats.state == "closed" and stats.last_tick_wall is not None
    assert metrics.registry.get_sample_value("la_ticks_total") == len(seen.ticks)
    assert metrics.registry.get_sample_value("la_closed_candles_total") == 3
    # one subscribe frame carried every channel
    assert sim.stats.subscriptions == 1 + TICKER_CHANNELS and sim.stats.frames_received == 1


async def test_backfill_joins_warmup_and_live_without_gap(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    settings = fast_settings(sim)
    warmup = await BitunixRestClient(session, settings).klines("BTCUSDT", limit=100)
    start_after = warmup[-5].open_time  # as if warm-up ended four candles ago
    provider = make_provider(session, sim, settings)
    await provider.subscribe_kline("BTCUSDT")
    seen = await run_until(provider, lambda s: len(s.candles) >= 6, start_after=start_after)
    assert seen.candles[0].open_time == start_after + MINUTE
    assert seen.candles[:4] == warmup[-4:]
    assert_contiguous(seen.candles)
    assert seen.candles == truth_for(sim, seen.candles)
    # the backfilled candles come before CONNECTED, live ones after
    connected_at = seen.order.index(seen.events[0])
    assert seen.order[:connected_at] == seen.candles[:4]


async def test_partial_candles_when_enabled(sim: Any, session: aiohttp.ClientSession) -> None:
    provider = make_provider(session, sim, fast_settings(sim, emit_partial_candles=True))
    await provider.subscribe_kline("BTCUSDT")
    seen = await run_until(provider, lambda s: len(s.candles) >= 2)
    assert seen.partials, "no in-progress candle updates"
    assert all(not c.closed for c in seen.partials)
    closed_opens = {c.open_time for c in seen.candles}
    # every partial belongs to a bucket that was (or is still) running, never an old one
    last_closed_before: int | None = None
    for item in seen.order:
        if getattr(item, "closed", None) is True:
            last_closed_before = item.open_time
        elif getattr(item, "closed", None) is False and last_closed_before is not None:
            assert item.open_time > last_closed_before
    # the second closed candle ran entirely while we watched: its partials were yielded
    assert seen.candles[-1].open_time in {c.open_time for c in seen.partials}
    assert closed_opens


async def test_subscriptions_made_while_connected_are_batched_and_never_lost(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    # One frame per second and no pings: a subscribe frame waits for the limiter, and a
    # subscription made meanwhile must still go out (in the next frame).
    # Generous liveness timeouts: a false "silence" reconnect on a loaded machine would
    # resubscribe everything and blur the frame count this test is about.
    settings = fast_settings(sim, ws_ping_interval=60.0, ws_max_frames_per_second=1,
                             ws_silence_timeout=10.0, ws_pong_timeout=10.0)
    provider = make_provider(session, sim, settings)
    await provider.subscribe_kline("BTCUSDT", "1min")
    subscribed: list[bool] = []

    async def more(seen: Any, item: Any) -> None:
        if not subscribed and seen.events:  # CONNECTED: the first frame has just gone out
            subscribed.append(True)
            # same event-loop turn: one frame (it waits ~1 s for the limiter)
            await provider.subscribe_ticker("BTCUSDT")
            for _ in range(3):
                await asyncio.sleep(0)  # let that frame start waiting for the limiter
            await provider.subscribe_kline("BTCUSDT", "5min")  # added while it waits

    await run_until(provider, lambda s: sim.stats.subscriptions >= 2 + TICKER_CHANNELS
                    and len(s.ticks) >= 3, on_item=more, limit_s=10)
    assert sim.stats.subscriptions == 2 + TICKER_CHANNELS
    assert sim.stats.frames_received == 3  # kline; the ticker's channels together; 5min kline
    assert sim.stats.dropped_rate == 0


async def test_reconnect_backfills_a_candle_seen_before_any_was_closed(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    provider = make_provider(session, sim, fast_settings(sim, emit_partial_candles=True,
                                                         ws_refused_limit=1000))
    await provider.subscribe_kline("BTCUSDT")
    running: list[int] = []

    async def fault(seen: Any, item: Any) -> None:
        if not running and seen.partials:  # a bucket is running; no candle closed yet
            running.append(seen.partials[0].open_time)
            sim.reject_handshakes(10_000, status=503)
            sim.drop_all()
            await asyncio.sleep(1.3)  # ~78 simulated seconds: that bucket closes while down
            sim.reject_handshakes(0)

    seen = await run_until(
        provider, lambda s: ConnectionState.RECOVERED in s.states() and len(s.candles) >= 3,
        on_item=fault, limit_s=20,
    )
    assert not [c for c in seen.order[: seen.order.index(seen.events[1])]
                if isinstance(c, Candle) and c.closed]
    # the bucket that was running at the drop is the first closed candle, from REST
    assert seen.candles[0].open_time == running[0]
    assert_contiguous(seen.candles)
    assert seen.candles == truth_for(sim, seen.candles)
