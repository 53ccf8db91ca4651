"""Where the embedded simulator's market starts: resumed from the journal, or new.

The market is a pure function of (seed, origin, simulated time). A daemon restarted on the
same journal and seed must meet the market its journaled orders were placed in, and no time
it journals may lie before one it journaled already. So the first start stores the seed and
the origin in the journal's ``meta`` table; a later start with the same seed builds the market
from that origin and starts the simulated clock just after the latest timestamp in the journal
(orders, fills, trades, positions, equity, the account's last exit, and the simulated time at
the previous stop). A different seed, or a journal without these keys (a new one, or one reset
by ``laptop-agents account reset``), starts a new market, still never before the journal's
latest time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from laptop_agents.sim.records import MINUTE_MS

if TYPE_CHECKING:
    # Only annotations: importing storage first, before paper, trips the import order of
    # paper/__init__ -> ledger -> storage.journal; the caller passes an open journal anyway.
    from laptop_agents.storage.journal import Journal

META_SEED = "sim_seed"
META_ORIGIN = "sim_origin_ms"
META_REACHED = "sim_reached_ms"  # simulated time the embedded simulator reached (at stop)


@dataclass(frozen=True, slots=True)
class StartPoint:
    start_ms: int  # simulated time at start
    origin_ms: int | None  # the stored origin when resuming; None: a new market
    last_ms: int | None  # the journal's latest time (None: nothing journaled)

    @property
    def resumed(self) -> bool:
        return self.origin_ms is not None


def _meta_int(journal: Journal, key: str) -> int | None:
    raw = journal.get_meta(key)
    try:
        return None if raw is None else int(raw)
    except ValueError:  # a hand-edited value: treated as absent, so a new market starts
        return None


def latest_ms(journal: Journal) -> int | None:
    """The latest simulated time the journal knows of."""
    times = [t for t in (journal.latest_ms(), _meta_int(journal, META_REACHED)) if t is not None]
    return max(times) if times else None


def start_point(journal: Journal, seed: int, wall_ms: int) -> StartPoint:
    """Resume the stored market when the seed matches; else a new one from the wall minute
    (or the minute after the journal's latest time, if that is later)."""
    last = latest_ms(journal)
    origin = _meta_int(journal, META_ORIGIN)
    if _meta_int(journal, META_SEED) == seed and origin is not None and last is not None \
            and origin <= last:
        # The next whole second: an exchange clock estimated from the REST Date header (whole
        # seconds) then never reads a time before the journal's latest either.
        return StartPoint(start_ms=(last // 1000 + 1) * 1000, origin_ms=origin, last_ms=last)
    start = wall_ms // MINUTE_MS * MINUTE_MS
    if last is not None:
        start = max(start, (last // MINUTE_MS + 1) * MINUTE_MS)
    return StartPoint(start_ms=start, origin_ms=None, last_ms=last)


def remember(journal: Journal, seed: int, origin_ms: int, now_ms: int) -> None:
    """Store the running market's seed and origin (the next start resumes it)."""
    journal.set_meta(META_SEED, str(seed))
    journal.set_meta(META_ORIGIN, str(origin_ms))
    record_time(journal, now_ms)


def record_time(journal: Journal, now_ms: int) -> None:
    """The simulated time reached (at a stop): the next start resumes after it."""
    previous = _meta_int(journal, META_REACHED)
    journal.set_meta(META_REACHED, str(max(now_ms, previous or now_ms)))
