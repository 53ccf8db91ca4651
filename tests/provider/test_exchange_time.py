"""Exchange time, not laptop time: the client against a simulator running 20x faster than the
laptop believes, with the laptop's clock five minutes behind or ahead of the exchange.

The client is never told the exchange's speed, nor handed the simulator's clock: only an
ExchangeClock over a (skewed) laptop clock. Every closed candle must reach the consumer exactly
once, with the values REST returns for it, across a dropped connection and a silent stall.
"""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import pytest

from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider
from laptop_agents.models import ConnectionState
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange
from tests.provider.conftest import MINUTE, Seen, assert_contiguous, run_until, truth_for
from tests.support.sim import fast_settings


class SkewedLaptop:
    """The laptop's clocks with the wall clock ``skew_s`` seconds off."""

    def __init__(self, skew_s: float) -> None:
        self.skew_s = skew_s

    def wall(self) -> float:
        return time.time() + self.skew_s

    def mono(self) -> float:
        return time.monotonic()


@pytest.mark.parametrize("skew_s", [-300.0, 300.0])
async def test_every_candle_once_with_rest_values_whatever_the_laptop_clock(
        skew_s: float, session: aiohttp.ClientSession) -> None:
    async with SimExchange(SimOptions(seed=5, speed=20.0, kline_push_ms=250, depth_push_ms=100,
                                      history_minutes=300, kline_final_push=False)) as sim:
        settings = fast_settings(sim, ws_silence_timeout=1.0)
        clock = ExchangeClock(SkewedLaptop(skew_s))
        rest = BitunixRestClient(session, settings, clock)
        warm = await rest.klines("BTCUSDT", limit=5)
        assert warm and warm[-1].open_time + MINUTE <= sim.clock.now_ms()
        provider = BitunixWSProvider(session, settings, rest=rest, clock=clock)
        await provider.subscribe_kline("BTCUSDT")
        await provider.subscribe_ticker("BTCUSDT")
        faults: list[str] = []

        after_stall: list[int] = []

        def inject(seen: Seen, item: Any) -> None:
            if seen.candles and not faults:
                faults.append("drop")
                sim.drop_all()  # abrupt close: the client sees 1006
            elif faults == ["drop"] and ConnectionState.RECOVERED in seen.states():
                faults.append("stall")
                sim.stall()  # the socket stays open, silent: 1 s here is 20 s there
            elif (len(faults) == 2 and not after_stall
                  and seen.states().count(ConnectionState.RECOVERED) == 2):
                after_stall.append(len(seen.candles))

        seen = await run_until(  # until a live candle closes after the stall's backfill
            provider,
            lambda s: bool(after_stall) and len(s.candles) > max(after_stall[0], 2),
            start_after=warm[-1].open_time, on_item=inject, limit_s=40,
        )
        candles = [*warm, *seen.candles]
        assert_contiguous(candles)  # no gap, no repeat across warm-up, drop and stall
        assert seen.candles == truth_for(sim, seen.candles)  # REST's values, not WS's
        assert provider.stats.reconnects == 2 and len(seen.candles) >= 2
        assert provider.stats.ws_fallbacks == 0 and provider.stats.gaps == 0
        assert provider.stats.rest_confirmed >= len(seen.candles)
        assert clock.speed == pytest.approx(20.0, rel=0.05)
        assert abs(clock.offset_ms() - (sim.clock.now_ms() - int(SkewedLaptop(skew_s).wall()
                                                                 * 1000))) < 2_000


async def test_a_kline_push_dated_a_day_ahead_does_not_stop_candles(
        sim: Any, session: aiohttp.ClientSession) -> None:
    """Before the fix, one such push made every real push look old: candles stopped while
    the feed said connected."""
    settings = fast_settings(sim)
    provider = BitunixWSProvider(session, settings)
    await provider.subscribe_kline("BTCUSDT")
    sent: list[int] = []

    def forge(seen: Seen, item: Any) -> None:
        if seen.candles and not sent:
            ahead = sim.clock.now_ms() + 86_400_000
            frame = {"ch": "market_kline_1min", "symbol": "BTCUSDT", "ts": ahead,
                     "data": {"o": "1", "h": "1", "l": "1", "c": "1", "b": "1", "q": "1"}}
            sent.append(sum(c.send(frame, force=True) for c in sim.connections))

    seen = await run_until(provider, lambda s: len(s.candles) >= 4, on_item=forge, limit_s=20)
    assert sent == [1]
    assert_contiguous(seen.candles)
    assert seen.candles == truth_for(sim, seen.candles)
    assert provider.stats.implausible_ts == 1
    assert seen.states() == [ConnectionState.CONNECTED]
