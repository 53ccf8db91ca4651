"""The simulator's listening sockets: the exchange port and the admin API's own port.

One port serves the WebSockets and REST; it can stop listening (the ``refuse`` fault) and
listen again on the same port while open WebSockets live on. The admin API has a port of its
own so it keeps working meanwhile.
"""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Collection

from aiohttp import web
from loguru import logger


class Listeners:
    def __init__(self, host: str, port: int, admin_host: str, admin_port: int) -> None:
        self.host = host
        self.port = port  # the one bound once open (0 asks for any free port)
        self.admin_host = admin_host
        self.admin_port = admin_port  # likewise
        self._runner: web.AppRunner | None = None
        self._servers: list[asyncio.AbstractServer] = []
        self._admin_runner: web.AppRunner | None = None

    async def open(self, app: web.Application) -> None:
        self._runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await self._runner.setup()
        await self._listen()

    async def open_admin(self, app: web.Application) -> None:
        self._admin_runner = web.AppRunner(app, access_log=None)
        await self._admin_runner.setup()
        site = web.TCPSite(self._admin_runner, self.admin_host, self.admin_port)
        await site.start()
        self.admin_port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]

    @property
    def admin_open(self) -> bool:
        return self._admin_runner is not None

    async def _listen(self) -> None:
        assert self._runner is not None and self._runner.server is not None
        loop = asyncio.get_running_loop()
        # A plain asyncio server on the runner's handler: the refuse fault closes just this
        # listening socket, and a new one listens on the same port, while the application and
        # its open connections carry on.
        server = await loop.create_server(self._runner.server, self.host, self.port,
                                          reuse_address=True, family=socket.AF_INET)
        self._servers.append(server)
        self.port = server.sockets[0].getsockname()[1]

    def stop_listening(self) -> None:
        for server in self._servers:
            server.close()
        self._servers.clear()

    @property
    def refusing(self) -> bool:
        return not self._servers

    async def refuse(self, websocket_transports: Collection[object]) -> None:
        """Close the listening socket: new connects get ECONNREFUSED; open WebSockets (on
        ``websocket_transports``) live on. Idle HTTP keep-alive connections are closed too
        (in-flight REST requests finish)."""
        self.stop_listening()
        # A server that went away would not keep idle HTTP keep-alive connections either:
        # without this a client could reuse one for its next upgrade and never see the refusal.
        if self._runner is not None and self._runner.server is not None:
            http = [h for h in self._runner.server.connections
                    if h.transport not in websocket_transports]
            await asyncio.gather(*(h.shutdown(1.0) for h in http), return_exceptions=True)
        logger.info("sim fault: refusing connections on port {}", self.port)

    async def accept(self) -> None:
        """Listen again on the same port."""
        if not self._servers and self._runner is not None:
            await self._listen()
            logger.info("sim: accepting connections on port {} again", self.port)

    async def close(self) -> None:
        """Stop listening and release both applications (their handlers are finished)."""
        self.stop_listening()
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None
        if self._admin_runner is not None:
            await self._admin_runner.cleanup()
            self._admin_runner = None
