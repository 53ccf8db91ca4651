"""Wait for a condition owned by another task or process, with a bound (never a bare sleep used
as synchronisation: the sleep here only spaces out the checks)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any


async def wait_until(predicate: Callable[[], Any], limit: float = 5.0,
                     what: str = "the condition", interval: float = 0.005) -> Any:
    """Check ``predicate`` until truthy (returned) or fail after ``limit`` seconds."""
    return await wait_until_async(_now(predicate), limit, what, interval)


async def wait_until_async(check: Callable[[], Awaitable[Any]], limit: float = 5.0,
                           what: str = "the condition", interval: float = 0.05) -> Any:
    """The same for a check that awaits (an HTTP read of another process: checked every
    50 ms by default, so the check itself does not load the process it watches)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + limit
    while True:
        value = await check()
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out after {limit}s waiting for {what}")
        await asyncio.sleep(interval)


def wait_until_sync(predicate: Callable[[], Any], limit: float = 5.0,
                    what: str = "the condition", interval: float = 0.1) -> Any:
    """The same without an event loop (a test that drives processes from plain threads)."""
    deadline = time.monotonic() + limit
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {limit}s waiting for {what}")
        time.sleep(interval)


def _now(predicate: Callable[[], Any]) -> Callable[[], Awaitable[Any]]:
    async def check() -> Any:
        return predicate()

    return check
