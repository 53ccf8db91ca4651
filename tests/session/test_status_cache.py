"""/status is rendered once per change (session/status_cache.py), never served stale after one."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from laptop_agents.session import status_cache
from laptop_agents.session.async_session import AsyncRunner
from laptop_agents.session.status_cache import StatusCache
from tests.support.sim import engine_settings


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_rendered_again_only_on_a_change_a_sample_or_expiry(
        monkeypatch: pytest.MonkeyPatch) -> None:
    clock = Clock()
    monkeypatch.setattr(status_cache.time, "monotonic", clock)
    renders, samples = [0], [0]

    def render() -> bytes:
        renders[0] += 1
        return str(renders[0]).encode()

    cache = StatusCache(render, lambda: samples[0], max_age=0.05)
    assert [cache.body() for _ in range(5)] == [b"1"] * 5
    cache.invalidate()
    assert cache.body() == b"2" and cache.body() == b"2"
    samples[0] += 1  # a loop-lag sample: lag and every continuous field move on
    assert cache.body() == b"3"
    clock.now += 0.049
    assert cache.body() == b"3"
    clock.now += 0.001
    assert cache.body() == b"4"
    assert renders == [4]


def test_a_render_that_fails_leaves_no_stale_body() -> None:
    calls = [0]

    def render() -> bytes:
        calls[0] += 1
        if calls[0] == 2:
            raise RuntimeError("view exploded")
        return b"ok"

    cache = StatusCache(render, lambda: 0, max_age=3600)
    assert cache.body() == b"ok"
    cache.invalidate()
    with pytest.raises(RuntimeError):
        cache.body()
    assert cache.body() == b"ok" and calls[0] == 3


async def test_engine_state_changes_invalidate_the_status_body(
        sim: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # No continuous refresh at all: only a change may render the body again.
    monkeypatch.setattr(status_cache, "MAX_AGE_S", 3600.0)
    settings = engine_settings(sim, tmp_path / "data")
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session)  # not running: no lag task
        try:
            controller = runner.controller
            renders = [0]
            real_status = controller.status

            def counted(with_symbols: bool = True) -> Any:
                renders[0] += 1
                return real_status(with_symbols)

            monkeypatch.setattr(controller, "status", counted)
            first = controller.status_json()
            assert controller.status_json() is first and renders == [1]
            assert orjson.loads(first)["gate"]["reasons"].count("manual") == 0
            await controller.pause("audit")  # publishes (forced) and answers a fresh status
            body = orjson.loads(controller.status_json())
            assert "manual" in body["gate"]["reasons"]
            await controller.resume()
            assert "manual" not in orjson.loads(controller.status_json())["gate"]["reasons"]
            before = renders[0]
            controller.status_json()
            runner.outcomes.report([], None)  # broker events reported: the hook invalidates
            controller.status_json()
            assert renders[0] == before + 1
            before = renders[0]
            runner.lag.record(0.002)  # a loop-lag sample
            assert orjson.loads(controller.status_json())["loop_lag_ms"]["last"] == 2.0
            assert renders[0] == before + 1
        finally:
            await runner.aclose()
