"""The loop-lag sampler measures real blocking and reports it per heartbeat period."""

from __future__ import annotations

import asyncio
import time

from laptop_agents.metrics import Metrics
from laptop_agents.session.looplag import LoopLagSampler


def test_percentile_and_mark() -> None:
    sampler = LoopLagSampler()
    assert sampler.percentile(99) == 0.0
    for lag in [0.001] * 98 + [0.2, 0.5]:
        sampler.record(lag)
    assert sampler.percentile(50) == 0.001
    assert sampler.percentile(100) == 0.5
    assert sampler.take_max_since_mark() == 0.5
    assert sampler.take_max_since_mark() == 0.0  # a new heartbeat period starts clean
    sampler.record(-0.01)  # a timer that fired early is not negative lag
    assert sampler.last == 0.0


async def test_blocking_the_loop_shows_up_as_lag() -> None:
    metrics = Metrics()
    sampler = LoopLagSampler(interval=0.01, metrics=metrics)
    task = asyncio.create_task(sampler.run())
    try:
        await asyncio.sleep(0.05)
        end = time.perf_counter() + 0.15
        while time.perf_counter() < end:  # deliberately block the loop (test code only)
            pass
        await asyncio.sleep(0.05)
    finally:
        task.cancel()
    assert sampler.recent_max() >= 0.1
    assert metrics.loop_lag._value.get() >= 0.0
