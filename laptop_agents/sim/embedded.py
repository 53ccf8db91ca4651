"""Start the simulator inside another program (`--source sim` for the daemon and the probe)."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.readable import stamp
from laptop_agents.sim import resume
from laptop_agents.sim.contracts import SPECS
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange

if TYPE_CHECKING:
    # Only annotations: importing storage first, before paper, trips the import order of
    # paper/__init__ -> ledger -> storage.journal; the caller passes an open journal anyway.
    from laptop_agents.storage.journal import Journal


def sim_symbols(settings: Settings) -> tuple[str, ...]:
    """The contracts the embedded simulator serves: LA_SIM_SYMBOLS, else the ones the daemon
    trades (LA_SYMBOLS, else LA_SYMBOL alone)."""
    if settings.sim_symbols:
        return tuple(settings.sim_symbols.split(","))
    return settings.trade_symbols


async def start_embedded(settings: Settings, journal: Journal | None = None
                         ) -> tuple[SimExchange, Settings]:
    """Start a SimExchange from ``settings.sim_*``; return it and settings pointing at it.

    With a ``journal`` (the daemon's) the market resumes where the journal left it
    (sim/resume.py); without one (the probe) it starts at the wall minute. The caller owns
    the simulator and must ``await stop_embedded(sim, journal)`` (or ``sim.stop()``).
    """
    point = None
    if journal is not None:
        point = resume.start_point(journal, settings.sim_seed, time.time_ns() // 1_000_000)
    sim = SimExchange(SimOptions(
        host=settings.sim_host,
        port=settings.sim_port,
        speed=settings.sim_speed,
        seed=settings.sim_seed,
        idle_timeout=settings.sim_idle_timeout,
        kline_push_ms=settings.sim_kline_push_ms,
        depth_push_ms=settings.sim_depth_push_ms,
        admin=settings.sim_admin,
        funding_interval_ms=settings.sim_funding_interval * 1000,
        start_ms=None if point is None else point.start_ms,
        origin_ms=None if point is None else point.origin_ms,
        # The book at once on subscribe: the daemon's first tick does not wait up to one depth
        # period (start-up, docs/performance.md). Off by default elsewhere, where clients may
        # rely on live-like timing (the first push 100-600 ms after subscribing).
        depth_snapshot=True,
        # A symbol it cannot simulate is left out (BTCUSDT alone when none is left), so the
        # start-up check asks trading_pairs like the real exchange's and refuses the symbol
        # with one line (exit 78) instead of a ValueError here.
        symbols=tuple(s for s in sim_symbols(settings) if s in SPECS) or ("BTCUSDT",),
    ))
    if point is not None:
        logger.info("embedded simulator: {} market of seed {} from origin {} at simulated time "
                    "{} (journal's latest {})", "resuming the" if point.resumed else "a new",
                    settings.sim_seed, stamp(sim.origin_ms), stamp(sim.start_ms),
                    stamp(point.last_ms))
    await sim.start()
    if journal is not None:
        resume.remember(journal, settings.sim_seed, sim.origin_ms, sim.start_ms)
    pointed = settings.model_copy(update={
        "bitunix_ws_url": sim.ws_url,
        "bitunix_private_ws_url": sim.private_ws_url,
        "bitunix_rest_url": sim.rest_url,
    })
    return sim, pointed


async def stop_embedded(sim: SimExchange, journal: Journal | None = None) -> None:
    """Stop it and journal the simulated time reached, so the next start resumes after it."""
    await sim.stop()
    if journal is not None:
        resume.record_time(journal, sim.clock.now_ms())
