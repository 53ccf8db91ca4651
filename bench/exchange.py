"""The benchmarks' exchange, in a process of its own so it never shares a core's loop with
what is measured: the built-in simulator (REST, warm-up history, and its own live WebSocket at
the real cadence) and the :class:`~bench.servers.Blaster` on a second port. Frames carry the
simulator's time and prices near its book, so the daemon's exchange clock and price guard
accept them.

``python -m bench.exchange`` prints one JSON line with the URLs, then answers JSON commands
read from stdin, one reply line each: ``blast`` {n, rate}, ``quote`` {bid, ask}, ``center``,
``live`` {on}, ``wait_sub``, ``wait_closed``, ``conns``, ``quit``. :class:`Exchange` drives it.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from typing import Any

import orjson

from bench.json_process import JsonProcess
from bench.servers import Blaster

PROCESS_START_TIMEOUT_S = 30.0
COMMAND_TIMEOUT_S = 120.0


async def _serve() -> None:
    from loguru import logger

    from laptop_agents.sim.options import SimOptions
    from laptop_agents.sim.server import SimExchange

    logger.remove()
    sim = SimExchange(SimOptions(speed=1.0, seed=13, symbols=("BTCUSDT",), depth_push_ms=310,
                                 kline_push_ms=500, idle_timeout=600.0))
    await sim.start()

    def center() -> Decimal:
        tick = sim.current_tick()
        return ((tick.bid + tick.ask) / 2).quantize(Decimal("0.1"))

    blaster = Blaster(now_ms=sim.now_ms, center=center)
    await blaster.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(obj: dict[str, Any]) -> None:
        sys.stdout.write(orjson.dumps(obj).decode() + "\n")
        sys.stdout.flush()

    reply({"rest": sim.rest_url, "sim_ws": sim.ws_url, "blast_ws": blaster.url})
    try:
        while line := await reader.readline():
            cmd = orjson.loads(line)
            name = cmd["cmd"]
            if name == "blast":
                t0, t1 = await blaster.blast(int(cmd["n"]), float(cmd.get("rate", 0.0)),
                                             cmd.get("path"))
                reply({"t0": t0, "t1": t1})
            elif name == "quote":
                reply({"t": blaster.quote(cmd["bid"], cmd["ask"], cmd.get("path"))})
            elif name == "center":
                reply({"center": str(center())})
            elif name == "live":
                blaster.live = bool(cmd["on"])
                reply({})
            elif name == "wait_sub":
                await blaster.wait_subscribed()
                reply({})
            elif name == "wait_closed":
                await blaster.wait_closed()
                reply({})
            elif name == "conns":
                reply({"open": len(blaster.conns)})
            elif name == "quit":
                break
            else:
                reply({"error": f"unknown command {name}"})
    finally:
        await blaster.stop()
        await sim.stop()


class Exchange(JsonProcess):
    """Handle on a ``python -m bench.exchange`` process (``async with Exchange() as ex``)."""

    def __init__(self) -> None:
        super().__init__("bench.exchange", start_timeout=PROCESS_START_TIMEOUT_S,
                         command_timeout=COMMAND_TIMEOUT_S)
        self.rest_url = self.sim_ws_url = self.blast_ws_url = ""

    async def __aenter__(self) -> Exchange:
        ready = await self.start()
        self.rest_url, self.sim_ws_url = ready["rest"], ready["sim_ws"]
        self.blast_ws_url = ready["blast_ws"]
        return self

    async def center(self) -> Decimal:
        return Decimal((await self.call("center"))["center"])

    async def blast(self, n: int, rate: float = 0.0, path: str | None = None
                    ) -> tuple[int, int]:
        reply = await self.call("blast", n=n, rate=rate, path=path)
        return int(reply["t0"]), int(reply["t1"])

    async def quote(self, bid: Decimal, ask: Decimal, path: str | None = None) -> int:
        """Send one depth frame; the monotonic ns at which the exchange wrote it."""
        return int((await self.call("quote", bid=str(bid), ask=str(ask), path=path))["t"])


if __name__ == "__main__":
    asyncio.run(_serve())
