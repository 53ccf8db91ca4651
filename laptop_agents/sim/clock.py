"""Simulated exchange time: ``speed`` simulated seconds pass per wall second."""

from __future__ import annotations

import time


class SimClock:
    """The simulated exchange's own clock. Monotonic; speed changes keep continuity."""

    def __init__(self, start_ms: int, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        self._anchor_sim = start_ms
        self._anchor_wall = time.monotonic()
        self._speed = float(speed)

    @property
    def speed(self) -> float:
        return self._speed

    def now_ms(self) -> int:
        elapsed = time.monotonic() - self._anchor_wall
        return self._anchor_sim + int(elapsed * 1000.0 * self._speed)

    def restart(self, start_ms: int) -> None:
        """Make simulated time ``start_ms`` now (used when the server starts)."""
        self._anchor_sim = start_ms
        self._anchor_wall = time.monotonic()

    def set_speed(self, speed: float) -> None:
        if speed <= 0:
            raise ValueError("speed must be > 0")
        now = self.now_ms()
        self._anchor_sim = now
        self._anchor_wall = time.monotonic()
        self._speed = float(speed)
