"""Fill the candle store from the REST kline endpoint: only what it lacks, page by page.

A range is cut into windows of at most 199 open times (one request each, the client's own
paging unit) over the parts of the range the store has never asked about. Each window's
candles and the fact that it was asked are stored in one transaction, so an interrupted fetch
(Ctrl-C, a failed request) keeps every finished window and the next run resumes at the first
unfinished one. What the exchange returned is stored as is; open times it had no candle for
stay empty and are reported as gaps. Requests go through the REST client, so its rate limiter
(one for all REST) and its retries apply.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.history.ranges import Range, align, intersect, windows
from laptop_agents.data.history.store import CandleStore, SeriesKey
from laptop_agents.data.providers.bitunix_protocol import REST_KLINE_PAGE
from laptop_agents.models import Candle

WINDOW_CANDLES = REST_KLINE_PAGE - 1  # one request's worth (the client's klines() window)


class KlineRest(Protocol):
    """What a fetch needs of the REST client (BitunixRestClient fits)."""

    clock: ExchangeClock

    async def refresh_time(self, symbol: str) -> None: ...

    async def klines(self, symbol: str, interval: str = "1min", start_ms: int | None = None,
                     end_ms: int | None = None, limit: int | None = None) -> list[Candle]: ...


@dataclass(frozen=True, slots=True)
class FetchPlan:
    span: Range  # the asked range on the interval grid, its end cut at the newest closed candle
    windows: list[Range]  # the requests still to make, oldest first
    skipped_ms: int  # how much of the span was stored (asked) already


@dataclass(frozen=True, slots=True)
class FetchReport:
    span: Range
    requests: int  # windows asked of the exchange by this run
    stored: int  # candles written by this run
    skipped_ms: int  # already stored before this run: not asked again
    gaps: list[Range]  # open times in the span the exchange had no candle for


# (windows done, windows in the plan, candles stored so far): after every window.
Progress = Callable[[int, int, int], None]


async def plan_fetch(rest: KlineRest, store: CandleStore, key: SeriesKey, span: Range) -> FetchPlan:
    """The windows of ``span`` still to ask. Only closed candles exist, so the span ends at
    the newest bucket the exchange has certainly closed (its clock, not the laptop's)."""
    step = key.step
    await rest.refresh_time(key.symbol)
    closed_end = rest.clock.settled_ms() // step * step
    start, end = align(span, step)
    end = min(end, closed_end)
    if end <= start:
        return FetchPlan(span=(start, max(start, end)), windows=[], skipped_ms=0)
    missing = store.missing(key, (start, end))
    todo = [w for part in missing for w in windows(part, WINDOW_CANDLES * step)]
    skipped = (end - start) - sum(high - low for low, high in missing)
    return FetchPlan(span=(start, end), windows=todo, skipped_ms=skipped)


async def run_plan(rest: KlineRest, store: CandleStore, key: SeriesKey, plan: FetchPlan,
                   progress: Progress | None = None) -> FetchReport:
    """Ask every window of ``plan`` and store each reply with its window marked as asked."""
    stored = 0
    if progress is not None:
        progress(0, len(plan.windows), 0)
    for done, (low, high) in enumerate(plan.windows, start=1):
        candles = await rest.klines(key.symbol, key.interval, start_ms=low, end_ms=high)
        stored += store.add(key, candles, covered=(low, high))
        if progress is not None:
            progress(done, len(plan.windows), stored)
    gaps = [g for gap in store.gaps(key) if (g := intersect(gap, plan.span)) is not None]
    return FetchReport(span=plan.span, requests=len(plan.windows), stored=stored,
                       skipped_ms=plan.skipped_ms, gaps=gaps)


async def fetch_range(rest: KlineRest, store: CandleStore, key: SeriesKey, span: Range,
                      progress: Progress | None = None) -> FetchReport:
    """Store the closed candles of ``span`` the store lacks; see the module's docstring."""
    plan = await plan_fetch(rest, store, key, span)
    return await run_plan(rest, store, key, plan, progress)


__all__ = ["WINDOW_CANDLES", "FetchPlan", "FetchReport", "KlineRest", "Progress",
           "fetch_range", "plan_fetch", "run_plan"]
