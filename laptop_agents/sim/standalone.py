"""`laptop-agents sim`: the simulator on its own, for pointing another client at it."""

from __future__ import annotations

import asyncio
import signal

from loguru import logger

from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange


def run_standalone(options: SimOptions) -> int:
    """Serve until SIGINT/SIGTERM, then return 0."""

    async def main() -> None:
        sim = SimExchange(options)
        await sim.start()
        logger.info("public WS {}  private WS {}  REST {}", sim.ws_url, sim.private_ws_url,
                    sim.rest_url)
        if sim.admin_url:
            logger.info("admin API {} (loopback only)", sim.admin_url)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await stop.wait()
        finally:
            logger.info("sim: signal received, shutting down")
            await sim.stop()

    asyncio.run(main())
    return 0
