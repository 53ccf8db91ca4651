"""Private socket login, the admin HTTP API, embedding and the standalone command."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest

from laptop_agents.config import Settings
from laptop_agents.sim.embedded import start_embedded
from laptop_agents.sim.server import SimExchange
from laptop_agents.sim.ws import login_sign

from .helpers import connect, is_ch, is_op, next_json, send, subscribe, wait_closed


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"history_minutes": 60}


def _login(key: str, secret: str, ts: int, nonce: str = "a" * 32) -> dict[str, Any]:
    return {"op": "login", "args": [{"apiKey": key, "timestamp": ts, "nonce": nonce,
                                     "sign": login_sign(key, secret, nonce, str(ts))}]}


@pytest.mark.parametrize("ts", [int(time.time()), int(time.time() * 1000)])
async def test_login_success_seconds_or_ms(sim: SimExchange, session, ts: int) -> None:
    ws = await connect(session, sim.private_ws_url)
    await send(ws, _login("sim-key", "sim-secret", ts))
    assert await next_json(ws, is_op("login")) == {"op": "login", "data": {"result": True}}
    await send(ws, {"op": "subscribe", "args": [{"ch": "balance"}, {"ch": "position"}]})
    await send(ws, {"op": "ping", "ping": 3})
    assert (await next_json(ws))["op"] == "ping"  # private subscribe accepted silently


@pytest.mark.parametrize("case", ["secret", "key", "ts"])
async def test_login_failure(sim: SimExchange, session, case: str) -> None:
    ws = await connect(session, sim.private_ws_url)
    key, secret, ts = "sim-key", "sim-secret", int(time.time())
    if case == "secret":
        secret = "wrong"
    elif case == "key":
        key = "other"
    else:
        ts = 12345
    await send(ws, _login(key, secret, ts))
    reply = await next_json(ws, is_op("login"))
    assert reply["data"]["result"] is False and reply["data"]["msg"]
    assert sim.stats.logins_failed == 1


@pytest.mark.parametrize("sim_options", [{"history_minutes": 60, "api_key": "k1",
                                          "api_secret": "s1"}])
async def test_login_custom_credentials(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.private_ws_url)
    await send(ws, _login("k1", "s1", int(time.time())))
    assert (await next_json(ws, is_op("login")))["data"]["result"] is True


async def test_login_is_not_a_public_op(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await send(ws, _login("sim-key", "sim-secret", int(time.time())))
    await send(ws, {"op": "ping", "ping": 1})
    assert (await next_json(ws))["op"] == "ping"


async def test_admin_off_by_default(sim: SimExchange) -> None:
    assert sim.admin_url is None


def test_admin_refuses_non_loopback() -> None:
    with pytest.raises(ValueError, match="loopback"):
        SimExchange(admin=True, admin_host="0.0.0.0")


@pytest.mark.parametrize("sim_options", [{"history_minutes": 60, "admin": True}])
async def test_admin_endpoints(sim: SimExchange, session) -> None:
    base = sim.admin_url
    assert base is not None and base.startswith("http://127.0.0.1:")

    async def post(name: str, **params: Any) -> dict[str, Any]:
        async with session.post(f"{base}/admin/{name}",
                                params={k: str(v) for k, v in params.items()}) as r:
            body: dict[str, Any] = await r.json()
            assert r.status == (200 if body["ok"] else 400)
            return body

    async with session.get(f"{base}/admin/state") as r:
        state = await r.json()
    assert state["ok"] and state["speed"] == 60.0 and "stats" in state

    ws = await connect(session, sim.ws_url)
    assert (await post("drop_all"))["dropped"] == 1
    await wait_closed(ws)
    assert ws.close_code == 1006

    await post("refuse")
    with pytest.raises(aiohttp.ClientConnectorError):
        await session.ws_connect(sim.ws_url)
    async with session.get(f"{base}/admin/state") as r:  # admin survives refusing
        assert (await r.json())["refusing"] is True
    await post("accept")

    await post("reject_handshakes", n=1, status=503)
    with pytest.raises(aiohttp.WSServerHandshakeError):
        await session.ws_connect(sim.ws_url)

    ws = await connect(session, sim.ws_url)
    assert (await post("malformed", kind="binary"))["sent"] == 1
    assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.BINARY
    assert (await post("malformed", kind="bogus"))["ok"] is False

    await post("stall")
    await post("unstall")
    await post("skip_pushes", sim_seconds=1)
    assert (await post("speed", speed=120))["speed"] == 120.0
    await post("script_price", bid="40000", ask="40000.2", pushes=1)
    await subscribe(ws, ("depth_book1", "BTCUSDT"))
    push = await next_json(ws, is_ch("depth_book1"))
    assert abs(float(push["data"]["b"][0][0]) - 40000) < 100
    async with session.post(f"{base}/admin/script_price", json={"bid": "41000"}) as r:
        assert (await r.json())["ok"] is True


async def test_start_embedded_points_settings_at_sim() -> None:
    settings = Settings(sim_speed=60.0, sim_seed=5, sim_idle_timeout=30.0, sim_kline_push_ms=80)
    sim, pointed = await start_embedded(settings)
    try:
        assert pointed.bitunix_ws_url == sim.ws_url
        assert pointed.bitunix_private_ws_url == sim.private_ws_url
        assert pointed.bitunix_rest_url == sim.rest_url
        assert sim.seed == 5 and sim.clock.speed == 60.0 and sim.kline_push_ms == 80
        assert sim.idle_timeout == 30.0 and sim.admin_url is None
        async with aiohttp.ClientSession() as session:
            ws = await connect(session, pointed.bitunix_ws_url)
            await ws.close()
    finally:
        await sim.stop()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def test_standalone_command_serves_until_sigint() -> None:
    port = _free_port()
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "laptop_agents", "sim", "--host", "127.0.0.1", "--port",
        str(port), "--speed", "60", "--seed", "3", stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, env=env)
    try:
        assert proc.stdout is not None
        async with asyncio.timeout(20):
            while True:
                line = (await proc.stdout.readline()).decode()
                assert line, "the simulator exited early"
                if f"127.0.0.1:{port}/public/" in line:
                    break
        async with aiohttp.ClientSession() as session:
            ws = await connect(session, f"ws://127.0.0.1:{port}/public/")
            await ws.close()
        proc.send_signal(signal.SIGINT)
        async with asyncio.timeout(10):
            assert await proc.wait() == 0
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
