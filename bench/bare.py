"""Bare baselines, each in a process of its own like the daemon it is compared with.

``python -m bench.bare MODE ...`` prints its HTTP port on stdout once it listens:

- ``serve``: an aiohttp application with ``/healthz`` (the start-up baseline);
- ``api STATUS_FILE TICK_FILE``: ``/status`` answering a body captured once from the daemon,
  ``/healthz`` and a ``/ws`` feed at the daemon's live rate (the API figures' baseline);
- ``consume WS_URL``: a WebSocket client doing ``ws.receive()`` + ``orjson.loads`` on every
  frame, beside ``/healthz`` and ``/frames`` (the burst and memory baselines).
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from pathlib import Path

import aiohttp
import orjson
from aiohttp import web

from bench.servers import HOST, start_bare_api

MAX_MSG = 8 * 1024 * 1024
LIFETIME_S = 900.0  # an orphan (the bench killed) still ends


def _announce(port: int) -> None:
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()


async def _forever() -> None:
    await asyncio.sleep(LIFETIME_S)


async def serve_api(status: bytes, tick: bytes) -> None:
    runner, port = await start_bare_api(status, tick)
    _announce(port)
    try:
        await _forever()
    finally:
        await runner.cleanup()


async def consume(url: str) -> None:
    frames = 0

    async def healthz(request: web.Request) -> web.Response:
        return web.Response(body=b'{"status":"ok"}', content_type="application/json")

    async def count(request: web.Request) -> web.Response:
        return web.Response(body=orjson.dumps({"frames": frames}),
                            content_type="application/json")

    app = web.Application()
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/frames", count)
    runner = web.AppRunner(app, access_log=None, handle_signals=False)
    await runner.setup()
    site = web.TCPSite(runner, HOST, 0)
    await site.start()
    server = site._server
    assert server is not None
    _announce(int((getattr(server, "sockets", None) or [])[0].getsockname()[1]))
    try:
        async with aiohttp.ClientSession() as session, session.ws_connect(
            url, autoping=False, max_msg_size=MAX_MSG
        ) as ws:
            await ws.send_str('{"op":"subscribe","args":[]}')
            while True:
                message = await ws.receive()
                if message.type != aiohttp.WSMsgType.TEXT:
                    break
                orjson.loads(message.data)
                frames += 1
    finally:
        await runner.cleanup()


def main(argv: list[str]) -> None:
    mode = argv[0] if argv else ""
    if mode == "serve":
        coro = serve_api(b'{"status":"ok"}', b'{"type":"tick","data":{}}')
    elif mode == "api":
        coro = serve_api(Path(argv[1]).read_bytes(), Path(argv[2]).read_bytes())
    elif mode == "consume":
        coro = asyncio.wait_for(consume(argv[1]), LIFETIME_S)
    else:
        raise SystemExit("usage: python -m bench.bare serve | api STATUS TICK | consume URL")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(coro)


if __name__ == "__main__":
    main(sys.argv[1:])
