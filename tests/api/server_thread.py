"""Serve the API on a real 127.0.0.1 port from a background thread with its own event loop.

Used by the synchronous tests (schema fuzzing with requests, the Playwright browser test) so
that their blocking calls never run on the server's loop. ``call`` runs a function on the
server's loop (e.g. ``hub.publish``), the way the engine would.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Callable
from typing import Any, TypeVar

from aiohttp import web

from laptop_agents.api.app import create_app
from laptop_agents.api.hub import FeedHub
from laptop_agents.api.keys import HUB
from laptop_agents.config import Settings

from .memory_controller import MemoryController

T = TypeVar("T")


class ServerThread:
    def __init__(self, settings: Settings, controller: MemoryController) -> None:
        self.settings = settings
        self.controller = controller
        self.loop = asyncio.new_event_loop()
        self.port = 0
        self.hub: FeedHub | None = None
        self._runner: web.AppRunner | None = None
        self._started = threading.Event()
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, name="api-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._start())
        except BaseException as error:  # surfaced by start()
            self._error = error
            self._started.set()
            return
        self._started.set()
        self.loop.run_forever()
        self.loop.run_until_complete(self._stop())
        self.loop.close()

    async def _start(self) -> None:
        app = create_app(self.controller, self.settings)
        self.hub = app[HUB]
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        server: Any = site._server
        self.port = server.sockets[0].getsockname()[1]

    async def _stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def start(self) -> ServerThread:
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("API server thread did not start")
        if self._error is not None:
            raise self._error
        return self

    def call(self, fn: Callable[..., T], *args: Any) -> T:
        """Run fn(*args) on the server loop and return its result."""
        future: concurrent.futures.Future[T] = concurrent.futures.Future()

        def run() -> None:
            try:
                future.set_result(fn(*args))
            except BaseException as error:
                future.set_exception(error)

        self.loop.call_soon_threadsafe(run)
        return future.result(timeout=10)

    def stop(self) -> None:
        if self._thread.is_alive():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(timeout=15)
