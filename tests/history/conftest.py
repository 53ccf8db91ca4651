"""A REST client that counts (and can hold) its kline requests, over the simulator."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import aiohttp
import pytest

from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.models import Candle


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"history_minutes": 600}  # ~11 h from an hour boundary: six 199-candle windows


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client:
        yield client


class CountingRest:
    """Delegates to a real client; records every klines() call's (start, end, limit).

    ``hold_at``: the call with that number (1-based) waits forever once it is recorded, so a
    test can cancel a fetch at an exact point without a sleep."""

    def __init__(self, rest: Any, hold_at: int | None = None) -> None:
        self._rest = rest
        self.clock: ExchangeClock = rest.clock
        self.calls: list[tuple[int | None, int | None, int | None]] = []
        self.hold_at = hold_at
        self.holding = asyncio.Event()

    async def refresh_time(self, symbol: str) -> None:
        await self._rest.refresh_time(symbol)

    async def klines(self, symbol: str, interval: str = "1min", start_ms: int | None = None,
                     end_ms: int | None = None, limit: int | None = None) -> list[Candle]:
        self.calls.append((start_ms, end_ms, limit))
        if self.hold_at == len(self.calls):
            self.holding.set()
            await asyncio.Event().wait()
        result: list[Candle] = await self._rest.klines(symbol, interval, start_ms, end_ms, limit)
        return result

    def __getattr__(self, name: str) -> Any:  # depth, instrument, funding: as they are
        return getattr(self._rest, name)
