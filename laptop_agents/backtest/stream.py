"""The backtest's side of the engine's seams: a timeline that makes the market stream from
stored candles on a virtual clock, and REST answered from the same history.

:class:`BacktestTimeline` is a replay whose recording is synthesised (record/replay_source.py
has the recorded kind): for each candle it yields the path's quotes, each followed by a mark
price (path.py), then the closed candle at ``close_time``; while the account is flat with no
working order (``quiet``, asked at the candle's start) only the path's last point, the close,
is sent, since no intrabar price can then fill, trigger, liquidate or value anything, and the
strategy and the next decision see the same last quote either way (docs/backtesting.md,
"Quiet candles"); then it waits until the strategy
task has decided on that candle and applied the decision (``Timeline.decided``), so every
decision lands after the candle that triggered it and before the next candle's first quote,
whatever the strategy's speed. "Now" (exchange time, and the monotonic clock of the gate,
guard and funding sync) is the time of the latest item: exchange ms / 1000, speed 1.

Timers do not fire: the 100 ms watchdog re-checks the latest quote, which the stream has
already sent through ``broker.on_tick``; position sync compares memory with the journal (the
ledger check at the end covers it); clock watch detects laptop sleeps, which a virtual clock
has none of. The stop step happens where the stream ends.
"""

from __future__ import annotations

import asyncio
from bisect import bisect_right
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from decimal import Decimal

from laptop_agents.backtest.path import path_quotes
from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_rest_parse import DepthSnapshot
from laptop_agents.models import (
    Candle,
    FundingQuote,
    FundingSettlement,
    Instrument,
    MarketEvent,
    MarkPrice,
    Tick,
)
from laptop_agents.record.replay_source import ReplayClock
from laptop_agents.session.tasks import TaskInfo
from laptop_agents.session.timeline import Stamp, Timeline, TimerBody

# Loop turns given after a mark that announces a settlement: the funding sync reads the
# settlement over (stub) REST in a task of its own; it completes within one turn, before the
# next quote. Two, in case a REST read is ever one await deeper.
SETTLEMENT_TURNS = 2
ZERO = Decimal(0)


class Settlements:
    """The funding settlements of the range, oldest first; None: the source had none."""

    def __init__(self, rows: Sequence[FundingSettlement] | None) -> None:
        self.available = rows is not None
        self.rows = sorted(rows or (), key=lambda r: r.ts)
        self._times = [r.ts for r in self.rows]

    def last_before(self, ts: int) -> FundingSettlement | None:
        """The newest settlement at or before ``ts``."""
        i = bisect_right(self._times, ts)
        return self.rows[i - 1] if i else None

    def next_after(self, ts: int) -> int | None:
        i = bisect_right(self._times, ts)
        return self._times[i] if i < len(self._times) else None

    def between(self, start_ms: int, end_ms: int) -> list[FundingSettlement]:
        return [r for r in self.rows if start_ms <= r.ts <= end_ms]


class BacktestTimeline(Timeline):
    replaying = True  # timers hand back stamps rather than reading the laptop's clocks

    def __init__(self, candles: Sequence[Candle], instrument: Instrument,
                 settlements: Settlements, start_ms: int) -> None:
        self.candles = candles  # the range to stream, oldest first
        self.instrument = instrument
        self.settlements = settlements
        self.now_ms = start_ms
        self.now = start_ms / 1000
        self.speed = 1.0
        super().__init__(ReplayClock(self))
        self.mono = self._read_now
        self.last_tick: Tick | None = None
        self._decided = asyncio.Event()
        self._never = asyncio.Event()
        # Called after each candle's decision (the run keeps the equity curve with it).
        self.after_candle: Callable[[Candle], None] = lambda candle: None
        # True when no intrabar price can matter: no position and no working order.
        self.quiet: Callable[[], bool] = lambda: False

    def _read_now(self) -> float:
        return self.now

    def _at(self, ts: int) -> None:
        self.now_ms, self.now = ts, ts / 1000

    def stamp(self) -> Stamp:
        return Stamp(self.now_ms, self.now, self.speed)

    async def point(self, kind: str) -> Stamp:
        return self.stamp()

    def decided(self) -> None:
        self._decided.set()

    def timer(self, kind: str, seconds: float | Callable[[], float],
              body: TimerBody) -> Callable[[TaskInfo], Awaitable[None]]:
        async def idle(info: TaskInfo) -> None:
            await self._never.wait()

        return idle

    def _mark(self, price: Decimal, ts: int) -> MarkPrice:
        last = self.settlements.last_before(ts)
        return MarkPrice(self.instrument.symbol, price, price,
                         ZERO if last is None else last.rate,
                         None if last is None else last.ts, self.settlements.next_after(ts), ts)

    async def events(self) -> AsyncIterator[MarketEvent]:
        tick_size = self.instrument.tick_size
        settled: int | None = None
        quiet = self.quiet
        for candle in self.candles:
            path = path_quotes(candle, tick_size)
            for point, tick in path[-1:] if quiet() else path:
                self._at(point.ts)
                self.last_tick = tick
                yield tick
                mark = self._mark(point.price, point.ts)
                yield mark
                if mark.last_settlement_ms != settled:
                    settled = mark.last_settlement_ms
                    for _ in range(SETTLEMENT_TURNS):
                        await asyncio.sleep(0)
            self._at(candle.close_time)
            self._decided.clear()
            yield candle
            await self._decided.wait()
            self.after_candle(candle)


class BacktestRest:
    """MarketRest over the loaded history: warm-up klines, the book at the current path
    quote, funding from the loaded settlements, the instrument."""

    def __init__(self, timeline: BacktestTimeline, history: Sequence[Candle]) -> None:
        self._timeline = timeline
        self._history = history  # warm-up and range, oldest first
        self.clock: ExchangeClock = timeline.clock

    async def klines(self, symbol: str, interval: str = "1min", start_ms: int | None = None,
                     end_ms: int | None = None, limit: int | None = None) -> list[Candle]:
        now = self._timeline.now_ms
        rows = [c for c in self._history if c.close_time <= now
                and (start_ms is None or c.open_time >= start_ms)
                and (end_ms is None or c.open_time < end_ms)]
        return rows[-limit:] if limit else rows

    async def depth(self, symbol: str, limit: int | str = 5) -> DepthSnapshot:
        tick = self._timeline.last_tick
        if tick is None:
            return DepthSnapshot([], [])
        return DepthSnapshot([(tick.bid, tick.bid_size)], [(tick.ask, tick.ask_size)])

    async def instrument(self, symbol: str) -> Instrument:
        return self._timeline.instrument

    async def funding_rate(self, symbol: str) -> FundingQuote:
        timeline = self._timeline
        now = timeline.now_ms
        last = timeline.settlements.last_before(now)
        tick = timeline.last_tick
        mark = tick.last if tick is not None and tick.last is not None else ZERO
        return FundingQuote(symbol, ZERO if last is None else last.rate, mark,
                            timeline.settlements.next_after(now))

    async def funding_history(self, symbol: str, start_ms: int,
                              end_ms: int | None = None) -> list[FundingSettlement]:
        now = self._timeline.now_ms
        return self._timeline.settlements.between(start_ms, min(now, end_ms or now))


__all__ = ["SETTLEMENT_TURNS", "BacktestRest", "BacktestTimeline", "Settlements"]
