"""Raw frames into the simulator's public connections: the `inject` and `fuzz` faults.

Injected frames go through each connection's outbound queue, in order, behind whatever is
queued already, so they arrive over the same socket as real pushes. Unlike pushes to a slow
client they are never dropped: the injector waits (bounded) for room, which also keeps a large
batch from stalling the event loop.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator

from loguru import logger

from laptop_agents.sim.frames import JsonObject
from laptop_agents.sim.fuzz import fuzz_frames
from laptop_agents.sim.venue import ConnectionsVenue, Subscriber

MAX_FUZZ_FRAMES = 200_000  # per call; a bound on one admin request's work


async def inject_frames(venue: ConnectionsVenue, frames: Iterable[str | bytes]) -> int:
    """Queue every frame to every public connection open now (stalled ones too).

    Returns the number of frames queued, summed over connections. A connection that goes away
    (or stops draining for 5 s) is skipped from then on.
    """
    live: list[Subscriber] = [c for c in venue.connections if not c.private and not c.dropped]
    sent = 0
    for frame in frames:
        if not live:
            break
        for conn in list(live):
            if conn.dropped or conn not in venue.connections or not await conn.send_wait(frame):
                live.remove(conn)
                continue
            sent += 1
    venue.stats.frames_injected += sent
    return sent


async def fuzz(venue: ConnectionsVenue, seed: int, count: int, symbol: str | None = None,
               oversized_every: int = 0) -> JsonObject:
    """Inject ``count`` hostile frames generated from ``seed`` (see sim/fuzz.py)."""
    if not 0 <= count <= MAX_FUZZ_FRAMES:
        raise ValueError(f"count must be between 0 and {MAX_FUZZ_FRAMES}")
    if oversized_every < 0:
        raise ValueError("oversized_every must be >= 0")
    target = (symbol or next(iter(venue.markets))).upper()
    kinds: Counter[str] = Counter()

    def counted() -> Iterator[str | bytes]:
        for kind, frame in fuzz_frames(seed, count, target, now_ms=venue.now_ms(),
                                       oversized_every=oversized_every,
                                       oversized_bytes=venue.options.oversized_bytes):
            kinds[kind] += 1
            yield frame

    sent = await inject_frames(venue, counted())
    logger.info("sim fault: injected {} fuzzed frames (seed {}) for {}", sent, seed, target)
    return {"sent": sent, "generated": sum(kinds.values()), "kinds": dict(sorted(kinds.items()))}
