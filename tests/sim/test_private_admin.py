"""Private socket login, the admin HTTP API, embedding and the standalone command."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
import time
from typing import Any

import aiohttp
import pytest

from laptop_agents.config import Settings
from laptop_agents.sim.embedded import start_embedded
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange
from laptop_agents.sim.ws import login_sign
from tests.support.daemon import free_port

from .helpers import collect, connect, is_ch, is_op, next_json, send, subscribe, wait_closed


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
        SimExchange(SimOptions(admin=True, admin_host="0.0.0.0"))


ADMIN = [{"history_minutes": 60, "admin": True}]


class Admin:
    """A plain HTTP client of the admin API."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session, self.base = session, base

    async def post(self, name: str, **params: Any) -> dict[str, Any]:
        async with self.session.post(f"{self.base}/admin/{name}",
                                     params={k: str(v) for k, v in params.items()}) as r:
            body: dict[str, Any] = await r.json()
            assert r.status == (200 if body["ok"] else 400)
            return body

    async def state(self) -> dict[str, Any]:
        async with self.session.get(f"{self.base}/admin/state") as r:
            body: dict[str, Any] = await r.json()
            return body


@pytest.fixture
def admin(sim: SimExchange, session: aiohttp.ClientSession) -> Admin:
    assert sim.admin_url is not None and sim.admin_url.startswith("http://127.0.0.1:")
    assert sim.admin_port != sim.port  # its own port: usable while the exchange refuses
    return Admin(session, sim.admin_url)


@pytest.mark.parametrize("sim_options", ADMIN)
async def test_admin_state_speed_and_errors(sim: SimExchange, admin: Admin) -> None:
    state = await admin.state()
    assert state["ok"] and state["speed"] == 60.0 and state["port"] == sim.port
    assert state["refusing"] is False and "connections_opened" in state["stats"]
    assert abs(state["now_ms"] - sim.now_ms()) < 60_000
    assert (await admin.post("speed", speed=120))["speed"] == 120.0
    assert sim.clock.speed == 120.0
    bad = await admin.post("skip_pushes")  # missing parameter -> HTTP 400
    assert bad["ok"] is False and "sim_seconds" in bad["error"]
    assert (await admin.post("speed", speed=-1))["ok"] is False
    assert (await admin.post("reject_handshakes", n=1, status=200))["ok"] is False


@pytest.mark.parametrize("sim_options", ADMIN)
async def test_admin_drop_refuse_accept(sim: SimExchange, admin: Admin, session) -> None:
    ws = await connect(session, sim.ws_url)
    assert (await admin.post("drop_all"))["dropped"] == 1
    await wait_closed(ws)
    assert ws.close_code == 1006
    await admin.post("refuse")
    with pytest.raises(aiohttp.ClientConnectorError) as info:
        await session.ws_connect(sim.ws_url)
    assert isinstance(info.value.os_error, ConnectionRefusedError)
    assert (await admin.state())["refusing"] is True  # the admin port keeps working
    assert (await admin.post("accept"))["port"] == sim.port
    await connect(session, sim.ws_url)


@pytest.mark.parametrize("sim_options", ADMIN)
async def test_admin_reject_handshakes(sim: SimExchange, admin: Admin, session) -> None:
    await admin.post("reject_handshakes", n=2, status=503)
    for _ in range(2):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(sim.ws_url)
        assert info.value.status == 503
    await connect(session, sim.ws_url)
    async with session.post(f"{admin.base}/admin/reject_handshakes", json={"n": 1}) as r:
        assert (await r.json())["ok"] is True  # a JSON body works too; status defaults to 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as info:
        await session.ws_connect(sim.ws_url)
    assert info.value.status == 403


@pytest.mark.parametrize("sim_options", ADMIN)
async def test_admin_malformed(sim: SimExchange, admin: Admin, session) -> None:
    ws = await connect(session, sim.ws_url)
    assert (await admin.post("malformed", kind="binary"))["sent"] == 1
    assert (await ws.receive(timeout=5)).type == aiohttp.WSMsgType.BINARY
    assert (await admin.post("malformed", kind="empty_prices"))["sent"] == 1
    frame = await next_json(ws)
    assert frame["data"]["o"] == "" and frame["data"]["c"] == ""
    assert (await admin.post("malformed", kind="bogus"))["ok"] is False


@pytest.mark.parametrize("sim_options", ADMIN)
async def test_admin_stall_unstall(sim: SimExchange, admin: Admin, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book1", "BTCUSDT"))
    await next_json(ws, is_ch("depth_book1"))
    await admin.post("stall")
    await collect(ws, 0.1)  # drain what was queued before the stall
    await send(ws, {"op": "ping", "ping": 1})
    assert await collect(ws, 0.5) == []  # no pushes, no ping reply
    assert not ws.closed
    await admin.post("unstall")
    await next_json(ws, is_ch("depth_book1"))


@pytest.mark.parametrize("sim_options", ADMIN)
async def test_admin_skip_pushes(sim: SimExchange, admin: Admin, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book1", "BTCUSDT"))
    await next_json(ws, is_ch("depth_book1"))
    before = sim.now_ms()
    await admin.post("skip_pushes", sim_seconds=30)  # half a wall second at speed 60
    posted = sim.now_ms()
    stamps: list[int] = []
    while not stamps or stamps[-1] < before + 30_000:
        stamps.append((await next_json(ws, is_ch("depth_book1")))["ts"])
        assert len(stamps) < 50, stamps
    # Nothing is pushed from the request until the end of the simulated span.
    assert all(ts <= posted or ts >= before + 30_000 for ts in stamps), stamps


@pytest.mark.parametrize("sim_options", ADMIN)
async def test_admin_script_price(sim: SimExchange, admin: Admin, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book1", "BTCUSDT"))
    await next_json(ws, is_ch("depth_book1"))
    await admin.post("script_price", bid="40000", ask="40000.2", pushes=3)
    seen: list[tuple[str, str]] = []
    while not seen or seen[-1] != ("40000", "40000.2"):
        push = await next_json(ws, is_ch("depth_book1"))
        seen.append((push["data"]["b"][0][0], push["data"]["a"][0][0]))
        assert len(seen) < 20, seen
    async with session.post(f"{admin.base}/admin/script_price", json={"bid": "41000"}) as r:
        assert (await r.json())["ok"] is True  # JSON body; ask defaults to bid + 1 tick
    tick = sim.current_tick()
    assert abs(tick.bid - 41000) < 100


async def test_start_embedded_points_settings_at_sim() -> None:
    settings = Settings(sim_speed=60.0, sim_seed=5, sim_idle_timeout=30.0, sim_kline_push_ms=80)
    sim, pointed = await start_embedded(settings)
    try:
        assert pointed.bitunix_ws_url == sim.ws_url
        assert pointed.bitunix_private_ws_url == sim.private_ws_url
        assert pointed.bitunix_rest_url == sim.rest_url
        assert sim.options.seed == 5 and sim.clock.speed == 60.0
        assert sim.options.kline_push_ms == 80
        assert sim.options.idle_timeout == 30.0 and sim.admin_url is None
        async with aiohttp.ClientSession() as session:
            ws = await connect(session, pointed.bitunix_ws_url)
            await ws.close()
    finally:
        await sim.stop()


async def test_standalone_command_serves_until_sigint() -> None:
    port = free_port()
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
