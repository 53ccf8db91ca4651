"""Fixtures shared by every test area: a running simulator on loopback and isolated settings."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

# No developer's .env or LA_* environment may leak into the tests.
for _name in list(os.environ):
    if _name.startswith("LA_"):
        del os.environ[_name]


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run every test in an empty directory so no stray `.env` is read; state goes to tmp."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    yield


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
