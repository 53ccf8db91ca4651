"""Wait for a condition owned by another task, with a bound (never a bare sleep-as-sync)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable


async def until(predicate: Callable[[], object], within: float = 5.0) -> None:
    async with asyncio.timeout(within):
        while not predicate():  # noqa: ASYNC110 - the state has no event of its own to await
            await asyncio.sleep(0.005)
