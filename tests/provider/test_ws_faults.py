"""Failure paths against the simulator: drops, gaps, stalls, refusals, login, garbage, idle."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from laptop_agents.config import load_settings
from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider
from laptop_agents.errors import EXIT_AUTH, EXIT_FEED_REFUSED, AuthenticationError, FeedRefusedError
from laptop_agents.metrics import Metrics
from laptop_agents.models import Candle, ConnectionState, Tick
from laptop_agents.sim.frames import MALFORMED_KINDS
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange
from tests.support.logs import captured_logs
from tests.support.sim import fast_settings

from .conftest import MINUTE, Seen, assert_contiguous, make_provider, run_until, truth_for


def _mid_candle(sim: Any) -> bool:
    return 15_000 <= sim.clock.now_ms() % MINUTE <= 40_000


async def test_abrupt_drop_mid_candle_reconnects_and_backfills(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    # Refusals during the outage are expected here; only the drop/backfill is under test.
    provider = make_provider(session, sim, fast_settings(sim, ws_refused_limit=1000))
    await provider.subscribe_kline("BTCUSDT")
    await provider.subscribe_ticker("BTCUSDT")
    dropped: list[int] = []

    async def fault(seen: Seen, item: Any) -> None:
        if not dropped and seen.candles and isinstance(item, Tick) and _mid_candle(sim):
            dropped.append(sim.clock.now_ms())
            # Reconnects are turned away (503) for a while, so boundaries pass while down.
            # (refuse_connections would not do: the session's pooled keep-alive TCP
            # connections from REST calls survive a closed listening socket.)
            sim.reject_handshakes(10_000, status=503)
            sim.drop_all()  # 1006, no close frame, in the middle of a candle
            await asyncio.sleep(1.3)  # ~78 simulated seconds: at least one boundary missed
            sim.reject_handshakes(0)

    with captured_logs() as logs:
        seen = await run_until(
            provider,
            lambda s: ConnectionState.RECOVERED in s.states() and len(s.candles) >= 5,
            on_item=fault, limit_s=20,
        )
    assert seen.states() == [ConnectionState.CONNECTED, ConnectionState.LOST,
                             ConnectionState.RECOVERED]
    lost, recovered = seen.events[1], seen.events[2]
    assert "1006" in lost.reason
    assert recovered.outage_s is not None and recovered.outage_s >= 1.0
    # the operator sees the loss with its reason and the recovery with the outage length
    assert ("WARNING", f"Connection Lost: {lost.reason}") in logs
    assert ("INFO", f"Connection recovered after {recovered.outage_s:.2f}s outage") in logs
    assert_contiguous(seen.candles)  # no gap, no duplicate across the outage
    assert seen.candles == truth_for(sim, seen.candles)
    assert provider.stats.reconnects == 1
    # the candle running at the drop closed while down; REST backfill delivered it
    # between LOST and RECOVERED
    between = seen.order[seen.order.index(lost) + 1 : seen.order.index(recovered)]
    assert dropped[0] // MINUTE * MINUTE in [getattr(c, "open_time", None) for c in between]
    assert sim.stats.subscriptions >= 4  # resubscribed on the new connection


async def test_skipped_pushes_gap_is_backfilled_without_reconnect(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    # Long silence timeout: the socket stays up (pings answered) while pushes are skipped.
    settings = fast_settings(sim, ws_silence_timeout=10.0, ws_pong_timeout=2.0)
    provider = make_provider(session, sim, settings)
    await provider.subscribe_kline("BTCUSDT")
    skipped: list[int] = []

    def fault(seen: Seen, item: Any) -> None:
        if not skipped and seen.candles:
            skipped.append(sim.clock.now_ms())
            sim.skip_pushes(130)  # over two simulated minutes without any push

    closed_at: dict[int, int] = {}  # open time -> simulated time when it was yielded

    def record(seen: Seen, item: Any) -> None:
        fault(seen, item)
        if isinstance(item, Candle):
            closed_at[item.open_time] = sim.clock.now_ms()

    seen = await run_until(
        provider,
        lambda s: bool(skipped) and len(s.candles) >= 2
        and s.candles[-1].open_time >= skipped[0] // MINUTE * MINUTE + 2 * MINUTE,
        on_item=record, limit_s=20,
    )
    assert seen.states() == [ConnectionState.CONNECTED]
    # the candle running when pushes stopped was closed by the timer (boundary + grace, over
    # REST) while no push arrived at all, not by the next push 130 simulated seconds later
    running = skipped[0] // MINUTE * MINUTE
    assert closed_at[running] < skipped[0] + 130_000
    assert provider.stats.reconnects == 0
    assert_contiguous(seen.candles)
    assert seen.candles == truth_for(sim, seen.candles)


async def _stall_once_streaming(
    sim: Any, session: aiohttp.ClientSession, settings: Any
) -> tuple[Seen, float]:
    """Stall the simulator after a few ticks; returns what was seen and the detection delay."""
    provider = make_provider(session, sim, settings)
    await provider.subscribe_kline("BTCUSDT")
    await provider.subscribe_ticker("BTCUSDT")
    stalled: list[float] = []
    lost_after: list[float] = []

    def fault(seen: Seen, item: Any) -> None:
        if not stalled and len(seen.ticks) >= 5:
            stalled.append(time.monotonic())
            sim.stall()  # the open connection goes silent: no pushes, no ping replies
        elif stalled and not lost_after and ConnectionState.LOST in seen.states():
            lost_after.append(time.monotonic() - stalled[0])

    seen = await run_until(
        provider,
        lambda s: ConnectionState.RECOVERED in s.states() and len(s.candles) >= 2,
        on_item=fault, limit_s=20,
    )
    assert seen.states() == [ConnectionState.CONNECTED, ConnectionState.LOST,
                             ConnectionState.RECOVERED]
    assert provider.stats.reconnects == 1
    assert_contiguous(seen.candles)
    assert seen.candles == truth_for(sim, seen.candles)
    return seen, lost_after[0]


async def test_silent_stall_is_detected_by_silence(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    # No ping goes out during the test, so only the silence rule can see the stall.
    settings = fast_settings(sim, ws_ping_interval=60.0, ws_silence_timeout=0.5)
    seen, delay = await _stall_once_streaming(sim, session, settings)
    assert "while subscribed (stalled)" in seen.events[1].reason
    # detected within the silence timeout plus the check period and scheduling slack
    assert 0.5 <= delay < settings.ws_silence_timeout + 1.0


async def test_missing_ping_reply_is_detected(sim: Any, session: aiohttp.ClientSession) -> None:
    # Silence alone would take 30 s here: only the unanswered ping can end the socket.
    settings = fast_settings(sim, ws_ping_interval=0.2, ws_pong_timeout=0.5,
                             ws_silence_timeout=30.0)
    seen, delay = await _stall_once_streaming(sim, session, settings)
    assert seen.events[1].reason == "no ping reply within 0.5s"
    # at most one ping interval until the next ping, then the reply timeout
    assert delay < settings.ws_ping_interval + settings.ws_pong_timeout + 1.0


async def test_rejected_handshakes_below_the_limit_are_retried(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    sim.reject_handshakes(2, status=403)
    provider = make_provider(session, sim, fast_settings(sim))
    await provider.subscribe_ticker("BTCUSDT")
    seen = await run_until(provider, lambda s: len(s.ticks) >= 3)
    assert seen.states()[0] is ConnectionState.CONNECTED
    assert provider.stats.connect_attempts == 3
    assert provider.stats.consecutive_refusals == 0  # reset by the successful handshake


async def test_three_rejected_handshakes_fail_fast(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    sim.reject_handshakes(3, status=403)
    provider = make_provider(session, sim, fast_settings(sim))
    await provider.subscribe_ticker("BTCUSDT")
    with pytest.raises(FeedRefusedError) as error:
        await run_until(provider, lambda s: False, limit_s=10)
    assert error.value.exit_code == EXIT_FEED_REFUSED == 69
    assert "403" in str(error.value)
    assert provider.stats.connect_attempts == 3 and sim.stats.handshakes_rejected == 3


async def test_three_refused_connections_fail_fast(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    await sim.refuse_connections()
    provider = make_provider(session, sim, fast_settings(sim))
    await provider.subscribe_ticker("BTCUSDT")
    started = time.monotonic()
    with pytest.raises(FeedRefusedError) as error:
        await run_until(provider, lambda s: False, limit_s=10)
    assert error.value.exit_code == 69
    assert "refused" in str(error.value)
    assert provider.stats.connect_attempts == 3
    assert time.monotonic() - started < 3.0  # backoff 0.05 -> 0.2 s, not a long hang


async def test_private_login_succeeds_with_the_right_secret(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    settings = fast_settings(sim, bitunix_api_key="sim-key", bitunix_api_secret="sim-secret")
    provider = BitunixWSProvider(session, settings, private=True)
    try:
        await provider.connect()
        assert sim.stats.logins_ok == 1
        assert provider.stats.state == "connected"
    finally:
        await provider.close()


async def test_private_login_failure_raises_authentication_error(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    settings = fast_settings(sim, bitunix_api_key="sim-key", bitunix_api_secret="wrong")
    provider = BitunixWSProvider(session, settings, private=True)
    with pytest.raises(AuthenticationError) as error:
        await provider.connect()
    await provider.close()
    assert error.value.exit_code == EXIT_AUTH == 77
    assert "Signature" in str(error.value)
    assert provider.stats.connect_attempts == 1  # not retried
    assert sim.stats.logins_failed == 1


async def test_malformed_frames_are_counted_and_never_end_the_listener(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    metrics = Metrics()
    provider = make_provider(session, sim, fast_settings(sim, ws_silence_timeout=2.0),
                             metrics=metrics)
    await provider.subscribe_kline("BTCUSDT")
    await provider.subscribe_ticker("BTCUSDT")
    sent: list[int] = []

    def fault(seen: Seen, item: Any) -> None:
        if not sent and len(seen.ticks) >= 3:
            for kind in MALFORMED_KINDS:
                sent.append(sim.send_malformed(kind))

    with captured_logs() as logs:
        seen = await run_until(
            provider,
            lambda s: bool(sent) and provider.stats.malformed >= len(MALFORMED_KINDS)
            and len(s.candles) >= 2,
            on_item=fault, limit_s=20,
        )
    assert sent == [1] * len(MALFORMED_KINDS)
    assert provider.stats.malformed == len(MALFORMED_KINDS)
    assert metrics.registry.get_sample_value("la_malformed_frames_total") == len(MALFORMED_KINDS)
    skipped = [m for level, m in logs if m.startswith("skipping malformed frame")]
    assert len(skipped) == len(MALFORMED_KINDS)
    assert all(level == "DEBUG" for level, m in logs if m.startswith("skipping malformed"))
    assert max(len(m) for m in skipped) < 400  # a short sample, never a 4 MiB frame
    assert seen.states() == [ConnectionState.CONNECTED]  # garbage does not drop the feed
    assert all(t.bid < t.ask for t in seen.ticks)
    assert seen.candles == truth_for(sim, seen.candles)


async def test_long_accelerated_run_never_hits_idle_kill_or_rate_limit(
    session: aiohttp.ClientSession,
) -> None:
    async with SimExchange(SimOptions(seed=11, speed=60.0, kline_push_ms=100, depth_push_ms=50,
                                      idle_timeout=1.5, max_frames_per_second=5)) as sim:
        settings = fast_settings(sim, ws_ping_interval=0.4, ws_pong_timeout=1.0,
                                 ws_silence_timeout=2.0)
        provider = make_provider(session, sim, settings)
        await provider.subscribe_kline("BTCUSDT")
        await provider.subscribe_ticker("BTCUSDT")
        seen = await run_until(provider, lambda s: len(s.candles) >= 3, limit_s=25)
        assert sim.stats.dropped_idle == 0
        assert sim.stats.dropped_rate == 0
        assert sim.stats.pings_answered >= 4
        assert provider.stats.reconnects == 0
        assert seen.states() == [ConnectionState.CONNECTED]
        assert_contiguous(seen.candles)


async def test_outgoing_frames_never_exceed_five_per_second(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    # A ping every 20 ms asks for 50 frames/s; the simulator drops a socket at > 5 in 1 s.
    settings = fast_settings(sim, ws_ping_interval=0.02, ws_pong_timeout=2.0,
                             ws_silence_timeout=2.0, ws_max_frames_per_second=5)
    provider = make_provider(session, sim, settings)
    await provider.subscribe_kline("BTCUSDT")
    await provider.subscribe_ticker("BTCUSDT")
    started = time.monotonic()
    seen = await run_until(provider, lambda s: time.monotonic() - started >= 2.0, limit_s=10)
    elapsed = time.monotonic() - started
    assert sim.stats.dropped_rate == 0
    assert seen.states() == [ConnectionState.CONNECTED] and provider.stats.reconnects == 0
    assert sim.stats.frames_received <= 5 * (elapsed + 1)
    assert sim.stats.pings_answered >= 5  # the limiter slowed the pings, it did not stop them


async def test_a_socket_without_the_connect_frame_is_a_failed_attempt(
    aiohttp_server: Any, session: aiohttp.ClientSession
) -> None:
    upgrades: list[float] = []

    async def mute(request: web.Request) -> web.WebSocketResponse:
        upgrades.append(time.monotonic())
        ws = web.WebSocketResponse(autoping=False)
        await ws.prepare(request)  # upgraded, but never sends {"op":"connect"}
        async for _ in ws:
            pass
        return ws

    app = web.Application()
    app.router.add_get("/public/", mute)
    server = await aiohttp_server(app)
    settings = load_settings(bitunix_ws_url=str(server.make_url("/public/")).replace("http", "ws"),
                             ws_connect_timeout=0.2, ws_backoff_initial=0.05,
                             ws_backoff_max=0.1)
    provider = BitunixWSProvider(session, settings)
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(1.5):
            await provider.connect()
    await provider.close()
    # each attempt waited ~0.2 s for the frame, then was retried (not a refusal: no exit)
    # (the attempt the timeout cut short may not have reached the server yet)
    assert len(upgrades) >= 3
    assert provider.stats.connect_attempts in (len(upgrades), len(upgrades) + 1)
    assert provider.stats.consecutive_refusals == 0
