"""Helpers for the market-data tests: a bounded reader of listen(), ground truth, log capture."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from laptop_agents.config import Settings
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider
from laptop_agents.models import Candle, ConnectionEvent, ConnectionState, Tick

MINUTE = 60_000

@pytest.fixture
def sim_options() -> dict[str, Any]:
    """A shorter history than the default makes the simulator start faster; 600 is enough."""
    return {"history_minutes": 600}


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


def make_provider(session: aiohttp.ClientSession, sim: Any, settings: Settings,
                  **kwargs: Any) -> BitunixWSProvider:
    rest = BitunixRestClient(session, settings)
    return BitunixWSProvider(session, settings, rest=rest, **kwargs)


@dataclass
class Seen:
    ticks: list[Tick] = field(default_factory=list)
    candles: list[Candle] = field(default_factory=list)
    partials: list[Candle] = field(default_factory=list)
    events: list[ConnectionEvent] = field(default_factory=list)
    order: list[Any] = field(default_factory=list)

    def states(self) -> list[ConnectionState]:
        return [e.state for e in self.events]


async def run_until(
    provider: BitunixWSProvider,
    done: Callable[[Seen], bool],
    *,
    limit_s: float = 15.0,
    start_after: int | None = None,
    on_item: Callable[[Seen, Any], Any] | None = None,
) -> Seen:
    """Consume listen() until ``done(seen)`` holds; fails the test after ``limit_s`` seconds."""
    seen = Seen()
    started = time.monotonic()
    try:
        async with asyncio.timeout(limit_s):
            async for item in provider.listen(start_after_open_time=start_after):
                seen.order.append(item)
                if isinstance(item, Tick):
                    seen.ticks.append(item)
                elif isinstance(item, Candle):
                    (seen.candles if item.closed else seen.partials).append(item)
                elif isinstance(item, ConnectionEvent):
                    seen.events.append(item)
                if on_item is not None:
                    result = on_item(seen, item)
                    if asyncio.iscoroutine(result):
                        await result
                if done(seen):
                    break
    except TimeoutError:
        raise AssertionError(
            f"condition not reached in {time.monotonic() - started:.1f}s: "
            f"{len(seen.ticks)} ticks, {len(seen.candles)} candles, events {seen.states()}, "
            f"stats {provider.stats}"
        ) from None
    finally:
        await provider.close()
    return seen


def assert_contiguous(candles: list[Candle]) -> None:
    opens = [c.open_time for c in candles]
    assert opens == list(range(opens[0], opens[0] + MINUTE * len(opens), MINUTE)), opens


def truth_for(sim: Any, candles: list[Candle]) -> list[Candle]:
    return sim.closed_candles("BTCUSDT", "1min", start_ms=candles[0].open_time,
                              end_ms=candles[-1].open_time + MINUTE)


def expected_bbo(sim: Any, tick: Tick) -> tuple[Decimal, Decimal, Decimal, Decimal]:
    """The simulator's best bid/offer at the push time of ``tick``."""
    from laptop_agents.sim.contracts import fmt_scaled
    from laptop_agents.sim.market import book_levels

    market = sim.market(tick.symbol)
    bids, asks = book_levels(market, tick.ts, 1)
    pd, sd = market.spec.price_decimals, market.spec.size_decimals
    return (Decimal(fmt_scaled(bids[0][0], pd)), Decimal(fmt_scaled(asks[0][0], pd)),
            Decimal(fmt_scaled(bids[0][1], sd)), Decimal(fmt_scaled(asks[0][1], sd)))


