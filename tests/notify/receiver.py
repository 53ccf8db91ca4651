"""A webhook receiver on 127.0.0.1 for the notification tests: a real aiohttp server that
records every POST and answers as the test scripts it (status codes, holding requests)."""

from __future__ import annotations

import asyncio
import json
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.support.waiting import wait_until


@dataclass
class Received:
    path: str  # path and query as requested
    body: dict[str, Any]


@dataclass
class Receiver:
    port: int = 0
    requests: list[Received] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # answered in turn, then 200
    release: asyncio.Event | None = None  # when set: every answer waits for it
    answered: int = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def events(self) -> list[str]:
        return [r.body.get("event", "") for r in self.requests]

    async def wait_for(self, count: int, limit: float = 5.0) -> list[Received]:
        await wait_until(lambda: len(self.requests) >= count, limit, f"{count} request(s)")
        return self.requests

    async def handle(self, request: web.Request) -> web.Response:
        self.requests.append(Received(request.path_qs, json.loads(await request.read())))
        if self.release is not None:
            await self.release.wait()
        status = self.statuses.pop(0) if self.statuses else 200
        self.answered += 1
        return web.Response(status=status, text="{}")


@asynccontextmanager
async def receiving(**options: Any) -> AsyncIterator[Receiver]:
    receiver = Receiver(**options)
    app = web.Application()
    app.router.add_post("/{tail:.*}", receiver.handle)
    runner = web.AppRunner(app, shutdown_timeout=0.1)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    receiver.port = runner.addresses[0][1]
    try:
        yield receiver
    finally:
        if receiver.release is not None:
            receiver.release.set()
        await runner.cleanup()


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port
