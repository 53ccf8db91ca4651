"""The simulator in tests: the ``sim`` fixture (a seeded, accelerated SimExchange on loopback)
and settings pointed at it, for the client (``fast_settings``) and the engine
(``engine_settings``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from laptop_agents.config import Settings, load_settings


@pytest.fixture
def sim_options() -> dict[str, Any]:
    """Override in a test module to start the simulator differently (SimOptions fields)."""
    return {}


@pytest.fixture
async def sim(sim_options: dict[str, Any]) -> AsyncIterator[Any]:
    """A seeded, accelerated simulator on 127.0.0.1 (one 1-minute candle per wall second)."""
    from laptop_agents.sim.options import SimOptions
    from laptop_agents.sim.server import SimExchange

    options: dict[str, Any] = {"seed": 7, "speed": 60.0, "kline_push_ms": 100,
                               "depth_push_ms": 50}
    options.update(sim_options)
    exchange = SimExchange(SimOptions(**options))
    await exchange.start()
    try:
        yield exchange
    finally:
        await exchange.stop()


FAST = {
    "ws_ping_interval": 0.3,
    # 1 s rather than tighter: the pushes come every 50 ms, and a loaded 2-core CI machine can
    # starve the loop long enough for a false "dead socket" at 0.5 s.
    "ws_pong_timeout": 1.0,
    "ws_silence_timeout": 1.0,
    "ws_backoff_initial": 0.05,
    "ws_backoff_max": 0.2,
    "candle_close_grace": 0.2,
    "ws_connect_timeout": 2.0,
}


def fast_settings(sim: Any, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        **FAST,
        "bitunix_ws_url": sim.ws_url,
        "bitunix_private_ws_url": sim.private_ws_url,
        "bitunix_rest_url": sim.rest_url,
    }
    values.update(overrides)
    return load_settings(**values)


def engine_settings(sim: Any, data_dir: Path, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "source": "sim",
        "bitunix_ws_url": sim.ws_url,
        "bitunix_rest_url": sim.rest_url,
        "data_dir": data_dir,
        "api_enabled": False,
        "history_candles": 150,
        "warmup_candles": 100,
        "heartbeat_interval": 0.5,
        "position_sync_interval": 0.5,
        "ws_backoff_initial": 0.1,
        "ws_backoff_max": 0.5,
        # The conftest simulator runs 60x: a 5 s staleness budget is plenty at 50 ms pushes.
        "stale_after": 2.0,
    }
    values.update(overrides)
    return Settings(**values)
