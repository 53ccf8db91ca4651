"""HTTP endpoints: success and error paths, auth, JSON errors, limits."""

from __future__ import annotations

import asyncio
import json
import re
from typing import Any

import pytest
from aiohttp.test_utils import TestClient
from prometheus_client import CONTENT_TYPE_LATEST

from .conftest import AUTH, TOKEN, ClientFactory
from .memory_controller import START_MS, MemoryController

Client = TestClient[Any, Any]


async def test_status_passes_the_controller_status_through(client: Client) -> None:
    response = await client.get("/status")
    assert response.status == 200
    assert response.content_type == "application/json"
    body = await response.json()
    assert body["symbol"] == "BTCUSDT"
    assert body["gate"] == {"trading_allowed": True, "reasons": []}
    assert body["position"]["stop"] == "49800.0"  # Decimals rendered as strings
    assert body["equity"] == "10000"
    assert body["tasks"]["market_data"]["state"] == "running"


async def test_positions(client: Client, controller: MemoryController) -> None:
    body = await (await client.get("/positions")).json()
    assert body == {"positions": [{"side": "long", "size": "0.010", "entry": "50000.0",
                                   "stop": "49800.0", "target": "50400.0",
                                   "unrealized_pnl": "1.50", "leverage": "5",
                                   "margin": "100", "liquidation_price": "40250.0",
                                   "funding_paid": "0"}]}
    controller.position = None
    assert await (await client.get("/positions")).json() == {"positions": []}


async def test_trades_limit_and_since(client: Client, controller: MemoryController) -> None:
    body = await (await client.get("/trades")).json()
    assert len(body["trades"]) == 5
    assert controller.trade_calls[-1] == (100, None)
    body = await (await client.get("/trades", params={"limit": "2"})).json()
    assert [t["trade_id"] for t in body["trades"]] == ["trade-4", "trade-3"]
    since = START_MS + 3 * 60_000
    body = await (await client.get("/trades", params={"since": str(since)})).json()
    assert [t["trade_id"] for t in body["trades"]] == ["trade-4", "trade-3"]
    assert controller.trade_calls[-1] == (100, since)


async def test_symbol_parameter_names_a_traded_symbol_or_is_a_json_404(
        client: Client, controller: MemoryController) -> None:
    body = await (await client.get("/trades", params={"symbol": "btcusdt"})).json()
    assert len(body["trades"]) == 5  # any case; the memory controller's one symbol
    for method, path in (("GET", "/trades"), ("GET", "/candles"), ("POST", "/pause"),
                         ("POST", "/resume"), ("POST", "/flatten")):
        response = await client.request(method, path, params={"symbol": "DOGEUSDT"},
                                        headers=AUTH)
        assert response.status == 404, path
        assert "DOGEUSDT" in (await response.json())["error"]
    response = await client.post("/pause", json={"symbol": "ETHUSDT"}, headers=AUTH)
    assert response.status == 404
    assert controller.pause_calls == []  # nothing was paused


async def test_candles_limit(client: Client) -> None:
    body = await (await client.get("/candles", params={"limit": "3"})).json()
    assert len(body["candles"]) == 3
    assert body["candles"][-1]["open_time"] == START_MS + 49 * 60_000
    body = await (await client.get("/candles")).json()
    assert len(body["candles"]) == 50


@pytest.mark.parametrize("path,params", [
    ("/trades", {"limit": "0"}), ("/trades", {"limit": "1001"}), ("/trades", {"limit": "abc"}),
    ("/trades", {"limit": "1.5"}), ("/trades", {"limit": "-1"}), ("/trades", {"limit": ""}),
    ("/trades", {"limit": "٣"}), ("/trades", {"since": "-5"}), ("/trades", {"since": "x"}),
    ("/trades", {"since": str(2**53 + 1)}), ("/candles", {"limit": "0"}),
    ("/candles", {"limit": "99999999999999999999"}), ("/equity", {"points": "1"}),
    ("/equity", {"points": "5001"}), ("/equity", {"points": "many"}),
    ("/equity", {"since": "-1"}), ("/equity", {"since": "yesterday"}),
])
async def test_invalid_parameters_are_400_json(client: Client, path: str,
                                               params: dict[str, str]) -> None:
    response = await client.get(path, params=params)
    assert response.status == 400
    body = await response.json()
    name = next(iter(params))
    assert name in body["error"]


async def test_pause_requires_the_token(client: Client, controller: MemoryController) -> None:
    response = await client.post("/pause")
    assert response.status == 401
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    assert "missing bearer token" in (await response.json())["error"]
    response = await client.post("/pause", headers={"Authorization": "Bearer wrong"})
    assert response.status == 401
    assert (await response.json())["error"] == "invalid bearer token"
    response = await client.post("/pause", headers={"Authorization": f"Basic {TOKEN}"})
    assert response.status == 401
    assert controller.pause_calls == []  # nothing reached the controller


@pytest.mark.parametrize("path", ["/pause", "/resume", "/flatten"])
async def test_every_state_change_is_refused_without_a_configured_token(
    make_client: ClientFactory, controller: MemoryController, path: str
) -> None:
    client = await make_client(api_token=None)
    response = await client.post(path, headers=AUTH)
    assert response.status == 403
    assert "LA_API_TOKEN" in (await response.json())["error"]
    assert controller.pause_calls == [] and controller.position is not None
    assert (await client.get("/status")).status == 200  # reads stay open


async def test_pause_and_resume(client: Client, controller: MemoryController) -> None:
    response = await client.post("/pause", json={"reason": "  maintenance  "}, headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert body["gate"] == {"trading_allowed": False, "reasons": ["manual"]}
    assert controller.pause_calls == ["maintenance"]
    # An empty body is fine too.
    response = await client.post("/pause", headers=AUTH)
    assert response.status == 200
    assert controller.pause_calls[-1] is None
    response = await client.post("/resume", headers=AUTH)
    assert response.status == 200
    assert (await response.json())["gate"]["trading_allowed"] is True


@pytest.mark.parametrize("body,expected", [
    (b"{not json", "invalid JSON"), (b"[1, 2]", "JSON object"),
    (b'{"reason": 5}', "reason must be a string"), (b'{"why": "x"}', "unknown field"),
    (b'{"reason": "' + b"x" * 201 + b'"}', "at most 200"),
])
async def test_pause_rejects_bad_bodies(client: Client, controller: MemoryController,
                                        body: bytes, expected: str) -> None:
    response = await client.post("/pause", data=body,
                                 headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 400
    assert expected in (await response.json())["error"]
    assert controller.pause_calls == []


async def test_body_size_limit_is_413_json(client: Client, controller: MemoryController) -> None:
    big = b'{"reason": "' + b"x" * 20_000 + b'"}'
    response = await client.post("/pause", data=big,
                                 headers={**AUTH, "Content-Type": "application/json"})
    assert response.status == 413
    assert "body" in (await response.json())["error"].lower()
    assert controller.pause_calls == []


async def test_flatten(client: Client, controller: MemoryController) -> None:
    response = await client.post("/flatten", headers=AUTH)
    assert response.status == 200
    body = await response.json()
    assert body["closed"] is True and body["trade"]["exit_reason"] == "flatten"
    assert controller.position is None
    body = await (await client.post("/flatten", headers=AUTH)).json()
    assert body == {"closed": False, "trade": None}


async def test_reads_can_require_the_token(make_client: ClientFactory) -> None:
    client = await make_client(api_read_requires_token=True)
    for path in ("/status", "/positions", "/trades", "/candles", "/metrics"):
        assert (await client.get(path)).status == 401, path
        assert (await client.get(path, headers=AUTH)).status == 200, path
    # probes, the API description and the page's files stay open
    for path in ("/healthz", "/readyz", "/openapi.json", "/", "/static/app.js"):
        assert (await client.get(path)).status == 200, path


async def test_reads_requiring_a_token_without_one_configured_are_refused(
    make_client: ClientFactory,
) -> None:
    client = await make_client(api_token=None, api_read_requires_token=True)
    response = await client.get("/status")
    assert response.status == 403
    assert "LA_API_TOKEN" in (await response.json())["error"]


async def test_healthz_and_readyz(client: Client, controller: MemoryController) -> None:
    response = await client.get("/healthz")
    assert response.status == 200 and await response.json() == {"status": "ok"}
    response = await client.get("/readyz")
    assert response.status == 200 and await response.json() == {"ready": True, "reasons": []}
    controller.feed_state = "lost"
    controller.warm = False
    response = await client.get("/readyz")
    assert response.status == 503
    assert await response.json() == {"ready": False,
                                     "reasons": ["feed lost", "strategy warming up"]}
    assert (await client.get("/healthz")).status == 200  # alive even when not ready


async def test_metrics_is_prometheus_text(client: Client, controller: MemoryController) -> None:
    controller.metrics.ticks.inc(3)
    controller.metrics.watchdog_reaction.observe(0.002)
    controller.metrics.equity.set(10001.5)
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"] == CONTENT_TYPE_LATEST
    text = await response.text()
    for name in ("la_ticks_total 3.0", "la_closed_candles_total", "la_reconnects_total",
                 "la_malformed_frames_total", "la_loop_lag_seconds",
                 'la_watchdog_reaction_seconds_bucket{le="0.005"} 1.0',
                 "la_equity_usdt 10001.5", "la_position_size"):
        assert name in text, name


async def test_unknown_path_is_json_404(client: Client) -> None:
    response = await client.get("/nope")
    assert response.status == 404
    assert await response.json() == {"error": "not found: /nope"}
    for path in ("/static/missing.js", "/static/../app.py", "/static/%2e%2e/app.py",
                 "/static/vendor"):
        response = await client.get(path)
        assert response.status == 404, path
        assert response.content_type == "application/json"


async def test_wrong_method_is_json_405(client: Client) -> None:
    response = await client.get("/pause")
    assert response.status == 405
    assert "POST" in response.headers["Allow"]
    assert (await response.json())["error"] == "method GET not allowed on /pause"
    response = await client.delete("/status", headers=AUTH)
    assert response.status == 405 and response.content_type == "application/json"


async def test_unexpected_exception_is_json_500(client: Client,
                                                controller: MemoryController) -> None:
    controller.fail_status = True
    response = await client.get("/status")
    assert response.status == 500
    assert response.content_type == "application/json"
    body = await response.json()
    assert body == {"error": "internal error (logged by the daemon)"}
    assert "exploded" not in str(body)  # no internals leak


async def test_dns_rebinding_host_is_refused(client: Client) -> None:
    response = await client.get("/status", headers={"Host": "evil.example:8080"})
    assert response.status == 403
    assert "Host" in (await response.json())["error"]
    for host in ("localhost:8080", "127.0.0.1", "[::1]:8080", "dash.localhost"):
        assert (await client.get("/status", headers={"Host": host})).status == 200, host


async def test_cross_origin_post_is_refused_even_with_the_token(
    client: Client, controller: MemoryController
) -> None:
    response = await client.post("/pause", headers={**AUTH, "Origin": "http://evil.example"})
    assert response.status == 403
    assert "cross-origin" in (await response.json())["error"]
    assert controller.pause_calls == []
    own = f"http://{client.host}:{client.port}"
    response = await client.post("/pause", headers={**AUTH, "Origin": own})
    assert response.status == 200


async def test_index_and_vendored_chart_library_are_served(client: Client) -> None:
    response = await client.get("/")
    assert response.status == 200 and response.content_type == "text/html"
    html = await response.text()
    for element in ('id="bid"', 'id="ask"', 'id="last"', 'id="feed-state"', 'id="gate"',
                    'id="equity"', 'id="pause-btn"', 'id="resume-btn"', 'id="chart"'):
        assert element in html
    assert "http" not in html.split("<body>")[1]  # no CDN or remote asset
    lib = await client.get("/static/vendor/lightweight-charts.standalone.production.js")
    assert lib.status == 200
    assert "Lightweight Charts" in (await lib.text())[:400]
    licence = await client.get("/static/vendor/LICENSE.lightweight-charts")
    assert licence.status == 200 and "Apache License" in await licence.text()


async def test_openapi_documents_every_route(client: Client) -> None:
    response = await client.get("/openapi.json")
    assert response.status == 200
    doc = await response.json()
    assert doc["openapi"].startswith("3.")
    documented = {(path, method.upper()) for path, item in doc["paths"].items()
                  for method in item}
    served = {(route.resource.canonical, route.method)
              for route in client.app.router.routes()
              if route.method != "HEAD" and not route.resource.canonical.startswith("/static")}
    assert served
    assert served == documented
    for path, item in doc["paths"].items():
        for method, op in item.items():
            assert op["responses"], (path, method)
    assert doc["paths"]["/pause"]["post"]["security"] == [{"bearerAuth": []}]


async def test_token_is_compared_in_constant_time(
    client: Client, controller: MemoryController, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The bearer token goes through hmac.compare_digest (no early-exit == on the secret)."""
    import hmac

    from laptop_agents.api import auth

    compared: list[tuple[bytes, bytes]] = []
    original = hmac.compare_digest

    def recording(a: bytes, b: bytes) -> bool:
        compared.append((a, b))
        return original(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", recording)
    assert (await client.post("/pause", headers={"Authorization": "Bearer wrong"})).status == 401
    assert (await client.post("/pause", headers=AUTH)).status == 200
    assert compared == [(b"wrong", TOKEN.encode()), (TOKEN.encode(), TOKEN.encode())]


async def test_declared_oversized_body_is_413_before_the_body_is_read(
    make_client: ClientFactory, controller: MemoryController
) -> None:
    """Content-Length over the limit, three bytes sent: 413 at once, not a handler left waiting."""
    client = await make_client(api_max_body_bytes=1024)
    reader, writer = await asyncio.open_connection(client.server.host, client.server.port)
    try:
        writer.write(b"POST /pause HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                     b"Authorization: Bearer " + TOKEN.encode() + b"\r\n"
                     b"Content-Type: application/json\r\nContent-Length: 100000000\r\n\r\n{\"r")
        await writer.drain()
        async with asyncio.timeout(5):  # without the check: read() waits for 100 MB forever
            head = await reader.readuntil(b"\r\n\r\n")
            match = re.search(rb"(?i)content-length: *(\d+)", head)
            assert match is not None, head
            body = json.loads(await reader.readexactly(int(match.group(1))))
    finally:
        writer.close()
    assert head.startswith(b"HTTP/1.1 413 ")
    assert b"application/json" in head and b"connection: close" in head.lower()
    assert "100000000" in body["error"] and "LA_API_MAX_BODY_BYTES" in body["error"]
    assert controller.pause_calls == []
