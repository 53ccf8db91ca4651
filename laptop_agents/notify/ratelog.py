"""Log lines about a dead receiver, at most one per key per period (with how many were not)."""

from __future__ import annotations

import time
from collections.abc import Callable

from loguru import logger


class RateLimitedLog:
    def __init__(self, every: float, monotonic: Callable[[], float] = time.monotonic) -> None:
        self._every = every
        self._monotonic = monotonic
        self._last: dict[str, float] = {}
        self._quiet: dict[str, int] = {}

    def warning(self, key: str, message: str) -> bool:
        """Log ``message`` (already free of secrets) unless ``key`` was logged within the
        period; returns whether it was logged."""
        now = self._monotonic()
        last = self._last.get(key)
        if last is not None and now - last < self._every:
            self._quiet[key] = self._quiet.get(key, 0) + 1
            return False
        self._last[key] = now
        quiet = self._quiet.pop(key, 0)
        more = f" ({quiet} more like it not logged in the last {self._every:g} s)" if quiet else ""
        logger.warning("{}{}", message, more)
        return True


__all__ = ["RateLimitedLog"]
