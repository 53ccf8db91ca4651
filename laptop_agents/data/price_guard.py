"""The price guard: no quote moves money until there is reason to believe it.

Every best bid/offer passes :meth:`PriceGuard.check` before the broker, the equity, the strategy
or the chart see it. A quote is quarantined (counted, never used) when it is crossed, not
positive, or when either side lies outside ``band`` of the reference price. The reference is
whichever is newer of the last accepted mid and the last REST-confirmed candle close.

The exchange's mark price (the ``price`` channel) is judged by :meth:`PriceGuard.judge_mark`
against that same reference and never becomes it: a mark can liquidate a position, so one
crafted mark frame must neither liquidate nor move the band the quotes are judged by.

A real large move is accepted once it is confirmed, either way:

* by the exchange over another channel: a REST depth read whose mid agrees with the candidate
  (:meth:`PriceGuard.external`). The engine asks for one as soon as a candidate appears, and
  again every few seconds while the quarantine lasts. A read that disagrees is a veto;
* by the feed itself, unless REST vetoed it: ``confirm_quotes`` quarantined quotes in a row
  that agree with each other (each within ``band`` of the first) over at least
  ``confirm_seconds``, with no accepted quote between them (a crafted frame or two among real
  ones never gets there). This is the path for a move while REST is unreachable.

The rule, with its numbers, is written out in docs/market-data.md ("Price guard").
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from loguru import logger

from laptop_agents.models import Tick

_ZERO = Decimal(0)  # compared with every quote: a Decimal against a Decimal is the cheaper


class QuoteRejected(enum.StrEnum):
    CROSSED = "crossed"
    NOT_POSITIVE = "not_positive"
    OUTSIDE_BAND = "outside_band"
    NO_REFERENCE = "no_reference"  # a mark price before any quote or confirmed close


@dataclass
class GuardStats:
    accepted: int = 0
    rejected: dict[str, int] = field(default_factory=dict)
    confirmed_moves: int = 0  # large moves accepted after confirmation
    external_checks: int = 0
    marks_rejected: dict[str, int] = field(default_factory=dict)


@dataclass
class _Candidate:
    """A run of quarantined quotes that agree with each other: maybe a real move."""

    mid: Decimal
    first_mono: float
    count: int = 1


class PriceGuard:
    def __init__(
        self,
        *,
        band: Decimal,
        confirm_quotes: int = 5,
        confirm_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if band <= 0:
            raise ValueError("band must be positive")
        self.band = band
        self.confirm_quotes = confirm_quotes
        self.confirm_seconds = confirm_seconds
        self._monotonic = monotonic
        self.stats = GuardStats()
        self._mid_sum: Decimal | None = None  # bid + ask of the last accepted quote
        self._close: Decimal | None = None  # last closed candle's close
        # Which reference came last, the close or an accepted mid: an order, not a time, so
        # no quote pays for a clock read and a replay without the wall clock agrees.
        self._close_newer = False
        self._lo = self._hi = Decimal(0)  # band around the current reference
        # bid + ask bounds within which an accepted quote leaves the reference where it is
        # (its mid within a tenth of the band of it); see _accept.
        self._keep_lo = self._keep_hi = Decimal(0)
        self._reference: Decimal | None = None
        self._candidate: _Candidate | None = None
        self.suspect_since: float | None = None  # monotonic start of the current quarantine
        self._burst = 0  # quotes quarantined since the last accepted one
        self.external_wanted = False  # a REST read would settle the current candidate
        self._veto = False  # the last REST read contradicted the quarantined quotes

    # --- references -----------------------------------------------------------------------
    @property
    def _mid(self) -> Decimal | None:
        """The last accepted mid (kept as bid + ask: halved only when it is read)."""
        return None if self._mid_sum is None else self._mid_sum / 2

    @property
    def reference(self) -> Decimal | None:
        return self._reference

    def observe_close(self, close: Decimal) -> None:
        """A closed, REST-confirmed candle: a reference when it is newer than the last quote.
        (The engine never passes a candle built from pushes: one crafted kline must not move
        the reference.)"""
        if close > 0:
            self._close, self._close_newer = close, True
            self._update_reference()

    def judge_mark(self, mark: Decimal) -> QuoteRejected | None:
        """None when the mark price may be used (within ``band`` of the reference)."""
        if mark <= 0:
            reason = QuoteRejected.NOT_POSITIVE
        elif self._reference is None:
            reason = QuoteRejected.NO_REFERENCE
        elif not self._lo <= mark <= self._hi:
            reason = QuoteRejected.OUTSIDE_BAND
        else:
            return None
        self.stats.marks_rejected[reason.value] = self.stats.marks_rejected.get(reason.value, 0) + 1
        return reason

    def _update_reference(self) -> None:
        ref: Decimal | None
        if self._mid is not None and (self._close is None or not self._close_newer):
            ref = self._mid
        else:
            ref = self._close
        self._set_reference(ref)

    def _set_reference(self, ref: Decimal | None) -> None:
        self._reference = ref
        if ref is not None:
            self._lo, self._hi = ref * (1 - self.band), ref * (1 + self.band)
            keep = ref * self.band / 10
            self._keep_lo, self._keep_hi = (ref - keep) * 2, (ref + keep) * 2

    # --- checking -------------------------------------------------------------------------
    def check(self, tick: Tick) -> QuoteRejected | None:
        """None when ``tick`` may be used; otherwise why it is quarantined."""
        bid, ask = tick.bid, tick.ask
        if bid <= _ZERO or ask <= _ZERO:
            return self._reject(QuoteRejected.NOT_POSITIVE, tick, None)
        if bid > ask:
            return self._reject(QuoteRejected.CROSSED, tick, None)
        if self._reference is not None and not (self._lo <= bid and ask <= self._hi):
            mid = (bid + ask) / 2
            if not self._confirmed_by_feed(mid):
                return self._reject(QuoteRejected.OUTSIDE_BAND, tick, mid)
            self.stats.confirmed_moves += 1
            logger.warning("price guard: a move to {} confirmed by {} agreeing quotes; "
                           "accepted as the new reference", mid, self.confirm_quotes)
            self._end_quarantine()
        # Accepted (inline: every quote comes here).
        self.stats.accepted += 1
        if self._burst:
            self._end_quarantine()
        self._close_newer = False
        # The band follows the accepted mid, but recomputing it on every quote is waste: only
        # once the mid has moved a tenth of the band away from the reference. Compared as
        # bid + ask against bounds kept with the reference, every quote costs one addition;
        # the mid itself is computed only when it is needed.
        total = bid + ask
        self._mid_sum = total
        if self._reference is None or not self._keep_lo <= total <= self._keep_hi:
            self._set_reference(total / 2)
        return None

    def _end_quarantine(self) -> None:
        """An accepted quote ends a quarantine. (Only a quarantine sets any of this state:
        with no quote quarantined since the last accepted one, there is nothing to clear.)"""
        if self._burst:
            held = self._monotonic() - (self.suspect_since or self._monotonic())
            logger.info("price guard: quotes accepted again after {} quarantined over {:.1f}s",
                        self._burst, held)
            self._burst = 0
        self.suspect_since = None
        self._candidate = None
        self.external_wanted = False
        self._veto = False

    def _confirmed_by_feed(self, mid: Decimal) -> bool:
        now = self._monotonic()
        self.external_wanted = True  # the engine rate-limits the reads
        candidate = self._candidate
        if candidate is None or abs(mid - candidate.mid) > candidate.mid * self.band:
            self._candidate = _Candidate(mid, now)
            return False
        candidate.count += 1
        if self._veto or candidate.count < self.confirm_quotes or now - candidate.first_mono < (
            self.confirm_seconds
        ):
            return False
        self._set_reference(mid)
        return True

    def _reject(self, reason: QuoteRejected, tick: Tick, mid: Decimal | None) -> QuoteRejected:
        rejected = self.stats.rejected
        rejected[reason.value] = rejected.get(reason.value, 0) + 1
        if self.suspect_since is None:
            self.suspect_since = self._monotonic()
        if self._burst == 0:  # once per burst; the counters have the rest
            logger.warning("price guard: quote quarantined ({}): bid={} ask={} reference={}",
                           reason.value, tick.bid, tick.ask, self._reference)
        self._burst += 1
        return reason

    def external(self, bid: Decimal, ask: Decimal) -> bool:
        """A REST depth read. True when it confirms the candidate move (the next quote at the
        new level is accepted). A read that agrees with the old reference refreshes it."""
        self.stats.external_checks += 1
        self.external_wanted = False
        if bid <= 0 or ask <= 0 or bid > ask:
            return False
        mid = (bid + ask) / 2
        candidate = self._candidate
        if candidate is not None and abs(mid - candidate.mid) <= candidate.mid * self.band:
            self._candidate = None
            self._mid_sum, self._close_newer = bid + ask, False
            self._set_reference(mid)
            self.stats.confirmed_moves += 1
            logger.warning("price guard: a move to {} confirmed by a REST depth read", mid)
            return True
        self._veto = candidate is not None
        self._mid_sum, self._close_newer = bid + ask, False
        self._set_reference(mid)
        return False

    def external_failed(self) -> None:
        """REST could not be read: the feed's own confirmation is all there is."""
        self._veto = False

    def in_band(self, price: Decimal) -> bool:
        """True when ``price`` lies within the band of the reference (or there is none)."""
        return self._reference is None or self._lo <= price <= self._hi

    def suspect_for(self) -> float:
        """Seconds the feed has offered only quarantined quotes (0 when it has not)."""
        if self.suspect_since is None:
            return 0.0
        return self._monotonic() - self.suspect_since


__all__ = ["GuardStats", "PriceGuard", "QuoteRejected"]
