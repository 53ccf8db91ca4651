"""The engine against the simulator posts its entry and exit to a real receiver on loopback,
and a receiver that does not answer never delays a stop exit."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path
from typing import Any

from tests.notify.receiver import receiving
from tests.session.helpers import QTY, AlwaysEnter
from tests.session.test_engine_sim import running
from tests.support.waiting import wait_until


async def test_entry_and_exit_reach_a_held_receiver_without_delaying_the_exit(
        sim: Any, tmp_path: Path) -> None:
    strategy = AlwaysEnter()
    async with receiving(release=asyncio.Event()) as receiver:
        assert receiver.release is not None
        async with running(sim, tmp_path, strategy, webhook_url=receiver.url(),
                           notify_events="started,entry,exit,stopped") as runner:
            await wait_until(lambda: runner.broker.position is not None, 5, "entry")
            strategy.armed.clear()
            stop = runner.broker.position.stop
            sim.script_price(stop - Decimal("5"), stop - Decimal("4.9"), pushes=1)
            await wait_until(lambda: runner.broker.position is None, 5, "stop exit")
            # The receiver has answered nothing yet: the exit did not wait for it.
            assert receiver.answered == 0 and len(receiver.requests) == 1
            assert runner.metrics.watchdog_reaction._sum.get() < 0.05
            receiver.release.set()
            await receiver.wait_for(3)
        # Stopping sent "stopped" (and flushed) before the runner finished.
        assert receiver.events() == ["started", "entry", "exit", "stopped"]
    started, entry, exit_, _ = (r.body for r in receiver.requests)
    assert started["source"] == "sim" and started["strategy"] == "always-enter"
    assert (entry["symbol"], entry["side"], entry["qty"]) == ("BTCUSDT", "buy", str(QTY))
    assert entry["daemon"].endswith(str(tmp_path / "data"))
    assert exit_["reason"] == "stop" and Decimal(exit_["pnl"]) < 0
    assert Decimal(exit_["price"]) < Decimal(str(stop)) and exit_["side"] == "long"
    assert exit_["time"].endswith("Z") and isinstance(exit_["ts"], int)
    assert runner.metrics.notifications_sent.labels("exit")._value.get() == 1
