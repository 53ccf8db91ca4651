"""The API's connection guard on a real 127.0.0.1 listener: deadlines, the cap, 503 when busy."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp
import pytest

from laptop_agents.api.app import create_app
from laptop_agents.api.server import ApiServer
from tests.support.waiting import wait_until

from .conftest import make_settings
from .memory_controller import MemoryController

StartServer = Callable[..., Awaitable[ApiServer]]
Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


@pytest.fixture
async def start_server(controller: MemoryController) -> AsyncIterator[StartServer]:
    servers: list[ApiServer] = []

    async def start(max_connections: int | None = None, **overrides: Any) -> ApiServer:
        settings = make_settings(**overrides)
        server = ApiServer(create_app(controller, settings), settings,
                           max_connections=max_connections)
        await server.start()
        servers.append(server)
        return server

    yield start
    for server in servers:
        await server.close()


def port_of(server: ApiServer) -> int:
    return server.addresses[0][1]


async def half_sent(server: ApiServer, count: int) -> list[Conn]:
    """``count`` connections that each sent part of a request line, and nothing more."""
    conns = []
    for _ in range(count):
        reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
        writer.write(b"GET /heal")
        conns.append((reader, writer))
    for _, writer in conns:
        await writer.drain()
    return conns


async def closed_by_server(reader: asyncio.StreamReader, within: float = 5.0) -> bytes:
    """Everything the server sent before closing (an abort may surface as a reset)."""
    try:
        async with asyncio.timeout(within):
            return await reader.read()
    except ConnectionResetError:
        return b""


def close_all(conns: list[Conn]) -> None:
    for _, writer in conns:
        writer.close()


async def get(server: ApiServer, path: str = "/healthz") -> tuple[int, Any]:
    timeout = aiohttp.ClientTimeout(total=5)
    async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
        f"http://127.0.0.1:{port_of(server)}{path}"
    ) as response:
        body = await response.json() if response.content_type == "application/json" else None
        return response.status, body


async def test_a_half_sent_request_is_closed_at_the_idle_timeout(
    start_server: StartServer,
) -> None:
    server = await start_server(api_idle_timeout=0.5)
    started = time.monotonic()  # before connecting: the deadline runs from the accept
    [(reader, writer)] = await half_sent(server, 1)
    try:
        assert await closed_by_server(reader) == b""  # no answer: just closed
    finally:
        writer.close()
    assert 0.4 <= time.monotonic() - started < 5
    assert server.guard is not None and server.guard.stats.timed_out == 1
    assert await get(server) == (200, {"status": "ok"})  # complete requests are served


async def test_an_idle_keep_alive_connection_is_closed_at_the_idle_timeout(
    start_server: StartServer,
) -> None:
    server = await start_server(api_idle_timeout=0.5)
    reader, writer = await asyncio.open_connection("127.0.0.1", port_of(server))
    try:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        await writer.drain()
        async with asyncio.timeout(5):
            head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200 ")
        started = time.monotonic()
        writer.write(b"GET /sta")  # half of a second request, then silence
        await writer.drain()
        await closed_by_server(reader)
    finally:
        writer.close()
    assert 0.4 <= time.monotonic() - started < 5


async def test_at_the_cap_the_oldest_connection_without_a_request_makes_room(
    start_server: StartServer,
) -> None:
    server = await start_server(max_connections=8)
    guard = server.guard
    assert guard is not None
    conns = await half_sent(server, 20)  # beyond the cap: each new one evicts the oldest
    try:
        await wait_until(lambda: guard.stats.evicted == 12)
        assert guard.open_connections == 8
        assert await closed_by_server(conns[0][0]) == b""  # the oldest went first
        assert await get(server) == (200, {"status": "ok"})
        assert await get(server, "/") == (200, None)  # a file response through the guard
        assert guard.stats.refused == 0
    finally:
        close_all(conns)


async def test_at_the_cap_with_every_connection_busy_a_new_one_gets_503(
    start_server: StartServer,
) -> None:
    server = await start_server(max_connections=8)
    guard = server.guard
    assert guard is not None
    url = f"http://127.0.0.1:{port_of(server)}/ws"
    async with aiohttp.ClientSession() as session:
        sockets = [await session.ws_connect(url) for _ in range(8)]  # real requests: kept
        try:
            status, body = await get(server)
            assert status == 503
            assert "LA_API_MAX_CONNECTIONS" in body["error"]
            assert guard.stats.refused == 1 and guard.stats.evicted == 0
            await sockets.pop().close()
            await wait_until(lambda: guard.open_connections < 8)
            assert await get(server) == (200, {"status": "ok"})
        finally:
            for ws in sockets:
                await ws.close()


async def test_a_websocket_outlives_the_idle_timeout(start_server: StartServer) -> None:
    """The deadline is for request heads: an open WebSocket may be quiet for longer."""
    server = await start_server(api_idle_timeout=0.3)
    async with aiohttp.ClientSession() as session, session.ws_connect(
        f"http://127.0.0.1:{port_of(server)}/ws?types=status", autoping=False
    ) as ws:
        await asyncio.sleep(1.0)  # the quiet period under test: three idle timeouts
        await ws.send_json({"op": "ping"})
        async with asyncio.timeout(5):
            while (message := await ws.receive_json())["type"] != "pong":
                pass
        assert message["type"] == "pong"
    assert server.guard is not None and server.guard.stats.timed_out == 0
