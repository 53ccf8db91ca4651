"""Timeline: where the engine's time-dependent steps meet the clock, so a replay can pin them.

Most of what the engine does follows from the market stream alone. A few steps depend on when
they happen instead: a strategy decision is applied after whichever item the stream had reached
when the strategy thread finished, the watchdog and position-sync timers fire on the wall
clock, a detected laptop pause marks prices stale, a REST answer lands between two items, and
the gate and the price guard judge freshness on the monotonic clock. Each such step asks the
timeline for a :class:`Stamp` (exchange time, monotonic time, exchange speed) at that point.

Live, :class:`Timeline` reads the clocks and adds no work to the tick path (``feed`` hands the
provider's stream over untouched; ``mono`` is ``time.monotonic`` itself). The recorder
(laptop_agents/record/recorder.py) writes every stamp down with its position in the stream; a
replay (laptop_agents/record/replay_source.py) hands the same stamps back at the same positions.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.models import MarketEvent
from laptop_agents.session.tasks import TaskInfo

# A timer body: does its work at ``stamp``; returns None when nothing happened that a replay
# must repeat, else a value to record with the stamp (e.g. the length of a detected pause).
TimerBody = Callable[["Stamp"], float | None]


@dataclass(frozen=True, slots=True)
class Stamp:
    now_ms: int  # exchange time (the ExchangeClock's estimate) at this step
    mono: float  # local monotonic seconds at this step
    speed: float  # exchange ms per local ms at this step
    value: float | None = None  # what a timer body returned, handed back in a replay


class Timeline:
    """The live timeline: real clocks, nothing recorded."""

    replaying = False

    def __init__(self, clock: ExchangeClock) -> None:
        self.clock = clock
        # What the gate, the price guard and the funding sync read as "now" (monotonic s).
        self.mono: Callable[[], float] = time.monotonic

    def stamp(self) -> Stamp:
        return Stamp(self.clock.now_ms(), time.monotonic(), self.clock.speed)

    def feed(self, items: AsyncIterator[MarketEvent]) -> AsyncIterator[MarketEvent]:
        """The stream the engine consumes (live: the provider's own)."""
        return items

    async def point(self, kind: str) -> Stamp:
        """A time-dependent step of kind ``kind`` happens now."""
        return self.stamp()

    def decided(self) -> None:
        """The strategy task is done with its candle: the decision applied, or the strategy
        failed on it. Nothing to do live; a backtest's stream waits for it before going on."""

    def timer(self, kind: str, seconds: float | Callable[[], float],
              body: TimerBody) -> Callable[[TaskInfo], Awaitable[None]]:
        """A timer task: ``body`` every ``seconds`` (waits first)."""

        async def loop(info: TaskInfo) -> None:
            while True:
                await asyncio.sleep(seconds() if callable(seconds) else seconds)
                body(self.stamp())
                info.ran()

        return loop

    async def aclose(self) -> None:
        """Flush whatever the timeline keeps (a recorder's file)."""


__all__ = ["Stamp", "Timeline", "TimerBody"]
