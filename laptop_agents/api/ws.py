"""WS /ws: the live feed (tick, candle, trade, status) for the browser page and other clients.

Handshake checks (before the upgrade, answered as JSON errors): the Origin must be this server
(or absent) -> else 403; ``?types=`` must name known kinds -> else 400; a plain GET (no
``Upgrade: websocket``) -> 400, as /openapi.json documents it. When reads require a
token, a client either sends ``Authorization: Bearer`` on the handshake or, as browsers cannot
set headers on a WebSocket, sends ``{"op": "auth", "token": "..."}`` as its first message
within ``AUTH_TIMEOUT`` seconds (close code 4401 otherwise).

Client messages: ``{"op": "subscribe", "types": [...]}`` replaces the subscription and is
answered with ``{"type": "subscribed", "data": {"types": [...]}}``; ``{"op": "ping"}`` is
answered with ``{"type": "pong", "data": {}}``; anything else gets ``{"type": "error", ...}``.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import time

import orjson
from aiohttp import WSMsgType, web
from loguru import logger

from laptop_agents.api.auth import ApiError, bearer_token, check_origin, token_matches
from laptop_agents.api.hub import KINDS, FeedClient, encode_message
from laptop_agents.api.keys import CONTROLLER, HUB, SETTINGS
from laptop_agents.session.views import Empty, ErrorView, Subscription

AUTH_TIMEOUT = 5.0
CLOSE_UNAUTHORIZED = 4401
MAX_CLIENT_MESSAGE = 4096


def parse_types(raw: object) -> set[str]:
    """Validate a subscription: a comma-separated string or a list of known kinds."""
    if isinstance(raw, str):
        items = [part.strip() for part in raw.split(",") if part.strip()]
    elif isinstance(raw, list) and all(isinstance(x, str) for x in raw):
        items = list(raw)
    else:
        raise ValueError("types must be a list of strings")
    unknown = sorted(set(items) - KINDS)
    if unknown:
        raise ValueError(f"unknown type(s) {', '.join(unknown)}; known: {', '.join(sorted(KINDS))}")
    return set(items)


async def _authenticate_by_message(ws: web.WebSocketResponse, request: web.Request) -> bool:
    settings = request.app[SETTINGS]
    try:
        msg = await ws.receive(timeout=AUTH_TIMEOUT)
    except TimeoutError:
        msg = None
    token = None
    if msg is not None and msg.type == WSMsgType.TEXT:
        with contextlib.suppress(orjson.JSONDecodeError):
            body = orjson.loads(msg.data)
            if isinstance(body, dict) and body.get("op") == "auth":
                token = body.get("token") if isinstance(body.get("token"), str) else None
    if token_matches(settings, token):
        return True
    await ws.close(code=CLOSE_UNAUTHORIZED, message=b"unauthorized")
    return False


def _subscribed(types: set[str], symbols: frozenset[str] | None = None) -> bytes:
    if symbols is None:  # every symbol: the field is left out, as before symbols existed
        return encode_message("subscribed", Subscription(types=sorted(types)))
    return encode_message("subscribed", Subscription(types=sorted(types),
                                                     symbols=sorted(symbols)))


def parse_symbols(raw: object) -> frozenset[str] | None:
    """``symbols`` of a subscription: comma-separated text or a list; None/empty: all."""
    if raw is None or raw == "":
        return None
    items = raw.split(",") if isinstance(raw, str) else raw
    if not isinstance(items, list) or not all(isinstance(i, str) for i in items):
        raise ValueError("symbols must be a list of strings")
    names = frozenset(i.strip().upper() for i in items if i.strip())
    return names or None


def _handle_client_message(client: FeedClient, raw: str) -> None:
    now = time.monotonic()
    try:
        body = orjson.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("a message must be a JSON object")
        op = body.get("op")
        if op == "subscribe":
            client.types = parse_types(body.get("types"))
            client.symbols = parse_symbols(body.get("symbols"))
            reply = _subscribed(client.types, client.symbols)
            client.offer("subscribed", reply, now, control=True)
        elif op == "ping":
            client.offer("pong", encode_message("pong", Empty()), now, control=True)
        elif op == "auth":
            pass  # already authenticated (or not needed): harmless
        else:
            raise ValueError(f"unknown op {op!r}; known: subscribe, ping")
    except (ValueError, orjson.JSONDecodeError) as error:
        client.offer("error", encode_message("error", ErrorView(error=str(error))), now,
                     control=True)


def _handshake_types(request: web.Request) -> set[str]:
    """The subscription a handshake asks for; an ApiError (JSON, before the upgrade) when the
    request is cross-origin, names unknown types or is no handshake at all."""
    check_origin(request)
    try:
        types = parse_types(request.query["types"]) if "types" in request.query else set(KINDS)
    except ValueError as error:
        raise ApiError(400, str(error)) from None
    if request.headers.get("Upgrade", "").lower() != "websocket":
        # RFC 6455 4.2.1: not a handshake -> 400 (aiohttp's own message is less helpful)
        raise ApiError(400, "/ws is a WebSocket endpoint: send a WebSocket handshake "
                            "(Upgrade: websocket)")
    return types


def _greet(client: FeedClient, request: web.Request, types: set[str],
           symbols: frozenset[str] | None) -> None:
    """The subscription reply, then (when subscribed to status) a status snapshot."""
    client.symbols = symbols
    now = time.monotonic()
    client.offer("subscribed", _subscribed(types, symbols), now, control=True)
    if "status" in types:
        try:
            client.offer("status", encode_message("status", request.app[CONTROLLER].status()),
                         now)
        except Exception:
            logger.exception("status snapshot for a new WebSocket client failed")


async def ws_handler(request: web.Request) -> web.StreamResponse:
    types = _handshake_types(request)
    # ?symbol=ETHUSDT or ?symbols=BTCUSDT,ETHUSDT: only those symbols' ticks, candles, trades
    # and orders (status messages always).
    symbols = parse_symbols(request.query.get("symbols") or request.query.get("symbol"))
    settings = request.app[SETTINGS]
    need_auth = settings.api_read_requires_token
    if need_auth and bearer_token(request) is not None:
        if not token_matches(settings, bearer_token(request)):
            raise ApiError(401, "invalid bearer token")
        need_auth = False

    ws = web.WebSocketResponse(heartbeat=20.0, max_msg_size=MAX_CLIENT_MESSAGE, compress=False)
    await ws.prepare(request)
    if need_auth and not await _authenticate_by_message(ws, request):
        return ws

    transport = request.transport

    async def send(data: bytes) -> None:
        await ws.send_frame(data, WSMsgType.TEXT)

    def abort() -> None:
        if transport is None:
            return
        # Reset, not FIN: a client that stopped reading would otherwise keep the kernel's
        # send buffer (its unsent backlog, up to megabytes) and the connection alive for as
        # long as TCP keeps probing a zero window.
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()

    hub = request.app[HUB]
    peer = request.remote or "?"
    client = hub.add_client(send, abort, types, name=peer)
    _greet(client, request, types, symbols)
    client.start()
    logger.debug("WebSocket client {} connected (types {})", client.name, sorted(types))
    try:
        async for msg in ws:
            if msg.type == WSMsgType.TEXT:
                _handle_client_message(client, msg.data)
            elif msg.type == WSMsgType.ERROR:
                break
    except ConnectionResetError:
        pass
    finally:
        await client.stop()
        if not ws.closed and not client.close_reason:
            with contextlib.suppress(Exception):
                await ws.close()
        logger.debug("WebSocket client {} gone ({})", client.name,
                     client.close_reason or "closed by the client")
    return ws
