"""Where a backtest's candles and funding come from: the candle store, filled over REST.

The range ``[start, end)`` and the warm-up before it are read from the candle store; what it
lacks is fetched first through the same code as ``laptop-agents history fetch``
(data/history/fetch.py: ``plan_fetch`` + ``run_plan`` over the REST client, one window per
request, resumable). With ``--source sim`` the REST client talks to an in-process simulator,
as that command's does; its clock is pinned (it starts where the range ends, its detailed
market begins at the hour before the warm-up), so the market, its series in the store and the
backtest are the same on every run for the same seed and range.

Funding settlements come from REST ``funding_history`` for the range (not stored: one paged
read). When the source cannot give them (the read fails, or a range longer than a funding
interval has none), the backtest runs without funding and says so (``funding_available``).
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
from loguru import logger

from laptop_agents.backtest.run import BacktestData
from laptop_agents.config import Settings
from laptop_agents.data.history.fetch import plan_fetch, run_plan
from laptop_agents.data.history.ranges import Range
from laptop_agents.data.history.run import open_store
from laptop_agents.data.history.source import series_source
from laptop_agents.data.history.store import SeriesKey
from laptop_agents.data.instruments import tradable_instrument
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.models import WS_INTERVAL_MS, FundingSettlement

HOUR_MS = 3_600_000
FUNDING_INTERVAL_MS = 8 * HOUR_MS  # Bitunix settles every 8 h; a longer range should hold one


@dataclass(frozen=True, slots=True)
class Request:
    symbol: str
    interval: str
    start_ms: int
    end_ms: int
    warmup: int  # closed candles wanted before start_ms


def spans(request: Request) -> tuple[Range, Range]:
    """(warm-up, range) on the interval grid."""
    step = WS_INTERVAL_MS[request.interval]
    start = -(-request.start_ms // step) * step
    end = -(-request.end_ms // step) * step
    return (start - request.warmup * step, start), (start, end)


@contextlib.asynccontextmanager
async def market(settings: Settings, request: Request) -> AsyncIterator[tuple[Settings, str]]:
    """Settings pointing at the market and the store's name for it (an in-process simulator
    for ``sim``, started and stopped here)."""
    if settings.source != "sim":
        yield settings, settings.source
        return
    from laptop_agents.sim.options import SimOptions
    from laptop_agents.sim.server import SimExchange

    (warm_start, _), (_, end) = spans(request)
    origin = warm_start // HOUR_MS * HOUR_MS
    sim = SimExchange(SimOptions(seed=settings.sim_seed, speed=1.0, symbols=(request.symbol,),
                                 start_ms=-(-end // HOUR_MS) * HOUR_MS, origin_ms=origin,
                                 funding_interval_ms=settings.sim_funding_interval * 1000))
    await sim.start()
    try:
        source = series_source("sim", settings.sim_seed, origin)
        assert source is not None  # the origin is ours
        yield settings.model_copy(update={"bitunix_ws_url": sim.ws_url,
                                          "bitunix_rest_url": sim.rest_url}), source
    finally:
        await sim.stop()


async def funding(rest: BitunixRestClient, request: Request) -> list[FundingSettlement] | None:
    """The range's settlements; None when the source cannot give them."""
    try:
        rows = await rest.funding_history(request.symbol, request.start_ms, request.end_ms - 1)
    except (aiohttp.ClientError, TimeoutError, ValueError) as error:
        logger.warning("funding history unavailable ({}); backtesting without funding", error)
        return None
    except Exception as error:  # an API error code: the exchange will not say either
        logger.warning("funding history unavailable ({!r}); backtesting without funding", error)
        return None
    if not rows and request.end_ms - request.start_ms > FUNDING_INTERVAL_MS:
        logger.warning("no funding settlements in the range; backtesting without funding")
        return None
    return rows


async def load(settings: Settings, request: Request) -> BacktestData:
    """Fill the store for the warm-up and the range where it lacks candles, then read them."""
    store = open_store(settings)
    try:
        warm, span = spans(request)
        async with market(settings, request) as (pointed, source), \
                aiohttp.ClientSession() as session:
            rest = BitunixRestClient(session, pointed)
            key = SeriesKey(source, request.symbol, request.interval)
            plan = await plan_fetch(rest, store, key, (warm[0], span[1]))
            if plan.windows:
                logger.info("fetching {} windows of {} {} into the candle store",
                            len(plan.windows), source, request.symbol)
            await run_plan(rest, store, key, plan)
            instrument = await tradable_instrument(rest, request.symbol)
            settlements = await funding(rest, request)
        return BacktestData(instrument=instrument, warmup=store.read(key, *warm),
                            candles=store.read(key, *span), settlements=settlements,
                            start_ms=span[0], end_ms=span[1], source=source)
    finally:
        store.close()


__all__ = ["Request", "funding", "load", "market", "spans"]
