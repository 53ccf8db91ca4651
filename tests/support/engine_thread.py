"""The real engine (AsyncRunner) on the seeded simulator, with its API on a real 127.0.0.1
port, all on one event loop in a background thread: for synchronous tests (Playwright) that
need real trades on demand. Each symbol's strategy (:class:`Enter`) opens a long position at
market whenever flat and armed; the test arms and disarms it and flattens over HTTP."""

from __future__ import annotations

import asyncio
import threading
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from laptop_agents.api.app import create_app
from laptop_agents.session.async_session import AsyncRunner
from tests.support.sim import engine_settings
from tests.support.strategies import Enter

NOTIONAL = Decimal(40)  # USDT per entry: above every contract's minimum notional


class EngineThread:
    """``with EngineThread(data_dir, symbols, token) as engine:`` -- ``engine.url`` serves
    the API and the page; ``engine.strategies[symbol].armed`` lets a symbol enter."""

    def __init__(self, data_dir: Path, symbols: tuple[str, ...], token: str) -> None:
        self.data_dir, self.symbols, self.token = data_dir, symbols, token
        self.strategies = {symbol: Enter(armed=False, notional=NOTIONAL) for symbol in symbols}
        self.port = 0
        self.runner: AsyncRunner | None = None
        self._loop = asyncio.new_event_loop()
        self._stop: asyncio.Event | None = None
        self._ready = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="engine", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> EngineThread:
        self._thread.start()
        if not self._ready.wait(30):
            raise AssertionError("the engine did not start in 30 s")
        if self._error is not None:
            raise self._error
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self._stop is not None:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(timeout=20)

    def _main(self) -> None:
        try:
            self._loop.run_until_complete(self._serve())
        except BaseException as error:  # surfaced by __enter__ (or lost after it: logged)
            self._error = error
        finally:
            self._ready.set()
            self._loop.close()

    async def _serve(self) -> None:
        from laptop_agents.sim.options import SimOptions
        from laptop_agents.sim.server import SimExchange

        sim = SimExchange(SimOptions(seed=7, speed=60.0, kline_push_ms=100, depth_push_ms=50,
                                     symbols=self.symbols))
        await sim.start()
        try:
            settings = engine_settings(sim, self.data_dir, symbols=",".join(self.symbols),
                                       max_position_qty=10**9, api_token=self.token)
            async with aiohttp.ClientSession() as session:
                runner = await AsyncRunner.create(settings, session=session,
                                                  strategies=dict(self.strategies))
                await self._run(runner, create_app(runner.controller, settings))
        finally:
            await sim.stop()

    async def _run(self, runner: AsyncRunner, app: web.Application) -> None:
        site_runner = web.AppRunner(app, access_log=None)
        await site_runner.setup()
        site = web.TCPSite(site_runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]
        self.runner, self._stop = runner, asyncio.Event()
        runner.api_ready.set()
        task = asyncio.create_task(runner.run(self._stop))
        try:
            for _ in range(200):  # a tick of every symbol, and warm
                if task.done() or (runner.controller.readiness()[0] and all(
                        e.first_tick.is_set() for e in runner.symbols)):
                    break
                await asyncio.sleep(0.05)
            if task.done():
                await task
            self._ready.set()
            await task
        finally:
            self._stop.set()
            await site_runner.cleanup()
