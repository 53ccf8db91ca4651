"""Fault injection through the Python API: every fault observed by a real client."""

from __future__ import annotations

import asyncio
import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange

from .helpers import collect, connect, is_ch, is_op, next_json, send, subscribe, wait_closed


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"history_minutes": 60}


async def test_drop_all_gives_1006_and_new_connections_work(sim: SimExchange, session) -> None:
    a = await connect(session, sim.ws_url)
    b = await connect(session, sim.private_ws_url)
    assert sim.drop_all() == 2
    for ws in (a, b):
        await wait_closed(ws)
        assert ws.close_code == 1006
    c = await connect(session, sim.ws_url)
    await subscribe(c, ("depth_book1", "BTCUSDT"))
    await next_json(c, is_ch("depth_book1"))
    assert sim.stats.dropped_fault == 2


async def test_stall_silences_open_connections_only(sim: SimExchange, session) -> None:
    old = await connect(session, sim.ws_url)
    await subscribe(old, ("depth_book1", "BTCUSDT"))
    await next_json(old, is_ch("depth_book1"))
    sim.stall()
    await collect(old, 0.1)  # drain what was already queued
    await send(old, {"op": "ping", "ping": 1})
    assert await collect(old, 0.6) == []  # no pushes, no ping reply
    assert not old.closed  # TCP stays open
    new = await connect(session, sim.ws_url)
    await subscribe(new, ("depth_book1", "BTCUSDT"))
    await next_json(new, is_ch("depth_book1"))
    await send(new, {"op": "ping", "ping": 2})
    assert (await next_json(new, is_op("ping")))["pong"] == 2
    sim.unstall()
    await next_json(old, is_ch("depth_book1"))


async def test_refuse_then_accept_on_same_port(sim: SimExchange, session) -> None:
    kept = await connect(session, sim.ws_url)
    port = sim.port
    await sim.refuse_connections()
    with pytest.raises(aiohttp.ClientConnectorError) as info:
        await session.ws_connect(sim.ws_url)
    assert isinstance(info.value.os_error, ConnectionRefusedError)
    await send(kept, {"op": "ping", "ping": 9})  # open connections live on
    assert (await next_json(kept, is_op("ping")))["pong"] == 9
    await sim.accept_connections()
    assert sim.port == port
    again = await connect(session, sim.ws_url)
    assert not again.closed


async def test_refuse_closes_idle_keep_alive_connections(sim: SimExchange, session) -> None:
    async with session.get(sim.rest_url + "/api/v1/futures/market/trading_pairs") as r:
        assert r.status == 200
        await r.read()  # the connection goes back to the pool, kept alive
    await sim.refuse_connections()
    await asyncio.sleep(0.05)  # let the close reach the client's pool
    async with asyncio.timeout(5):  # a reused keep-alive connection would hang here
        with pytest.raises(aiohttp.ClientConnectorError):
            await session.ws_connect(sim.ws_url)
    await sim.accept_connections()
    await connect(session, sim.ws_url)


async def test_reject_next_n_handshakes(sim: SimExchange, session) -> None:
    sim.reject_handshakes(2, status=429)
    for _ in range(2):
        with pytest.raises(aiohttp.WSServerHandshakeError) as info:
            await session.ws_connect(sim.ws_url)
        assert info.value.status == 429
    ws = await connect(session, sim.ws_url)
    assert not ws.closed
    assert sim.stats.handshakes_rejected == 2


@pytest.mark.parametrize("kind", ["invalid_json", "missing_fields", "empty_prices",
                                  "wrong_types"])
async def test_malformed_text_frames(sim: SimExchange, session, kind: str) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("market_kline_1min", "BTCUSDT"))
    await next_json(ws, is_ch("market_kline_1min"))
    sim.stall()  # keep regular pushes out of the way; fault frames are still delivered
    await collect(ws, 0.1)
    assert sim.send_malformed(kind) == 1
    msg = await ws.receive(timeout=5)
    assert msg.type == aiohttp.WSMsgType.TEXT
    if kind == "invalid_json":
        with pytest.raises(json.JSONDecodeError):
            json.loads(msg.data)
        return
    frame = json.loads(msg.data)
    assert frame["ch"] == "market_kline_1min"
    data = frame["data"]
    if kind == "missing_fields":
        assert not {"h", "l", "c", "b", "q"} & set(data)
    elif kind == "empty_prices":
        assert data["o"] == "" and data["c"] == ""
    else:
        assert not isinstance(data["o"], str) and isinstance(frame["ts"], str)


async def test_malformed_binary_and_oversized(session) -> None:
    async with SimExchange(SimOptions(seed=3, speed=60, history_minutes=60,
                                      oversized_bytes=2 * 1024 * 1024)) as sim:
        ws = await session.ws_connect(sim.ws_url, autoping=False, max_msg_size=1024 * 1024)
        await ws.receive_json()
        assert sim.send_malformed("binary") == 1
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.BINARY
        sim.send_malformed("oversized")
        msg = await ws.receive(timeout=5)
        assert msg.type == aiohttp.WSMsgType.ERROR  # the client refuses a > max_size frame
        with pytest.raises(ValueError):
            sim.send_malformed("nope")


async def test_skip_pushes_gap(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("market_kline_1min", "BTCUSDT"))
    before = await next_json(ws, is_ch("market_kline_1min"))
    gap_start = sim.now_ms()  # read before the call: the gap starts at or after it
    sim.skip_pushes(120)  # two simulated minutes = 2 wall seconds at speed 60
    await collect(ws, 0.05)
    await send(ws, {"op": "ping", "ping": 4})
    reply = await next_json(ws, timeout=1.0)
    assert reply["op"] == "ping"  # pings still answered, no pushes in between
    after = await next_json(ws, is_ch("market_kline_1min"), timeout=5)
    assert after["ts"] >= gap_start + 120_000
    assert after["ts"] - before["ts"] >= 120_000
    # REST has the candles of the gap.
    truth = sim.closed_candles("BTCUSDT", start_ms=gap_start, end_ms=gap_start + 120_000)
    assert len(truth) >= 1


async def test_script_price_reaches_level_and_market_continues(sim: SimExchange,
                                                                session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book1", "BTCUSDT"), ("market_kline_1min", "BTCUSDT"))
    first = await next_json(ws, is_ch("depth_book1"))
    target = (Decimal(first["data"]["b"][0][0]) * Decimal("1.02")).quantize(Decimal("0.1"))
    sim.script_price(target, pushes=3)
    seen: list[Decimal] = []
    while not seen or seen[-1] != target:
        push = await next_json(ws, is_ch("depth_book1"))
        seen.append(Decimal(push["data"]["b"][0][0]))
        assert len(seen) < 20
    assert Decimal(push["data"]["a"][0][0]) == target + Decimal("0.1")
    kline = await next_json(ws, is_ch("market_kline_1min"))
    assert Decimal(kline["data"]["h"]) >= target  # candles reflect the scripted price
    tick = sim.current_tick()
    assert abs(tick.bid - target) / target < Decimal("0.01")  # continues from there
    assert tick.last is not None


async def test_script_price_single_push_immediate(sim: SimExchange) -> None:
    sim.script_price(Decimal("50000"), Decimal("50000.5"))
    tick = sim.current_tick()
    # Exact at the scripted instant (see test_market); a few simulated seconds of random walk
    # may have passed since, so allow a small drift here.
    assert abs(tick.bid - Decimal("50000")) < 50 and tick.spread > 0


async def test_set_speed_changes_simulated_rate(sim: SimExchange) -> None:
    sim.set_speed(600.0)
    a = sim.now_ms()
    await asyncio.sleep(0.2)
    b = sim.now_ms()
    assert b - a >= 100_000  # >= 0.2 s x 600 (with slack for scheduling)
    assert sim.clock.speed == 600.0


async def test_wait_for_connections(sim: SimExchange, session) -> None:
    task = asyncio.create_task(sim.wait_for_connections(2, timeout=5))
    await connect(session, sim.ws_url)
    await connect(session, sim.ws_url)
    await task
    with pytest.raises(TimeoutError):
        await sim.wait_for_connections(3, timeout=0.2)
