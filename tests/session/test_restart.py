"""SIGTERM mid-trade in a real `python -m laptop_agents run` process, then a restart.

The first daemon restores a journaled open position, is paused over its HTTP API and stopped
with SIGTERM (exit 0 within 5 s, the position kept). A second engine on the same data
directory is still paused, has the position back, and the first tick that crosses its stop
closes it: exits work while entries are paused.
"""

from __future__ import annotations

import asyncio
import re
import signal
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp

from laptop_agents.models import Side
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.session.wiring import journal_path
from laptop_agents.storage.journal import Journal
from laptop_agents.strategy.base import OrderIntent
from tests.session.test_engine_sim import running
from tests.support.daemon import DaemonProcess
from tests.support.sim import engine_settings
from tests.support.waiting import wait_until

TOKEN = "engine-test-token"
ROOT = Path(__file__).resolve().parents[2]


def seed_open_position(sim: Any, data_dir: Path) -> Decimal:
    """Journal a long position whose stop/target are far from any price the sim will reach."""
    settings = engine_settings(sim, data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(journal_path(settings))
    broker = PaperBroker(settings, sim.instrument(), journal)
    tick = sim.current_tick()
    stop = (tick.bid * Decimal("0.9")).quantize(Decimal("0.1"))  # inside the 5x liquidation price
    target = (tick.bid * Decimal("1.1")).quantize(Decimal("0.1"))
    intent = OrderIntent(side=Side.LONG, order_type="market", qty=Decimal("0.01"),
                         entry=tick.ask, stop=stop, target=target, setup="seeded",
                         reason="test", atr=Decimal("10"))
    result = broker.submit(intent, tick, sim.clock.now_ms())
    assert result.accepted, result
    assert broker.position is not None
    journal.close()
    return stop


async def test_sigterm_keeps_position_and_pause_then_restart_closes_at_stop(
        sim: Any, tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    stop_price = seed_open_position(sim, data_dir)
    with DaemonProcess(data_dir, TOKEN, env={"LA_HISTORY_CANDLES": "120"}) as daemon:
        base = await asyncio.to_thread(daemon.url, 30)
        await asyncio.to_thread(daemon.wait_for, r"ready: API listening", 20)
        async with aiohttp.ClientSession() as http:
            async with http.get(f"{base}/status") as response:
                status = await response.json()
            assert status["position"]["side"] == "long"
            assert status["position"]["stop"] == str(stop_price)
            assert status["feed"]["state"] == "connected"
            async with http.post(f"{base}/pause", json={"reason": "before restart"},
                                 headers={"Authorization": f"Bearer {TOKEN}"}) as response:
                assert response.status == 200, await response.text()
                paused = await response.json()
            assert "manual" in paused["gate"]["reasons"]
        code, elapsed = await asyncio.to_thread(daemon.signal_and_wait, signal.SIGTERM)
    log = "".join(daemon.lines)
    assert code == 0, log[-3000:]
    assert elapsed < 5
    assert "open position kept" in log
    assert "engine stopped" in log
    # The start-up banner: source, symbol, data directory and every task with its period.
    assert f"source=sim symbol=BTCUSDT interval=1min data_dir={data_dir}" in log
    for task in ("market_data", "strategy", "watchdog", "heartbeat", "position_sync"):
        assert re.search(rf"task {task}\s+\S", log), task

    journal = Journal(journal_path(engine_settings(sim, data_dir)))
    kept = journal.load_position("BTCUSDT")
    assert journal.pause_state() == (True, "before restart")
    journal.close()
    assert kept is not None and kept.stop == stop_price

    async with running(sim, tmp_path) as runner:
        assert runner.broker.position == kept
        # /metrics shows the restored position before any broker event happened.
        assert runner.metrics.registry.get_sample_value(
            "la_position_size", {"symbol": "BTCUSDT"}) == float(kept.qty)
        assert runner.controller.status().gate.details["manual"] == "before restart"
        # well below the stop, so the walk that resumes from there stays below it
        sim.script_price((stop_price * Decimal("0.99")).quantize(Decimal("0.1")), pushes=1)
        await wait_until(lambda: runner.broker.position is None, 15, "stop exit after restart")
        trades = runner.journal.trades(10, None)
    assert [t.exit_reason for t in trades] == ["stop"]
    assert trades[0].exit_price < stop_price


