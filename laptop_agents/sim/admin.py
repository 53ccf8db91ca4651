"""Loopback-only admin HTTP API for the simulator's faults and scripting (off by default).

It listens on its own port so it keeps working while the exchange port refuses connections.
Every endpoint takes query parameters (or a JSON object body with the same names) and answers
``{"ok": true, ...}`` or HTTP 400 ``{"ok": false, "error": "..."}``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal, InvalidOperation

from aiohttp import web

from laptop_agents.sim.frames import JsonObject, dumps
from laptop_agents.sim.venue import AdminVenue

# Request parameters in, the answer's fields out (both JSON objects).
Handler = Callable[[AdminVenue, JsonObject], Awaitable[JsonObject]]


def _reply(payload: JsonObject, status: int = 200) -> web.Response:
    return web.Response(text=dumps(payload), status=status, content_type="application/json")


async def _params(request: web.Request) -> JsonObject:
    params: JsonObject = dict(request.query)
    if request.can_read_body:
        body = await request.json()
        if not isinstance(body, dict):
            raise ValueError("the body must be a JSON object")
        params.update(body)
    return params


async def _state(venue: AdminVenue, p: JsonObject) -> JsonObject:
    tick = venue.current_tick(next(iter(venue.markets)))
    return {"now_ms": venue.now_ms(), "speed": venue.speed, "port": venue.port,
            "refusing": venue.refusing, "stats": venue.stats.as_dict(),
            "bid": str(tick.bid), "ask": str(tick.ask), "last": str(tick.last)}


async def _drop_all(venue: AdminVenue, p: JsonObject) -> JsonObject:
    return {"dropped": venue.drop_all()}


async def _stall(venue: AdminVenue, p: JsonObject) -> JsonObject:
    venue.stall()
    return {}


async def _unstall(venue: AdminVenue, p: JsonObject) -> JsonObject:
    venue.unstall()
    return {}


async def _refuse(venue: AdminVenue, p: JsonObject) -> JsonObject:
    await venue.refuse_connections()
    return {}


async def _accept(venue: AdminVenue, p: JsonObject) -> JsonObject:
    await venue.accept_connections()
    return {"port": venue.port}


async def _reject(venue: AdminVenue, p: JsonObject) -> JsonObject:
    venue.reject_handshakes(int(p.get("n", 1)), int(p.get("status", 403)))
    return {}


async def _malformed(venue: AdminVenue, p: JsonObject) -> JsonObject:
    return {"sent": venue.send_malformed(str(p.get("kind", "")))}


async def _inject(venue: AdminVenue, p: JsonObject) -> JsonObject:
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
    return {"sent": await venue.inject_frames(frames)}


async def _fuzz(venue: AdminVenue, p: JsonObject) -> JsonObject:
    symbol = p.get("symbol")
    return await venue.fuzz(int(p.get("seed", 0)), int(p.get("count", 1000)),
                         None if symbol is None else str(symbol),
                         int(p.get("oversized_every", 0)))


async def _skip(venue: AdminVenue, p: JsonObject) -> JsonObject:
    venue.skip_pushes(float(p["sim_seconds"]))
    return {}


async def _speed(venue: AdminVenue, p: JsonObject) -> JsonObject:
    venue.set_speed(float(p["speed"]))
    return {"speed": venue.speed}


async def _script(venue: AdminVenue, p: JsonObject) -> JsonObject:
    ask = p.get("ask")
    venue.script_price(Decimal(str(p["bid"])), None if ask is None else Decimal(str(ask)),
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


def create_admin_app(venue: AdminVenue) -> web.Application:
    def wrap(handler: Handler) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def view(request: web.Request) -> web.Response:
            try:
                result = await handler(venue, await _params(request))
            except (KeyError, ValueError, TypeError, InvalidOperation) as error:
                return _reply({"ok": False, "error": f"{type(error).__name__}: {error}"}, 400)
            return _reply({"ok": True, **result})

        return view

    app = web.Application()
    app.router.add_get("/admin/state", wrap(_state))
    for name, handler in ROUTES.items():
        app.router.add_post(f"/admin/{name}", wrap(handler))
    return app
