"""Small client-side helpers for the simulator tests (plain aiohttp over loopback)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any

import aiohttp

Frame = dict[str, Any]


async def connect(session: aiohttp.ClientSession, url: str) -> aiohttp.ClientWebSocketResponse:
    """Open a socket the way the real client does (no library pings) and eat `connect`."""
    ws = await session.ws_connect(url, autoping=False, heartbeat=None, max_msg_size=0)
    first = await ws.receive_json(timeout=5)
    assert first == {"op": "connect", "data": {"result": True}}
    return ws


async def send(ws: aiohttp.ClientWebSocketResponse, obj: Frame) -> None:
    await ws.send_str(json.dumps(obj))


async def subscribe(ws: aiohttp.ClientWebSocketResponse, *pairs: tuple[str, str]) -> None:
    await send(ws, {"op": "subscribe",
                    "args": [{"symbol": s, "ch": ch} for ch, s in pairs]})


async def next_json(ws: aiohttp.ClientWebSocketResponse,
                    pred: Callable[[Frame], bool] = lambda f: True,
                    timeout: float = 5.0) -> Frame:  # noqa: ASYNC109
    """The next JSON frame that satisfies ``pred`` (others are skipped)."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type != aiohttp.WSMsgType.TEXT:
                raise AssertionError(f"socket ended: {msg.type} close_code={ws.close_code}")
            frame = json.loads(msg.data)
            if pred(frame):
                return frame


async def collect(ws: aiohttp.ClientWebSocketResponse, seconds: float) -> list[Frame]:
    """Every JSON frame received within ``seconds`` (stops early if the socket ends)."""
    frames: list[Frame] = []
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while (left := deadline - loop.time()) > 0:
        try:
            msg = await ws.receive(timeout=left)
        except TimeoutError:
            break
        if msg.type != aiohttp.WSMsgType.TEXT:
            break
        frames.append(json.loads(msg.data))
    return frames


async def wait_closed(ws: aiohttp.ClientWebSocketResponse,
                      timeout: float = 5.0) -> aiohttp.WSMessage:  # noqa: ASYNC109
    """Read until the socket ends; return the final message."""
    async with asyncio.timeout(timeout):
        while True:
            msg = await ws.receive()
            if msg.type not in (aiohttp.WSMsgType.TEXT, aiohttp.WSMsgType.BINARY):
                return msg


def is_ch(ch: str) -> Callable[[Frame], bool]:
    return lambda f: f.get("ch") == ch


def is_op(op: str) -> Callable[[Frame], bool]:
    return lambda f: f.get("op") == op


async def rest(session: aiohttp.ClientSession, base: str, path: str, **params: Any) -> Frame:
    async with session.get(base + path, params={k: str(v) for k, v in params.items()}) as r:
        assert r.status == 200
        body: Frame = await r.json()
        return body
