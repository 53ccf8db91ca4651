"""The ``symbols`` figure's simulator, in a process of its own: the built-in simulator serving
every benchmarked contract at the live push rates and speed 1 (depth_book1 every 310 ms, klines
every 500 ms, price every second, per subscribed symbol).

``python -m bench.symbols_sim SYM,SYM,...`` prints one JSON line with the URLs, then answers
JSON commands read from stdin, one reply line each: ``mids`` {symbols} (each one's current
mid), ``cross`` {symbol, bid} (scripts that symbol's best bid to ``bid`` with the admin API's
``script_price`` and replies with the monotonic ns just before the first depth frame carrying
it was written to the socket), ``quit``. :class:`SymbolsSim` drives it.
"""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from typing import Any

import orjson

from bench.json_process import JsonProcess

PROCESS_START_TIMEOUT_S = 120.0  # 100 contracts' history takes ~20 s to build
COMMAND_TIMEOUT_S = 30.0


async def _serve(symbols: tuple[str, ...]) -> None:
    import time

    from aiohttp import web
    from loguru import logger

    from laptop_agents.sim import frames
    from laptop_agents.sim.options import SimOptions
    from laptop_agents.sim.server import SimExchange

    logger.remove()
    # A crossing is timed at its depth frame's write to the socket: the push timer builds the
    # frame (armed here), the connection's writer task sends it later, behind the frames of
    # every other symbol queued by the same push.
    pending: dict[str, asyncio.Future[int]] = {}
    armed: dict[str, tuple[str, asyncio.Future[int]]] = {}
    depth_push = frames.depth_push
    send_str = web.WebSocketResponse.send_str

    def building(ch: str, market: Any, levels: int, now: int) -> Any:
        symbol = market.spec.symbol
        if symbol in pending:
            armed[symbol] = (f'{{"ch":"{ch}","symbol":"{symbol}",', pending.pop(symbol))
        return depth_push(ch, market, levels, now)

    async def sending(ws: web.WebSocketResponse, data: str, compress: int | None = None
                      ) -> None:
        for symbol, (head, waiter) in list(armed.items()):
            if data.startswith(head):
                del armed[symbol]
                if not waiter.done():
                    waiter.set_result(time.monotonic_ns())
        await send_str(ws, data, compress)

    # This process only: the simulator's frames pass through these two.
    frames.depth_push = building  # type: ignore[assignment]
    setattr(web.WebSocketResponse, "send_str", sending)  # noqa: B010
    sim = SimExchange(SimOptions(speed=1.0, seed=13, symbols=symbols, depth_push_ms=310,
                                 kline_push_ms=500, price_push_ms=1000, idle_timeout=600.0))
    await sim.start()
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)

    def reply(obj: dict[str, Any]) -> None:
        sys.stdout.write(orjson.dumps(obj).decode() + "\n")
        sys.stdout.flush()

    def mid(symbol: str) -> str:
        tick = sim.current_tick(symbol)
        return str((tick.bid + tick.ask) / 2)

    reply({"rest": sim.rest_url, "ws": sim.ws_url})
    try:
        while line := await reader.readline():
            cmd = orjson.loads(line)
            if cmd["cmd"] == "mids":
                reply({s: mid(s) for s in cmd["symbols"]})
            elif cmd["cmd"] == "cross":
                symbol = cmd["symbol"]
                waiter = pending[symbol] = loop.create_future()
                sim.script_price(Decimal(cmd["bid"]), symbol=symbol)
                reply({"t": await asyncio.wait_for(waiter, COMMAND_TIMEOUT_S)})
            elif cmd["cmd"] == "quit":
                break
            else:
                reply({"error": f"unknown command {cmd['cmd']}"})
    finally:
        await sim.stop()


class SymbolsSim(JsonProcess):
    """Handle on a ``python -m bench.symbols_sim`` process (``async with SymbolsSim(...)``)."""

    def __init__(self, symbols: tuple[str, ...]) -> None:
        super().__init__("bench.symbols_sim", ",".join(symbols),
                         start_timeout=PROCESS_START_TIMEOUT_S,
                         command_timeout=COMMAND_TIMEOUT_S + 5, quit_timeout=10.0)
        self.symbols = symbols
        self.rest_url = self.ws_url = ""

    async def __aenter__(self) -> SymbolsSim:
        ready = await self.start()
        self.rest_url, self.ws_url = ready["rest"], ready["ws"]
        return self

    async def mids(self, symbols: list[str]) -> dict[str, Decimal]:
        return {s: Decimal(v) for s, v in (await self.call("mids", symbols=symbols)).items()}

    async def cross(self, symbol: str, bid: Decimal) -> int:
        """Script ``symbol``'s bid to ``bid``; monotonic ns of the crossing depth frame."""
        return int((await self.call("cross", symbol=symbol, bid=str(bid)))["t"])


if __name__ == "__main__":
    asyncio.run(_serve(tuple(sys.argv[1].split(","))))
