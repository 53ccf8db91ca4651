"""Loopback-only admin HTTP API for the simulator's faults and scripting (off by default).

It listens on its own port so it keeps working while the exchange port refuses connections.
Every endpoint takes query parameters (or a JSON object body with the same names) and answers
``{"ok": true, ...}`` or HTTP 400 ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from aiohttp import web

from laptop_agents.sim.frames import dumps

if TYPE_CHECKING:
    from laptop_agents.sim.server import SimExchange

Handler = Callable[["SimExchange", dict[str, Any]], Awaitable[dict[str, Any]]]


def _reply(payload: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=dumps(payload), status=status, content_type="application/json")


async def _params(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.can_read_body:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        params.update(body)
    return params


async def _state(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    tick = ex.current_tick(next(iter(ex.markets)))
    return {"now_ms": ex.now_ms(), "speed": ex.clock.speed, "port": ex.port,
            "refusing": ex.refusing, "stats": ex.stats.as_dict(),
            "bid": str(tick.bid), "ask": str(tick.ask), "last": str(tick.last)}


async def _drop_all(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    return {"dropped": ex.drop_all()}


async def _stall(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    ex.stall()
    return {}


async def _unstall(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    ex.unstall()
    return {}


async def _refuse(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    await ex.refuse_connections()
    return {}


async def _accept(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    await ex.accept_connections()
    return {"port": ex.port}


async def _reject(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    ex.reject_handshakes(int(p.get("n", 1)), int(p.get("status", 403)))
    return {}


async def _malformed(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    return {"sent": ex.send_malformed(str(p.get("kind", "")))}


async def _inject(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    # JSON cannot carry bytes: a binary frame is written {"hex": "00ff..."}.
    raw = p.get("frames")
    if not isinstance(raw, list):
        raise ValueError("frames must be a list of strings or {\"hex\": ...} objects")
    frames: list[str | bytes] = []
    for item in raw:
        if isinstance(item, str):
            frames.append(item)
        elif isinstance(item, dict) and isinstance(item.get("hex"), str):
            frames.append(bytes.fromhex(item["hex"]))
        else:
            raise ValueError("each frame must be a string or {\"hex\": ...}")
    return {"sent": await ex.inject_frames(frames)}


async def _fuzz(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    symbol = p.get("symbol")
    return await ex.fuzz(int(p.get("seed", 0)), int(p.get("count", 1000)),
                         None if symbol is None else str(symbol),
                         int(p.get("oversized_every", 0)))


async def _skip(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    ex.skip_pushes(float(p["sim_seconds"]))
    return {}


async def _speed(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    ex.set_speed(float(p["speed"]))
    return {"speed": ex.clock.speed}


async def _script(ex: SimExchange, p: dict[str, Any]) -> dict[str, Any]:
    ask = p.get("ask")
    ex.script_price(Decimal(str(p["bid"])), None if ask is None else Decimal(str(ask)),
                    int(p.get("pushes", 1)), symbol=str(p.get("symbol", "BTCUSDT")))
    return {}


ROUTES: dict[str, Handler] = {
    "drop_all": _drop_all,
    "stall": _stall,
    "unstall": _unstall,
    "refuse": _refuse,
    "accept": _accept,
    "reject_handshakes": _reject,
    "malformed": _malformed,
    "inject": _inject,
    "fuzz": _fuzz,
    "skip_pushes": _skip,
    "speed": _speed,
    "script_price": _script,
}


def create_admin_app(ex: SimExchange) -> web.Application:
    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def view(request: web.Request) -> web.Response:
            try:
                result = await handler(ex, await _params(request))
            except (KeyError, ValueError, TypeError, InvalidOperation) as error:
                return _reply({"ok": False, "error": f"{type(error).__name__}: {error}"}, 400)
            return _reply({"ok": True, **result})

        return view

    app = web.Application()
    app.router.add_get("/admin/state", wrap(_state))
    for name, handler in ROUTES.items():
        app.router.add_post(f"/admin/{name}", wrap(handler))
    return app
