"""MarkPrice events from the provider: subscribed with every ticker, yielded by listen() over a
real loopback WebSocket, repeats coalesced, the latest never lost behind a slow consumer."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from aiohttp import web
from hypothesis import HealthCheck, given, settings

from laptop_agents.config import Settings, load_settings
from laptop_agents.data.providers import bitunix_ws_outbox as outbox_module
from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider
from laptop_agents.data.providers.bitunix_ws_frames import MARK_REPEAT_MS
from laptop_agents.data.providers.bitunix_ws_outbox import Outbox, ProviderStats
from laptop_agents.models import ConnectionEvent, ConnectionState, MarkPrice, Tick

from .hostile import price_frames, to_text
from .test_price_parse import assert_sane

CONNECT = {"op": "connect", "data": {"result": True}}
HOUR = 3_600_000


def price_push(ts: int, mp: str = "86688.3", symbol: str = "BTCUSDT", **data: Any) -> str:
    body: dict[str, Any] = {"ip": "86720.6", "mp": mp, "fr": "-0.00077",
                            "ft": "2026-09-23T00:00:00Z", "nft": "2026-09-23T08:00:00Z"}
    body.update(data)
    return json.dumps({"ch": "price", "symbol": symbol, "ts": ts, "data": body})


def depth_push(ts: int) -> str:
    return json.dumps({"ch": "depth_book1", "symbol": "BTCUSDT", "ts": ts,
                       "data": {"b": [["86688.1", "1.5"]], "a": [["86688.2", "0.5"]]}})


def now_ms() -> int:
    return int(time.time() * 1000)


@dataclass
class Script:
    """A loopback exchange: per connection, once the client subscribed to ``price``, it sends
    the frames ``frames(connection_number)`` makes, then closes the socket if ``close``
    says so (the client then reconnects)."""

    frames: Callable[[int], list[str]]
    close: Callable[[int], bool] = lambda n: False
    subscribed: list[list[dict[str, Any]]] = field(default_factory=list)

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)
        await ws.send_str(json.dumps(CONNECT))
        number = len(self.subscribed)
        self.subscribed.append([])
        async for message in ws:
            frame = json.loads(message.data)
            if frame.get("op") == "ping":
                await ws.send_str(json.dumps({"op": "ping", "pong": frame["ping"]}))
            elif frame.get("op") == "subscribe":
                self.subscribed[number].extend(frame["args"])
                if {"ch": "price", "symbol": "BTCUSDT"} in frame["args"]:
                    for text in self.frames(number):
                        await ws.send_str(text)
                    if self.close(number):
                        await ws.close()
        return ws


async def serve(aiohttp_server: Any, script: Script) -> Settings:
    app = web.Application()
    app.router.add_get("/public/", script.handler)
    server = await aiohttp_server(app)
    url = str(server.make_url("/public/")).replace("http", "ws", 1)
    # No pings and generous liveness limits: the script decides when the socket ends.
    return load_settings(bitunix_ws_url=url, bitunix_rest_url=url.replace("ws", "http", 1),
                         ws_ping_interval=60.0, ws_silence_timeout=10.0, ws_pong_timeout=10.0,
                         ws_backoff_initial=0.05, ws_backoff_max=0.1)


async def collect(provider: BitunixWSProvider, done: Callable[[list[Any]], bool],
                  limit_s: float = 10.0) -> list[Any]:
    seen: list[Any] = []
    try:
        async with asyncio.timeout(limit_s):
            async for item in provider.listen():
                seen.append(item)
                if done(seen):
                    break
    finally:
        await provider.close()
    return seen


def marks(seen: list[Any]) -> list[MarkPrice]:
    return [item for item in seen if isinstance(item, MarkPrice)]


async def test_price_pushes_become_mark_price_events_over_a_real_socket(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    t = now_ms()

    def frames(_: int) -> list[str]:
        return [
            price_push(t),
            price_push(t + 500),  # a repeat within a second: coalesced
            price_push(t + 600, symbol="ETHUSDT"),  # not subscribed: malformed
            price_push(t + 700, mp=""),  # no mark: malformed
            price_push(t + 800, fr="5.5"),  # 5.5 % per settlement: beyond the bound
            price_push(t + HOUR),  # ts an hour ahead of the exchange clock: implausible
            depth_push(t + 900),  # ticks still flow beside marks
            price_push(t + 1000, mp="86690.1", ft=t - HOUR, nft=str(t + 7 * HOUR)),
            price_push(t + 2100, mp="86690.1", ft=t - HOUR, nft=str(t + 7 * HOUR)),  # refresh
        ]

    script = Script(frames)
    provider = BitunixWSProvider(session, await serve(aiohttp_server, script))
    await provider.subscribe_ticker("btcusdt")
    seen = await collect(provider, lambda s: len(marks(s)) >= 3)

    # one subscribe frame carried the three channels of a ticker
    assert script.subscribed == [[{"symbol": "BTCUSDT", "ch": "depth_book1"},
                                  {"symbol": "BTCUSDT", "ch": "ticker"},
                                  {"symbol": "BTCUSDT", "ch": "price"}]]
    first, second, refresh = marks(seen)
    assert first == MarkPrice(symbol="BTCUSDT", mark=Decimal("86688.3"),
                              index=Decimal("86720.6"), funding_rate=Decimal("-0.0000077"),
                              last_settlement_ms=1_790_121_600_000,
                              next_settlement_ms=1_790_150_400_000, ts=t)
    assert (second.mark, second.ts) == (Decimal("86690.1"), t + 1000)
    assert (second.last_settlement_ms, second.next_settlement_ms) == (t - HOUR, t + 7 * HOUR)
    assert refresh.ts == t + 2100 and refresh.mark == second.mark
    assert any(isinstance(item, Tick) for item in seen)
    stats = provider.stats
    assert stats.marks == 3
    assert stats.malformed == 4 and stats.implausible_ts == 1 and stats.frame_errors == 0


async def test_a_reconnect_resubscribes_price_and_marks_flow_again(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    t = now_ms()
    script = Script(lambda n: [price_push(t + 1000 * n, mp=f"8668{n}.5")],
                    close=lambda n: n == 0)
    provider = BitunixWSProvider(session, await serve(aiohttp_server, script))
    await provider.subscribe_ticker("BTCUSDT")
    seen = await collect(provider, lambda s: len(marks(s)) >= 2)

    assert len(script.subscribed) == 2
    assert all({"symbol": "BTCUSDT", "ch": "price"} in args for args in script.subscribed)
    assert [m.mark for m in marks(seen)] == [Decimal("86680.5"), Decimal("86681.5")]
    states = [e.state for e in seen if isinstance(e, ConnectionEvent)]
    assert states[:2] == [ConnectionState.CONNECTED, ConnectionState.LOST]
    assert provider.stats.reconnects == 1


def _handler_provider(session: aiohttp.ClientSession) -> BitunixWSProvider:
    return BitunixWSProvider(session, Settings())


class _Conn:
    ping_sent_at: float | None = None


def _drain(provider: BitunixWSProvider) -> list[Any]:
    items = []
    while not provider._out.empty():
        items.append(provider._out.get_nowait())
    return items


async def test_repeats_are_coalesced_and_stale_marks_skipped(
    session: aiohttp.ClientSession,
) -> None:
    provider = _handler_provider(session)
    await provider.subscribe_ticker("BTCUSDT")
    conn: Any = _Conn()
    t = now_ms()
    for ts, mp in [(t, "1"), (t + 400, "1"), (t + MARK_REPEAT_MS - 1, "1"),
                   (t + MARK_REPEAT_MS, "1"),  # a second on: passed on as a refresh
                   (t + MARK_REPEAT_MS + 1, "2"),  # changed: passed on at once
                   (t + MARK_REPEAT_MS + 2, "2"),  # a repeat again
                   (t + 500, "2"),  # a repeat whose ts went back: still a repeat
                   (t + 400, "3")]:  # ts went back, but a new mark: the newest word wins
        provider._on_text(conn, price_push(ts, mp=mp))
    items = _drain(provider)
    assert [(m.ts - t, m.mark) for m in items] == [
        (0, Decimal(1)), (MARK_REPEAT_MS, Decimal(1)), (MARK_REPEAT_MS + 1, Decimal(2)),
        (400, Decimal(3))]
    # a change of funding state alone is not a repeat
    provider._on_text(conn, price_push(t + 401, mp="3", fr="0.01"))
    [changed] = _drain(provider)
    assert changed.funding_rate == Decimal("0.0001")
    assert provider.stats.marks == 5 and provider.stats.malformed == 0
    await provider.close()


async def test_the_latest_mark_waits_beside_a_full_queue_and_is_never_lost(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(outbox_module, "MAX_BUFFERED", 4)
    stats = ProviderStats()
    outbox = Outbox(stats)

    def mark(symbol: str, ts: int) -> MarkPrice:
        return MarkPrice(symbol, Decimal(ts), Decimal(ts), Decimal(0), None, None, ts)

    def tick(ts: int) -> Tick:
        return Tick("BTCUSDT", Decimal(1), Decimal(2), Decimal(1), Decimal(1), None, ts)

    for ts in range(4):
        assert outbox.offer(tick(ts))
    assert not outbox.offer(tick(4)) and stats.dropped == 1  # a surplus tick is dropped
    outbox.offer_latest(mark("BTCUSDT", 5))
    outbox.offer_latest(mark("ETHUSDT", 6))
    outbox.offer_latest(mark("BTCUSDT", 7))  # replaces the waiting BTCUSDT mark
    assert outbox.qsize() == 4 and stats.dropped == 1  # marks are held, not dropped
    got = [await outbox.get() for _ in range(6)]
    assert [type(g).__name__ for g in got] == ["Tick"] * 4 + ["MarkPrice"] * 2
    assert [(g.symbol, g.ts) for g in got[4:]] == [("ETHUSDT", 6), ("BTCUSDT", 7)]
    assert outbox.empty()
    # with room in the queue a mark goes straight in
    outbox.offer_latest(mark("BTCUSDT", 8))
    assert (await outbox.get()).ts == 8


async def test_no_price_frame_escapes_the_frame_handler(session: aiohttp.ClientSession) -> None:
    provider = _handler_provider(session)
    await provider.subscribe_ticker("BTCUSDT")
    conn: Any = _Conn()

    @settings(max_examples=500, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(price_frames)
    def handle(frame: dict[str, Any]) -> None:
        provider._on_text(conn, to_text(frame))  # returns normally, whatever the frame

    handle()
    assert provider.stats.frame_errors == 0
    passed_on = _drain(provider)
    assert len(passed_on) == provider.stats.marks
    for mark in passed_on:
        assert isinstance(mark, MarkPrice) and mark.symbol == "BTCUSDT"
        assert_sane(mark)
    assert set(provider._frames.last_mark) <= {"BTCUSDT"}
    await provider.close()
