"""The fuzz generator and raw-frame injection (Python API and admin endpoints)."""

from __future__ import annotations

import json
from typing import Any

import aiohttp
import pytest

from laptop_agents.config import Settings
from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider
from laptop_agents.sim.fuzz import KINDS, fuzz_frames
from laptop_agents.sim.server import SimExchange

from .helpers import connect, subscribe

NOW = 1_790_126_515_684


def test_the_same_seed_gives_the_same_frames() -> None:
    first = list(fuzz_frames(5, 500, now_ms=NOW))
    assert first == list(fuzz_frames(5, 500, now_ms=NOW))
    assert first != list(fuzz_frames(6, 500, now_ms=NOW))
    assert {kind for kind, _ in first} == set(KINDS)  # every kind turns up
    # Which kinds come out does not depend on the time the frames carry.
    assert [k for k, _ in first] == [k for k, _ in fuzz_frames(5, 500, now_ms=NOW + 12_345)]
    with_big = list(fuzz_frames(5, 10, now_ms=NOW, oversized_every=5, oversized_bytes=2048))
    assert [k for k, _ in with_big].count("oversized") == 2
    assert all(len(f) > 2048 for k, f in with_big if k == "oversized")


async def test_every_fuzzed_frame_is_rejected_by_a_subscribed_client() -> None:
    """The generator's promise, checked with the client's own frame handler: nothing is a
    valid push for the symbol (whatever intervals it subscribes) or a control reply."""
    async with aiohttp.ClientSession() as session:
        provider = BitunixWSProvider(session, Settings())
        for interval in ("1min", "5min", "60min"):
            await provider.subscribe_kline("BTCUSDT", interval)
        await provider.subscribe_ticker("BTCUSDT")

        class Conn:
            ping_sent_at: float | None = 1.0

        conn: Any = Conn()
        texts = 0
        for _, frame in fuzz_frames(11, 20_000, "BTCUSDT", now_ms=NOW, oversized_every=5_000,
                                    oversized_bytes=64 * 1024):
            if isinstance(frame, str):
                texts += 1
                provider._on_text(conn, frame)
        stats = provider.stats
        assert stats.malformed == texts and stats.frame_errors == 0
        assert stats.ticks == 0 and provider._kline_in.empty() and not provider._last_price
        assert conn.ping_sent_at == 1.0  # no heartbeat reply among them
        await provider.close()


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"history_minutes": 60, "admin": True}


async def _post(session: aiohttp.ClientSession, sim: SimExchange, name: str,
                **body: Any) -> tuple[int, dict[str, Any]]:
    async with session.post(f"{sim.admin_url}/admin/{name}", json=body) as response:
        return response.status, await response.json()


async def _receive(ws: aiohttp.ClientWebSocketResponse, n: int) -> list[str | bytes]:
    """The next ``n`` frames that are not market pushes (those have a `ch` the test chose)."""
    got: list[str | bytes] = []
    while len(got) < n:
        msg = await ws.receive(timeout=5)
        if msg.type == aiohttp.WSMsgType.BINARY:
            got.append(msg.data)
        elif msg.type == aiohttp.WSMsgType.TEXT:
            # The simulator's pushes are compact JSON; fuzz frames are written with spaces.
            if '"ch":"depth_book1","symbol":"BTCUSDT"' not in msg.data:
                got.append(msg.data)
        else:
            raise AssertionError(f"socket ended: {msg.type}")
    return got


async def test_admin_inject_sends_raw_frames_in_order_to_public_sockets(
    sim: SimExchange, session: aiohttp.ClientSession
) -> None:
    public = await connect(session, sim.ws_url)
    private = await connect(session, sim.private_ws_url)
    sim.stall()  # injected frames reach stalled sockets too (pushes do not)
    status, body = await _post(session, sim, "inject",
                               frames=["not json", {"hex": "00ff10"}, '{"op":"x"}'])
    assert (status, body) == (200, {"ok": True, "sent": 3})
    assert await _receive(public, 3) == ["not json", b"\x00\xff\x10", '{"op":"x"}']
    assert sim.stats.frames_injected == 3
    status, body = await _post(session, sim, "inject", frames=[{"hex": "zz"}])
    assert status == 400 and not body["ok"]
    status, body = await _post(session, sim, "inject", frames="nope")
    assert status == 400
    await private.close()
    await public.close()


async def test_admin_fuzz_injects_the_seeded_frames_without_dropping_any(
    sim: SimExchange, session: aiohttp.ClientSession
) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book1", "BTCUSDT"))  # pushes share the queue meanwhile
    count = 5_000  # more than the 2000-frame outbound queue: the injector must wait
    status, body = await _post(session, sim, "fuzz", seed=3, count=count)
    assert status == 200 and body["sent"] == body["generated"] == count
    expected = [kind for kind, _ in fuzz_frames(3, count, now_ms=NOW)]
    assert body["kinds"] == {k: expected.count(k) for k in sorted(set(expected))}
    got = await _receive(ws, count)
    assert [isinstance(f, bytes) for f in got] == [k == "binary" for k in expected]
    assert sim.stats.frames_injected == count
    frame = got[expected.index("bad_ts")]
    assert isinstance(frame, str) and json.loads(frame)["symbol"] == "BTCUSDT"
    status, body = await _post(session, sim, "fuzz", seed=1, count=10**7)
    assert status == 400 and "count" in body["error"]
    await ws.close()
