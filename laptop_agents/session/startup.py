"""A stop request during start-up (trading rules or warm-up over a bad network) ends it at
once: the daemon exits cleanly within its shutdown budget instead of after the retries."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable
from typing import Any, TypeVar

T = TypeVar("T")


class StoppedDuringStartup(Exception):
    """The stop event fired before start-up finished; the caller exits cleanly (0)."""


async def until_stopped(awaitable: Awaitable[T], stop: asyncio.Event) -> T:
    """Await ``awaitable`` unless ``stop`` fires first: then cancel it and raise
    :class:`StoppedDuringStartup`. A result that is ready wins over a simultaneous stop."""
    work: asyncio.Future[T] = asyncio.ensure_future(awaitable)
    waiter = asyncio.ensure_future(stop.wait())
    pending: set[asyncio.Future[Any]] = {work, waiter}
    try:
        await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        if not work.done():
            work.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await work
    if work.cancelled() or not work.done():
        raise StoppedDuringStartup
    return work.result()


__all__ = ["StoppedDuringStartup", "until_stopped"]
