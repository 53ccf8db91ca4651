"""ApiServer: the control API application on a guarded TCP listener.

aiohttp's ``AppRunner`` serves the application; instead of a ``TCPSite`` the listening socket
is created here with a :class:`~laptop_agents.api.guard.ConnectionGuard` as its protocol
factory, so every connection is capped and given a deadline before aiohttp sees it.
``LA_API_IDLE_TIMEOUT`` is both the guard's deadline for a first request head and aiohttp's
``keepalive_timeout`` (an idle or half-sent follow-up request on a kept-alive connection).
"""

from __future__ import annotations

import asyncio
import socket

from aiohttp import web

from laptop_agents.api.guard import ConnectionGuard
from laptop_agents.config import Settings

# Pending connections the kernel queues for accept() (aiohttp's TCPSite uses the same).
LISTEN_BACKLOG = 128
# Descriptors kept out of the API's reach for the feed, REST, the journal, the log and the
# embedded simulator's sockets, when the connection cap is derived from the process limit.
FD_RESERVE = 128
MIN_CONNECTIONS = 8


def connection_cap(configured: int, fd_soft_limit: int) -> int:
    """LA_API_MAX_CONNECTIONS, lowered when the file-descriptor limit could not hold it."""
    return max(MIN_CONNECTIONS, min(configured, fd_soft_limit - FD_RESERVE))


class ApiServer:
    def __init__(self, app: web.Application, settings: Settings, *,
                 max_connections: int | None = None) -> None:
        self.settings = settings
        self.max_connections = max_connections or settings.api_max_connections
        self.guard: ConnectionGuard | None = None
        self._app = app
        self._runner: web.AppRunner | None = None
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        """Listen on LA_API_HOST:LA_API_PORT; OSError (e.g. EADDRINUSE) propagates."""
        s = self.settings
        self._runner = web.AppRunner(self._app, handle_signals=False, access_log=None,
                                     shutdown_timeout=1.0, keepalive_timeout=s.api_idle_timeout)
        await self._runner.setup()
        assert self._runner.server is not None
        self.guard = ConnectionGuard(self._runner.server, max_connections=self.max_connections,
                                     head_timeout=s.api_idle_timeout)
        try:
            self._server = await asyncio.get_running_loop().create_server(
                self.guard, s.api_host, s.api_port, backlog=LISTEN_BACKLOG)
        except BaseException:
            await self._runner.cleanup()
            self._runner = None
            raise

    @property
    def addresses(self) -> list[tuple[str, int]]:
        found: list[tuple[str, int]] = []
        for sock in self._server.sockets if self._server is not None else ():
            if sock.family in (socket.AF_INET, socket.AF_INET6):
                host, port = sock.getsockname()[:2]
                found.append((host, port))
        return found

    async def close(self) -> None:
        """Stop accepting, then let aiohttp close the connections (within its 1 s budget)."""
        if self._server is not None:
            self._server.close()
            self._server = None
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
