"""The provider's per-frame handler: hostile frames are counted and skipped, and any error
raised while handling one frame is counted, logged once per burst and contained."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import aiohttp
import pytest
from hypothesis import HealthCheck, example, given, settings

from laptop_agents.config import Settings
from laptop_agents.data.providers import bitunix_protocol as p
from laptop_agents.data.providers import bitunix_values as v
from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider
from laptop_agents.metrics import Metrics
from laptop_agents.models import ConnectionState, Tick
from tests.support.logs import captured_logs
from tests.support.sim import fast_settings

from .conftest import Seen, make_provider, run_until
from .hostile import DEPTH, TICKER, any_text, with_value


class _Conn:
    """Stands in for the provider's per-socket state: the handler only clears ping_sent_at."""

    ping_sent_at: float | None = 1.0


async def _subscribed(session: aiohttp.ClientSession,
                      metrics: Metrics | None = None) -> BitunixWSProvider:
    provider = BitunixWSProvider(session, Settings(), metrics=metrics)
    await provider.subscribe_kline("BTCUSDT")
    await provider.subscribe_ticker("BTCUSDT")
    return provider


async def test_the_frame_handler_lets_nothing_escape() -> None:
    async with aiohttp.ClientSession() as session:
        metrics = Metrics()
        provider = await _subscribed(session, metrics)
        conn: Any = _Conn()
        handled = [0]

        @settings(max_examples=800, deadline=None,
                  suppress_health_check=[HealthCheck.too_slow])
        @given(any_text)
        @example(with_value(DEPTH, ("data", "b"), [["1e999999", "1"]]))
        @example(with_value(DEPTH, ("ts",), 2**62))
        @example(with_value(TICKER, ("symbol",), "DOGEUSDT"))
        def handle(text: str) -> None:
            provider._on_text(conn, text)  # must return normally, whatever the frame
            handled[0] += 1

        handle()
        assert handled[0] >= 800
        before = provider.stats.ticks
        provider._on_text(conn, json.dumps(DEPTH))  # an intact frame still gets through
        assert provider.stats.ticks == before + 1
        stats = provider.stats
        assert stats.frame_errors == 0  # the hardened parser leaves nothing for the guard
        assert stats.malformed > 0
        assert metrics.registry.get_sample_value("la_malformed_frames_total") == stats.malformed
        # Whatever got through is bounded and for the subscribed symbol only.
        assert set(provider._last_price) <= {"BTCUSDT"}
        while not provider._out.empty():
            tick = provider._out.get_nowait()
            assert v.PRICE_MIN <= tick.bid <= tick.ask <= v.PRICE_MAX
        await provider.close()


def _broken_depth(push: p.DepthPush) -> None:
    """A handler bug (raised after parsing) that the guard around one frame must contain."""
    raise RuntimeError("bug in the depth handler")


async def test_a_failing_handler_is_counted_logged_once_per_burst_and_contained(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async with aiohttp.ClientSession() as session:
        metrics = Metrics()
        provider = await _subscribed(session, metrics)
        monkeypatch.setattr(provider._frames, "on_depth", _broken_depth)
        conn: Any = _Conn()
        secret = "7403.89"
        with captured_logs("WARNING") as logs:
            for _ in range(3):
                provider._on_text(conn, json.dumps(DEPTH))
            provider._on_text(conn, json.dumps(TICKER))  # the next frame is still handled
        assert provider.stats.frame_errors == 3
        assert metrics.registry.get_sample_value("la_frame_errors_total") == 3
        assert provider._last_price["BTCUSDT"] == Decimal("86688.2")
        warnings = [m for level, m in logs if level == "WARNING"]
        assert len(warnings) == 1  # one line per burst, not one per frame
        assert "ch='depth_book1'" in warnings[0] and "RuntimeError" in warnings[0]
        assert secret not in warnings[0]  # names the channel, never quotes the frame
        await provider.close()


@pytest.fixture
def sim_options() -> dict[str, Any]:
    # Beyond the client's 8 MiB frame limit (the simulator's default stays below it).
    return {"history_minutes": 120, "oversized_bytes": 9 * 1024 * 1024}


async def test_a_frame_above_the_size_limit_is_malformed_and_the_feed_recovers(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    provider = make_provider(session, sim, fast_settings(sim))
    await provider.subscribe_ticker("BTCUSDT")
    sent: list[int] = []

    def fault(seen: Seen, item: Any) -> None:
        if not sent and len(seen.ticks) >= 3:
            sent.append(sim.send_malformed("oversized"))

    seen = await run_until(
        provider, lambda s: ConnectionState.RECOVERED in s.states()
        and isinstance(s.order[-1], Tick), on_item=fault)
    assert sent == [1]
    assert provider.stats.malformed == 1 and provider.stats.frame_errors == 0
    # aiohttp closes a socket that sent a frame above max_msg_size; the provider reconnects.
    assert seen.states() == [ConnectionState.CONNECTED, ConnectionState.LOST,
                             ConnectionState.RECOVERED]
    assert "1009" in seen.events[1].reason or "MESSAGE_TOO_BIG" in seen.events[1].reason
