"""The control API: an aiohttp application served by the daemon on its own event loop.

``create_app(controller, settings)`` builds it; the daemon serves it with AppRunner/TCPSite on
``settings.api_host:api_port``. Handlers are thin: validate, call the Controller, encode JSON.
Every error, including unknown paths, wrong methods, oversized bodies and bugs, is answered as
``{"error": "..."}`` JSON, never HTML.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from pathlib import Path

import orjson
from aiohttp import web
from aiohttp.typedefs import Middleware
from loguru import logger
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import BaseModel, ValidationError

from laptop_agents.api.auth import (
    ApiError,
    allowed_hosts,
    check_host,
    check_origin,
    describe,
    require_token,
)
from laptop_agents.api.hub import FeedHub, encode
from laptop_agents.api.keys import CONTROLLER, HUB, SETTINGS
from laptop_agents.api.openapi import build_openapi
from laptop_agents.api.ws import ws_handler
from laptop_agents.config import Settings
from laptop_agents.session.controller import Controller
from laptop_agents.session.equity import DEFAULT_POINTS, MAX_POINTS, MIN_POINTS
from laptop_agents.session.views import (
    CandleList,
    ErrorView,
    Liveness,
    PauseRequest,
    PositionList,
    Readiness,
    TradeList,
    view_json,
)

STATIC_DIR = Path(__file__).parent / "static"

MAX_LIMIT = 1000
MAX_SINCE_MS = 2**53  # JavaScript-safe; far beyond any real timestamp
_DIGITS = re.compile(r"[0-9]{1,16}")

# Paths anyone may read even when LA_API_READ_REQUIRES_TOKEN is set: liveness/readiness probes,
# the API description and the page's static files (which hold no data; the page asks for the
# token). The WebSocket authenticates itself (browsers cannot send headers on it).
_OPEN_PATHS = frozenset({"/healthz", "/readyz", "/openapi.json", "/", "/ws"})

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def json_response(view: BaseModel, status: int = 200, headers: dict[str, str] | None = None
                  ) -> web.Response:
    return web.Response(
        body=view_json(view), status=status, content_type="application/json", headers=headers
    )


def _error(status: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    return json_response(ErrorView(error=message), status=status, headers=headers)


@web.middleware
async def error_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    try:
        return await handler(request)
    except ApiError as error:
        return _error(error.status, error.message, error.headers)
    except web.HTTPException as error:
        if error.status < 400:
            raise  # redirects and 304s from the static handler
        headers = {k: v for k, v in error.headers.items()
                   if k.lower() not in ("content-type", "content-length")}
        if error.status == 404:
            message = f"not found: {request.path}"
        elif error.status == 405:
            message = f"method {request.method} not allowed on {request.path}"
        else:
            message = error.text or error.reason
            message = message.removeprefix(f"{error.status}: ")
        return _error(error.status, message, headers)
    except Exception:
        logger.exception("API handler failed: {} {}", request.method, request.path)
        return _error(500, "internal error (logged by the daemon)")


def _body_limit_middleware(limit: int) -> Middleware:
    @web.middleware
    async def body_limit(request: web.Request, handler: Handler) -> web.StreamResponse:
        # client_max_size only trips once that many bytes have arrived: a client declaring a
        # gigabyte and sending three bytes would park a handler on read() indefinitely.
        declared = request.content_length
        if declared is not None and declared > limit:
            response = _error(413, f"request body too large: Content-Length {declared} exceeds "
                                   f"the limit of {limit} bytes (LA_API_MAX_BODY_BYTES)")
            response.force_close()  # the unread body must never be parsed as a next request
            return response
        return await handler(request)

    return body_limit


def _security_middleware(settings: Settings) -> Middleware:
    hosts = allowed_hosts(settings)

    @web.middleware
    async def security(request: web.Request, handler: Handler) -> web.StreamResponse:
        check_host(request, hosts)
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            check_origin(request)  # a cross-site form or fetch never reaches a handler
            require_token(settings, request, write=True)
        elif (settings.api_read_requires_token and request.path not in _OPEN_PATHS
              and not request.path.startswith("/static/")):
            require_token(settings, request, write=False)
        return await handler(request)

    return security


# -- parameter validation -------------------------------------------------------------------
def _int_param(request: web.Request, name: str, default: int | None, low: int, high: int
               ) -> int | None:
    raw = request.query.get(name)
    if raw is None:
        return default
    if not _DIGITS.fullmatch(raw) or not low <= int(raw) <= high:
        raise ApiError(400, f"{name} must be an integer between {low} and {high} (got {raw!r})")
    return int(raw)


def _symbol_param(request: web.Request, given: str | None = None) -> str | None:
    """``?symbol=`` (or a body's ``symbol``): None when absent; 404 when not traded."""
    raw = request.query.get("symbol") or given
    if raw is None or raw == "":
        return None
    symbol = raw.strip().upper()
    traded = request.app[CONTROLLER].traded_symbols()
    if symbol not in traded:
        raise ApiError(404, f"symbol {raw!r} is not traded here (traded: {', '.join(traded)})")
    return symbol


async def _json_body(request: web.Request) -> dict[str, object]:
    """The optional JSON object body; an empty body is ``{}``."""
    raw = await request.read()  # enforces client_max_size (413)
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as error:
        raise ApiError(400, f"invalid JSON body: {error}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "the body must be a JSON object")
    return body


# -- handlers -------------------------------------------------------------------------------
async def status(request: web.Request) -> web.Response:
    return web.Response(body=request.app[CONTROLLER].status_json(),
                        content_type="application/json")


async def positions(request: web.Request) -> web.Response:
    return json_response(PositionList(positions=request.app[CONTROLLER].positions()))


async def trades(request: web.Request) -> web.Response:
    limit = _int_param(request, "limit", 100, 1, MAX_LIMIT)
    since = _int_param(request, "since", None, 0, MAX_SINCE_MS)
    assert limit is not None
    symbol = _symbol_param(request)
    return json_response(TradeList(trades=request.app[CONTROLLER].trades(limit, since, symbol)))


async def candles(request: web.Request) -> web.Response:
    limit = _int_param(request, "limit", 300, 1, MAX_LIMIT)
    assert limit is not None
    symbol = _symbol_param(request)
    return json_response(CandleList(candles=request.app[CONTROLLER].candles(limit, symbol)))


async def _body_symbol(request: web.Request) -> str | None:
    """The optional ``{"symbol": ...}`` of /resume and /flatten (``?symbol=`` wins). Their
    bodies were always ignored, so anything else in one still is (413 still applies)."""
    try:
        body = await _json_body(request)
    except ApiError as error:
        if error.status == 413:
            raise
        return None
    value = body.get("symbol")
    if value is not None and not isinstance(value, str):
        raise ApiError(400, "symbol must be a string")
    return value


async def equity(request: web.Request) -> web.Response:
    points = _int_param(request, "points", DEFAULT_POINTS, MIN_POINTS, MAX_POINTS)
    since = _int_param(request, "since", 0, 0, MAX_SINCE_MS)
    assert points is not None and since is not None
    return json_response(request.app[CONTROLLER].equity(since, points))


def _invalid(error: ValidationError) -> ApiError:
    """A 400 naming what is wrong with the body, in the API's words rather than pydantic's."""
    problems = error.errors(include_url=False)
    unknown = sorted(str(p["loc"][0]) for p in problems if p["type"] == "extra_forbidden")
    if unknown:
        return ApiError(400, f"unknown field(s): {', '.join(unknown)}")
    first = problems[0]
    name = ".".join(str(part) for part in first["loc"])
    if first["type"] == "string_type":
        return ApiError(400, f"{name} must be a string")
    if first["type"] == "string_too_long":
        return ApiError(400, f"{name} must be at most {first['ctx']['max_length']} characters")
    return ApiError(400, f"{name}: {first['msg']}")


async def pause(request: web.Request) -> web.Response:
    try:
        body = PauseRequest.model_validate(await _json_body(request))
    except ValidationError as error:
        raise _invalid(error) from None
    reason = (body.reason or "").strip() or None
    symbol = _symbol_param(request, body.symbol)
    result = await request.app[CONTROLLER].pause(reason, symbol)
    logger.info("paused {} via API (reason: {})", symbol or "every symbol", reason or "manual")
    return json_response(result)


async def resume(request: web.Request) -> web.Response:
    symbol = _symbol_param(request, await _body_symbol(request))
    result = await request.app[CONTROLLER].resume(symbol)
    logger.info("resumed {} via API", symbol or "every symbol")
    return json_response(result)


async def flatten(request: web.Request) -> web.Response:
    symbol = _symbol_param(request, await _body_symbol(request))
    result = await request.app[CONTROLLER].flatten(symbol)
    logger.info("flatten {} via API: closed={}", symbol or "every symbol", result.closed)
    return json_response(result)


async def healthz(request: web.Request) -> web.Response:
    return json_response(Liveness(status="ok"))


async def readyz(request: web.Request) -> web.Response:
    ready, reasons = request.app[CONTROLLER].readiness()
    return json_response(Readiness(ready=ready, reasons=reasons), status=200 if ready else 503)


async def metrics(request: web.Request) -> web.Response:
    body = request.app[CONTROLLER].metrics.render()
    return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})


async def openapi(request: web.Request) -> web.Response:
    return web.Response(body=encode(build_openapi(request.app[SETTINGS])),
                        content_type="application/json")


async def index(request: web.Request) -> web.FileResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-cache"})


async def static_file(request: web.Request) -> web.FileResponse:
    """A file of the package's static/ directory (never outside it); missing -> JSON 404."""
    root = STATIC_DIR.resolve()
    path = (root / request.match_info["path"]).resolve()
    if not path.is_relative_to(root) or not path.is_file():
        raise web.HTTPNotFound()
    return web.FileResponse(path, headers={"Cache-Control": "no-cache"})


async def _close_ws_clients(app: web.Application) -> None:
    app[HUB].close_all()


def create_app(controller: Controller, settings: Settings) -> web.Application:
    """Build the API application and attach its FeedHub to the controller."""
    app = web.Application(
        client_max_size=settings.api_max_body_bytes,
        middlewares=[error_middleware, _body_limit_middleware(settings.api_max_body_bytes),
                     _security_middleware(settings)],
    )
    hub = FeedHub(buffer_size=settings.api_ws_buffer, stall_timeout=settings.api_ws_stall_timeout)
    app[CONTROLLER] = controller
    app[SETTINGS] = settings
    app[HUB] = hub
    controller.attach_feed(hub)
    app.router.add_get("/", index)
    app.router.add_get("/status", status)
    app.router.add_get("/positions", positions)
    app.router.add_get("/trades", trades)
    app.router.add_get("/candles", candles)
    app.router.add_get("/equity", equity)
    app.router.add_post("/pause", pause)
    app.router.add_post("/resume", resume)
    app.router.add_post("/flatten", flatten)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    app.router.add_get("/metrics", metrics)
    app.router.add_get("/openapi.json", openapi)
    app.router.add_get("/ws", ws_handler)
    app.router.add_get("/static/{path:.+}", static_file)
    app.on_shutdown.append(_close_ws_clients)
    logger.debug("control API built: {}", describe(settings))
    return app
