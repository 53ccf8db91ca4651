"""WS /ws: message format, subscriptions, Origin and token checks."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp.test_utils import TestClient

from laptop_agents.api.keys import HUB
from tests.support.waiting import wait_until

from .conftest import AUTH, TOKEN, ClientFactory
from .memory_controller import MemoryController

Client = TestClient[Any, Any]


async def receive(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    msg = await ws.receive(timeout=5.0)
    assert msg.type == aiohttp.WSMsgType.TEXT, msg
    data: dict[str, Any] = msg.json()
    return data


async def receive_type(ws: aiohttp.ClientWebSocketResponse, kind: str) -> dict[str, Any]:
    for _ in range(20):
        message = await receive(ws)
        if message["type"] == kind:
            return message
    raise AssertionError(f"no {kind} message")


async def test_streams_status_snapshot_then_published_messages(
    client: Client, controller: MemoryController
) -> None:
    async with client.ws_connect("/ws") as ws:
        hello = await receive(ws)
        assert hello == {"type": "subscribed",
                         "data": {"types": ["candle", "order", "status", "tick", "trade"]}}
        snapshot = await receive(ws)
        assert snapshot["type"] == "status" and snapshot["data"]["symbol"] == "BTCUSDT"
        hub = client.app[HUB]
        hub.publish("tick", controller.tick(Decimal("50100.5"), 1_700_000_100_000))
        tick = await receive(ws)
        assert tick == {"type": "tick", "data": {
            "symbol": "BTCUSDT", "bid": "50100.5", "ask": "50101.0", "bid_size": "1.2",
            "ask_size": "0.8", "last": "50100.5", "ts": 1_700_000_100_000}}
        candle = controller.append_candle(1_700_000_100_000, Decimal("50100"))
        hub.publish("candle", candle)
        assert await receive(ws) == {"type": "candle", "data": candle}
        # a state change through the API reaches the feed as a status message
        assert (await client.post("/pause", headers=AUTH)).status == 200
        status = await receive_type(ws, "status")
        assert status["data"]["gate"]["reasons"] == ["manual"]
        assert (await client.post("/flatten", headers=AUTH)).status == 200
        trade = await receive_type(ws, "trade")
        assert trade["data"]["exit_reason"] == "flatten"


async def test_query_subscription_filters_types(client: Client,
                                                controller: MemoryController) -> None:
    async with client.ws_connect("/ws?types=tick") as ws:
        assert (await receive(ws))["data"] == {"types": ["tick"]}  # no status snapshot
        hub = client.app[HUB]
        hub.publish("status", controller.status())
        hub.publish("candle", controller.append_candle(1_700_000_100_000, Decimal("1")))
        hub.publish("tick", controller.tick(Decimal("50200"), 1))
        message = await receive(ws)
        assert message["type"] == "tick" and message["data"]["bid"] == "50200"


async def test_subscribe_message_changes_the_subscription(
    client: Client, controller: MemoryController
) -> None:
    async with client.ws_connect("/ws?types=tick") as ws:
        await receive(ws)
        await ws.send_json({"op": "subscribe", "types": ["trade"]})
        assert await receive(ws) == {"type": "subscribed", "data": {"types": ["trade"]}}
        hub = client.app[HUB]
        hub.publish("tick", controller.tick(Decimal("1"), 1))
        hub.publish("trade", {"id": 9})
        assert await receive(ws) == {"type": "trade", "data": {"id": 9}}
        await ws.send_json({"op": "subscribe", "types": ["bogus"]})
        error = await receive(ws)
        assert error["type"] == "error" and "bogus" in error["data"]["error"]
        await ws.send_str("not json")
        assert (await receive(ws))["type"] == "error"
        await ws.send_json({"op": "ping"})
        assert await receive(ws) == {"type": "pong", "data": {}}


async def test_unknown_query_types_are_400_before_upgrade(client: Client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws?types=tick,nope")
    assert info.value.status == 400
    response = await client.get("/ws?types=nope")
    assert response.status == 400 and "nope" in (await response.json())["error"]


async def test_plain_get_on_ws_is_json_400(client: Client) -> None:
    response = await client.get("/ws")
    assert response.status == 400
    assert response.content_type == "application/json"


async def test_cross_origin_websocket_is_403(client: Client) -> None:
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws", origin="http://evil.example")
    assert info.value.status == 403
    for origin in ("null", "file://", f"https://{client.host}:{client.port}"):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await client.ws_connect("/ws", origin=origin)
        assert info.value.status == 403, origin
    assert not client.app[HUB].clients
    # same origin (what the page sends) is accepted
    async with client.ws_connect("/ws", origin=f"http://{client.host}:{client.port}") as ws:
        assert (await receive(ws))["type"] == "subscribed"


async def test_ws_with_read_token_requires_auth(make_client: ClientFactory) -> None:
    client = await make_client(api_read_requires_token=True)
    # the browser way: first message authenticates
    async with client.ws_connect("/ws") as ws:
        await ws.send_json({"op": "auth", "token": TOKEN})
        assert (await receive(ws))["type"] == "subscribed"
    # a header works for other clients
    async with client.ws_connect("/ws", headers=AUTH) as ws:
        assert (await receive(ws))["type"] == "subscribed"
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await client.ws_connect("/ws", headers={"Authorization": "Bearer nope"})
    assert info.value.status == 401
    async with client.ws_connect("/ws") as ws:
        await ws.send_json({"op": "auth", "token": "wrong"})
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.CLOSE and msg.data == 4401
    assert not client.app[HUB].clients


async def test_shutdown_closes_clients(client: Client) -> None:
    ws = await client.ws_connect("/ws")
    await receive(ws)
    hub = client.app[HUB]
    assert len(hub.clients) == 1
    await client.app.shutdown()
    msg = await ws.receive(timeout=5)
    while msg.type == aiohttp.WSMsgType.TEXT:  # the status snapshot may still be in flight
        msg = await ws.receive(timeout=5)
    assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                        aiohttp.WSMsgType.ERROR)
    assert hub.clients == []
    await ws.close()


async def test_client_disconnect_unregisters(client: Client) -> None:
    hub = client.app[HUB]
    async with client.ws_connect("/ws") as ws:
        await receive(ws)
        assert len(hub.clients) == 1
    await wait_until(lambda: not hub.clients)
