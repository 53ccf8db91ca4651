"""The exchange's clock, estimated from what the exchange itself says.

The laptop's clock may be minutes off (no NTP, a sleep, a VM), and an exchange may run faster
than real time (the built-in simulator runs at 20x by default). Nothing that asks "what time is
it at the exchange" may use the laptop's wall clock, and the client is never told the
exchange's speed: both come from the exchange's own timestamps.

Sources, best first (docs/market-data.md, "Exchange time"):

* every WebSocket push carries ``ts`` (exchange ms, ~50 ms before arrival);
* a REST reply's ``Date`` header (1 s resolution, the second that had begun);
* before either, the laptop's wall clock.

The estimate is ``exchange_ms = rate * monotonic_ms + offset``. ``rate`` (exchange ms per local
ms) comes from pushes spread over up to a minute; ``offset`` is the median over the latest
samples, so one crafted timestamp cannot move it. A push whose ``ts`` lies more than a day
behind or a minute ahead of the estimate is implausible: the caller skips it. If such pushes
keep agreeing with each other for a few seconds, with no plausible push between them, the
estimate was wrong (the laptop slept, or it started from a skewed wall clock): it re-anchors.
"""

from __future__ import annotations

import statistics
import time
from collections import deque
from dataclasses import dataclass
from typing import Protocol

DAY_MS = 86_400_000
BACK_WINDOW_MS = DAY_MS  # a push may be this far behind the estimate
AHEAD_WINDOW_MS = 60_000  # ... and this far ahead of it
SAMPLE_EVERY_MS = 250.0  # local ms between two samples kept for the estimate
# Before the speed is known, samples come faster (a first guess within 200 ms), but not from
# every push: a flood of pushes would fill the window within milliseconds, so it would never
# span the second the speed needs to settle, and every push would pay for the medians.
FIRST_SAMPLES_EVERY_MS = 25.0
RATE_SAMPLES = 80  # about 20 s of samples for the rate
UNKNOWN_MAX_RATE = 1_000.0  # the fastest exchange clock believed before the rate is known
OFFSET_SAMPLES = 16  # the latest samples whose median is the offset
MIN_RATE_SPAN_MS = 1_000.0  # local ms of samples before the rate is estimated at all
RATE_SNAP = 0.01  # a rate within 1 % of 1.0 is a real-time exchange: exactly 1.0
PROVISIONAL_RATE_SPAN_MS = 200.0  # a first, rough rate from this much of pushes
PROVISIONAL_RATE_SNAP = 0.1  # ... snapped to 1.0 within 10 % (network jitter)
REANCHOR_SAMPLES = 5  # agreeing implausible pushes in a row that re-anchor the estimate
REANCHOR_KEEP = 64  # the implausible pushes remembered for that
REANCHOR_SPAN_MS = 3_000.0  # ... spread over at least this many local ms
REANCHOR_TOLERANCE_MS = 2_000.0  # ... whose offsets agree within this
DATE_RESOLUTION_MS = 1_000  # a Date header names the second that had begun
OFFSET_WARNING_MS = 1_000  # |offset| above this on a real-time exchange is worth a warning


class LocalClock(Protocol):
    """The laptop's clocks; injected in tests to skew or jump them."""

    def wall(self) -> float:
        """Epoch seconds (may jump: sleep, NTP, a user)."""
        ...

    def mono(self) -> float:
        """Monotonic seconds (does not advance while the laptop sleeps)."""
        ...


class SystemClock:
    def wall(self) -> float:
        return time.time()

    def mono(self) -> float:
        return time.monotonic()


@dataclass
class ClockStats:
    implausible: int = 0  # pushes whose ts lay outside the window
    reanchors: int = 0
    date_headers: int = 0


class ExchangeClock:
    """Exchange time for every part of one session (WS provider, REST client, engine)."""

    def __init__(self, local: LocalClock | None = None) -> None:
        self.local: LocalClock = local or SystemClock()
        # Read on every push: the system's clock without a method call in between.
        self._mono = time.monotonic if type(self.local) is SystemClock else self.local.mono
        self.stats = ClockStats()
        self._rate = 1.0
        # "A minute ahead" is a minute of the exchange's clock as the laptop lives it.
        self._ahead_ms = float(AHEAD_WINDOW_MS)
        self._rate_known = False  # pushes spread over MIN_RATE_SPAN_MS gave the rate
        self._offset: float | None = None  # exchange ms - rate * local mono ms
        self._date_offset: float | None = None  # exchange ms - local wall ms, from Date
        self._date_mono = 0.0  # local mono ms of that Date
        self._date_ms = 0.0  # ... and the exchange ms it stood for
        self._samples: deque[tuple[float, int]] = deque(maxlen=RATE_SAMPLES)
        self._outliers: list[tuple[float, int]] = []
        self._latest_ms = 0  # the latest exchange time the exchange has shown us
        self._heard_mono = float("-inf")  # local mono s of the last push or Date taken

    # --- reading --------------------------------------------------------------------------
    @property
    def speed(self) -> float:
        """Exchange ms per local ms: 1.0 for a real exchange, ~20 for the default simulator."""
        return self._rate

    @property
    def synced(self) -> bool:
        """True once pushes (not only the laptop clock or a Date header) set the estimate."""
        return self._offset is not None

    @property
    def informed(self) -> bool:
        """True once the exchange said what time it is (a push or a Date header)."""
        return self._offset is not None or self._date_offset is not None

    @property
    def rate_settled(self) -> bool:
        """True once a second or more of pushes gave the speed (not a first guess)."""
        return self._rate_known

    def quiet_for(self) -> float:
        """Local seconds since the exchange last told us its time (a push or a Date)."""
        return self.local.mono() - self._heard_mono

    def now_ms(self) -> int:
        """The estimated exchange time now, in epoch ms."""
        mono_ms = self.local.mono() * 1000.0
        if self._offset is not None:
            if self._rate_known:
                return int(self._rate * mono_ms + self._offset)
            last_mono, last_ms = self._samples[-1]
            return int(last_ms + (mono_ms - last_mono) * self._rate)
        wall_ms = self.local.wall() * 1000.0
        if self._date_offset is not None:
            return int(wall_ms + self._date_offset)
        return int(wall_ms)

    def settled_ms(self) -> int:
        """A time the exchange has certainly passed: what judges a REST row closed.

        The latest time a plausible push or Date header showed, but never ahead of the
        estimate (one crafted push a minute ahead must not close a running candle).
        """
        if self._latest_ms == 0:
            return self.now_ms()
        return min(self._latest_ms, self.now_ms())

    def offset_ms(self) -> int:
        """Exchange time minus the laptop's wall clock, now."""
        return self.now_ms() - int(self.local.wall() * 1000.0)

    def wall_seconds_until(self, exchange_ms: int) -> float:
        """Local seconds until the exchange reaches ``exchange_ms`` (0 if already past)."""
        return max(0.0, (exchange_ms - self.now_ms()) / 1000.0 / self._rate)

    # --- observing ------------------------------------------------------------------------
    def _window(self, mono_ms: float) -> tuple[float, float] | None:
        """(earliest, latest) plausible push ``ts`` now; None before anything is known."""
        if self._rate_known:
            assert self._offset is not None
            expected = self._rate * mono_ms + self._offset
            return expected - BACK_WINDOW_MS, expected + self._ahead_ms
        anchor_mono: float
        anchor_ms: float
        if self._samples:
            anchor_mono, anchor_ms = self._samples[-1]
        elif self._date_offset is not None:
            anchor_mono, anchor_ms = self._date_mono, self._date_ms
        else:
            return None
        # The speed is not known yet: allow any speed up to UNKNOWN_MAX_RATE since the anchor.
        elapsed = max(0.0, mono_ms - anchor_mono)
        return (anchor_ms - BACK_WINDOW_MS,
                anchor_ms + AHEAD_WINDOW_MS + elapsed * UNKNOWN_MAX_RATE)

    def observe(self, ts_ms: int) -> bool:
        """Take one push's ``ts``; False when it is implausible (the caller skips the push)."""
        mono = self._mono()
        mono_ms = mono * 1000.0
        offset = self._offset
        if self._rate_known and offset is not None:
            # The steady state, on every push: _window()'s bounds, inline.
            expected = self._rate * mono_ms + offset
            plausible = expected - BACK_WINDOW_MS <= ts_ms <= expected + self._ahead_ms
        else:
            window = self._window(mono_ms)
            plausible = window is None or window[0] <= ts_ms <= window[1]
        if not plausible:
            self.stats.implausible += 1
            return self._maybe_reanchor(mono_ms, ts_ms)
        if self._outliers:
            self._outliers.clear()
        self._heard_mono = mono
        if ts_ms > self._latest_ms:
            self._latest_ms = ts_ms
        every = SAMPLE_EVERY_MS if self._rate_known else FIRST_SAMPLES_EVERY_MS
        if not self._samples or mono_ms - self._samples[-1][0] >= every:
            self._sample(mono_ms, ts_ms)
        return True

    def observe_date(self, epoch_seconds: float) -> None:
        """A REST ``Date`` header: the exchange's second had begun when it was written."""
        self.stats.date_headers += 1
        date_ms = int(epoch_seconds * 1000)
        mono_ms = self.local.mono() * 1000.0
        if self._offset is None:
            # Mid-second is the best guess of "now" for a header with 1 s resolution.
            self._date_offset = date_ms + 500 - self.local.wall() * 1000.0
            self._date_mono = mono_ms
            self._date_ms = date_ms + 500.0
        else:
            behind = date_ms - self.now_ms()
            if behind > DATE_RESOLUTION_MS * max(1.0, self._rate):
                # The estimate fell behind (pushes stopped before the speed was known, or
                # the laptop stalled): a truthful Date is never ahead of the exchange, so it
                # moves the estimate forward. One behind it (a proxy's, or a server whose
                # Date is real time while its pushes run faster) moves nothing.
                self._sample(mono_ms, date_ms + 500)
        self._heard_mono = mono_ms / 1000.0
        if date_ms > self._latest_ms:
            self._latest_ms = date_ms

    def forget(self) -> None:
        """Drop the estimate (after the laptop slept: the monotonic clock stood still)."""
        self._offset = None
        self._rate_known = False
        self._samples.clear()
        self._outliers.clear()
        self._date_offset = None

    # --- estimating -----------------------------------------------------------------------
    def _sample(self, mono_ms: float, ts_ms: int) -> None:
        self._samples.append((mono_ms, ts_ms))
        samples = self._samples
        span = samples[-1][0] - samples[0][0]
        if span >= PROVISIONAL_RATE_SPAN_MS:
            quarter = max(1, len(samples) // 4)
            ordered = list(samples)
            old, new = ordered[:quarter], ordered[-quarter:]
            mono_old = statistics.median(m for m, _ in old)
            mono_new = statistics.median(m for m, _ in new)
            if mono_new > mono_old:
                rate = (statistics.median(e for _, e in new)
                        - statistics.median(e for _, e in old)) / (mono_new - mono_old)
                # A provisional rate (under a second of pushes) already drives timers and the
                # estimate; the plausibility window waits for the settled one.
                self._set_rate(rate, settled=span >= MIN_RATE_SPAN_MS and len(samples) >= 4)
        recent = list(samples)[-OFFSET_SAMPLES:]
        self._offset = statistics.median(e - self._rate * m for m, e in recent)

    def _set_rate(self, rate: float, settled: bool = True) -> None:
        rate = min(max(rate, 0.01), UNKNOWN_MAX_RATE)
        snap = RATE_SNAP if settled else PROVISIONAL_RATE_SNAP
        self._rate = 1.0 if abs(rate - 1.0) < snap else rate
        self._ahead_ms = AHEAD_WINDOW_MS * max(1.0, self._rate)
        self._rate_known = self._rate_known or settled

    def _maybe_reanchor(self, mono_ms: float, ts_ms: int) -> bool:
        """Implausible pushes that agree among themselves (on one line: offset and speed) for
        REANCHOR_SPAN_MS, with no plausible push between them, replace the estimate."""
        outliers = self._outliers
        outliers.append((mono_ms, ts_ms))
        del outliers[:-REANCHOR_KEEP]
        if len(outliers) < REANCHOR_SAMPLES:
            return False
        (m0, e0), (m1, e1) = outliers[0], outliers[-1]
        if m1 - m0 < REANCHOR_SPAN_MS or e1 <= e0:
            return False
        rate = (e1 - e0) / (m1 - m0)
        tolerance = REANCHOR_TOLERANCE_MS * max(1.0, rate)
        if any(abs(e - (e0 + rate * (m - m0))) > tolerance for m, e in outliers):
            return False
        self.stats.reanchors += 1
        kept = list(outliers)
        self.forget()
        self._latest_ms = 0
        self._set_rate(rate)
        self._samples.extend(kept)
        self._offset = statistics.median(e - self._rate * m for m, e in kept)
        self._latest_ms = max(e for _, e in kept)
        return True


__all__ = ["ClockStats", "ExchangeClock", "LocalClock", "SystemClock"]
