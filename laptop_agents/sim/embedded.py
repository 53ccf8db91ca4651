"""Start the simulator inside another program (`--source sim` for the daemon and the probe)."""

from __future__ import annotations

from laptop_agents.config import Settings
from laptop_agents.sim.contracts import SPECS
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange


async def start_embedded(settings: Settings) -> tuple[SimExchange, Settings]:
    """Start a SimExchange from ``settings.sim_*``; return it and settings pointing at it.

    The caller owns the simulator and must ``await sim.stop()``.
    """
    sim = SimExchange(SimOptions(
        host=settings.sim_host,
        port=settings.sim_port,
        speed=settings.sim_speed,
        seed=settings.sim_seed,
        idle_timeout=settings.sim_idle_timeout,
        kline_push_ms=settings.sim_kline_push_ms,
        depth_push_ms=settings.sim_depth_push_ms,
        admin=settings.sim_admin,
        # The book at once on subscribe: the daemon's first tick does not wait up to one depth
        # period (start-up, docs/performance.md). Off by default elsewhere, where clients may
        # rely on live-like timing (the first push 100-600 ms after subscribing).
        depth_snapshot=True,
        # A symbol it cannot simulate still gets a running simulator (with every contract it
        # can), so the start-up check asks its trading_pairs like the real exchange's and
        # refuses the symbol with one line (exit 78) instead of a ValueError here.
        symbols=(settings.symbol,) if settings.symbol in SPECS else tuple(SPECS),
    ))
    await sim.start()
    pointed = settings.model_copy(update={
        "bitunix_ws_url": sim.ws_url,
        "bitunix_private_ws_url": sim.private_ws_url,
        "bitunix_rest_url": sim.rest_url,
    })
    return sim, pointed
