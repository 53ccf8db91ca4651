"""Watching the laptop's own clocks: sleeps, loop stalls and the offset to the exchange.

Once a second the engine's ``clock_watch`` task calls :meth:`ClockWatch.check`. It compares how
far the wall clock and the monotonic clock moved since the previous call:

* the wall clock moved much further than the monotonic one: the laptop slept (the monotonic
  clock stands still during suspend on Linux and macOS);
* the monotonic clock moved much further than the one second asked for: the loop (or the whole
  process) stalled.

Either way, longer than ``LA_PAUSE_DETECT_SECONDS``, the caller is told how long the pause was;
it then marks prices stale, forgets the exchange-clock estimate, replaces the socket (which
backfills the missed candles) and logs ``resumed after a pause of N s``.

It also reports the exchange-clock offset and warns once when it exceeds a second on a
real-time exchange (an accelerated simulator's offset grows by design: logged once at INFO).
"""

from __future__ import annotations

from loguru import logger

from laptop_agents.data.exchange_clock import OFFSET_WARNING_MS, ExchangeClock, LocalClock


class ClockWatch:
    def __init__(self, local: LocalClock, clock: ExchangeClock, pause_after: float) -> None:
        self._local = local
        self._clock = clock
        self._pause_after = pause_after
        self._wall = local.wall()
        self._mono = local.mono()
        self._offset_warned = False
        self._rate_noted = False
        self.pauses = 0

    def restart(self) -> None:
        """Measure from now (the task starts long after construction: warm-up took time)."""
        self._wall, self._mono = self._local.wall(), self._local.mono()

    def check(self, expected: float) -> float | None:
        """Seconds of a sleep or stall since the last call (``expected`` seconds ago), or None."""
        wall, mono = self._local.wall(), self._local.mono()
        wall_step, mono_step = wall - self._wall, mono - self._mono
        self._wall, self._mono = wall, mono
        slept = wall_step - mono_step  # suspend: wall time passed that monotonic did not see
        stalled = mono_step - expected  # the loop did not come back when asked
        pause = max(slept, stalled)
        if pause >= self._pause_after:
            self.pauses += 1
            return pause
        return None

    def report_offset(self) -> int | None:
        """The offset in ms once pushes set the clock; warns once above a second."""
        if not self._clock.synced or not self._clock.rate_settled:
            return None  # a first guess of the speed makes any offset meaningless
        offset = self._clock.offset_ms()
        rate = self._clock.speed
        if rate != 1.0:
            if not self._rate_noted:
                logger.info("the exchange's clock runs at about {:.1f}x the laptop's "
                            "(an accelerated simulator?); its time is used throughout", rate)
                self._rate_noted = True
            return offset
        if abs(offset) > OFFSET_WARNING_MS:
            if not self._offset_warned:
                logger.warning("the laptop's clock is {:+.1f}s off the exchange's; exchange "
                               "time is used for candles, expiry and the risk day",
                               -offset / 1000)
                self._offset_warned = True
        elif self._offset_warned and abs(offset) < OFFSET_WARNING_MS // 2:
            logger.info("the laptop's clock agrees with the exchange's again ({:+d} ms)",
                        -offset)
            self._offset_warned = False
        return offset


__all__ = ["ClockWatch"]
