"""A plug-in strategy in the real engine (in-process simulator): its declared warm-up sizes
the history and the gate, whatever LA_WARMUP_CANDLES says."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from laptop_agents.strategy.loader import load_strategy
from tests.session.test_engine_sim import running
from tests.support.sim import engine_settings
from tests.support.waiting import wait_until


async def test_long_warm_up_raises_the_history_and_gates_on_it(sim: Any, tmp_path: Path) -> None:
    # slow=200 needs 201 closed candles; the engine keeps 150 by default in these tests
    strategy = load_strategy(engine_settings(sim, tmp_path / "data", strategy="ema_cross",
                                             strategy_params='{"slow": 200}'))
    assert strategy.warmup == 201
    async with running(sim, tmp_path, strategy) as runner:
        assert runner.engine.history.maxlen == 201
        assert len(runner.engine.history) == 201  # all of it over REST at start-up
        status = runner.controller.status()
        assert status.warmup is not None and status.warmup.needed == 201
        assert "warmup" not in status.gate.reasons
        await wait_until(lambda: runner.engine.decisions >= 2, 10, "two decisions")
        assert "EMA9" in runner.engine.last_decision or "market" in runner.engine.last_decision


async def test_short_warm_up_opens_the_gate_below_warmup_candles(sim: Any,
                                                                 tmp_path: Path) -> None:
    strategy = load_strategy(engine_settings(sim, tmp_path / "data", strategy="breakout"))
    async with running(sim, tmp_path, strategy, history_candles=100) as runner:
        assert runner.engine.warmup == 21 < runner.settings.warmup_candles
        assert runner.controller.readiness()[1] == [] or await wait_until(
            lambda: runner.controller.readiness()[0], 5, "ready")
        await wait_until(lambda: runner.engine.decisions >= 1, 10, "a decision")
