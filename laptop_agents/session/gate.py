"""The trading gate: may the strategy open a new position right now, and may exits run?

New entries need every pause reason to be clear: manual pause (persisted in the journal so a
restart stays paused), feed disconnected, stale prices, suspect prices (the price guard has
quarantined every quote for longer than ``stale_after``), warm-up incomplete, the broker's daily
loss cap, the kill-switch file, and shutdown. Exits only need fresh prices: a paused daemon must
still be able to close a position at its stop.

The gate is owned by the event loop (only the loop thread calls it), so it needs no locks. It is
evaluated on demand; :meth:`TradingGate.refresh` is called on a timer to log transitions.
"""

from __future__ import annotations

import enum
import time
from collections.abc import Callable
from pathlib import Path
from typing import Protocol, TypedDict

from loguru import logger


class PauseReason(enum.StrEnum):
    MANUAL = "manual"
    FEED_DISCONNECTED = "feed_disconnected"
    STALE_PRICES = "stale_prices"
    PRICE_SUSPECT = "price_suspect"
    WARMUP = "warmup"
    DAILY_LOSS_CAP = "daily_loss_cap"
    KILL_SWITCH = "kill_switch"
    SHUTTING_DOWN = "shutting_down"


class GateSnapshot(TypedDict):
    """The gate as /status shows it (session/views.py GateView reads it)."""

    trading_allowed: bool
    exits_allowed: bool
    reasons: list[str]
    details: dict[str, str]


class PauseStore(Protocol):
    """Where the manual pause survives a restart (the journal)."""

    def set_pause(self, paused: bool, reason: str | None) -> None: ...


class TradingGate:
    def __init__(
        self,
        *,
        stale_after: float,
        kill_file: Path | None = None,
        store: PauseStore | None = None,
        manual_pause: tuple[bool, str | None] = (False, None),
        risk_reason: Callable[[], str | None] | None = None,
        suspect_for: Callable[[], float] | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._stale_after = stale_after
        self._kill_file = kill_file
        self._store = store
        self._risk_reason = risk_reason
        self._suspect_for = suspect_for  # seconds the price guard has quarantined every quote
        self._monotonic = monotonic
        paused, reason = manual_pause
        self._manual: str | None = (reason or "paused") if paused else None
        # The feed starts "disconnected" until the provider reports CONNECTED or a tick arrives.
        self._feed_connected = False
        self._feed_detail = "not connected yet"
        self._last_tick_at: float | None = None
        self._warm = False
        self._warm_detail = "history not loaded"
        self._shutting_down = False
        self._last_logged: frozenset[PauseReason] | None = None

    # --- inputs (called by the engine on the loop) ----------------------------------------
    def pause(self, reason: str | None) -> None:
        self._manual = reason or "paused by operator"
        if self._store is not None:
            self._store.set_pause(True, self._manual)
        logger.warning("entries paused manually: {}", self._manual)

    def resume(self) -> None:
        self._manual = None
        if self._store is not None:
            self._store.set_pause(False, None)
        logger.info("manual pause lifted")

    def feed_up(self) -> None:
        self._feed_connected = True
        self._feed_detail = ""

    def feed_down(self, detail: str) -> None:
        self._feed_connected = False
        self._feed_detail = detail or "connection lost"

    def tick_arrived(self, at: float | None = None) -> None:
        self._last_tick_at = self._monotonic() if at is None else at

    def mark_stale(self) -> None:
        """Forget when the last tick came (after a sleep: nothing seen before it is fresh)."""
        self._last_tick_at = None

    def set_warm(self, warm: bool, detail: str = "") -> None:
        self._warm = warm
        self._warm_detail = detail

    def shutting_down(self) -> None:
        self._shutting_down = True

    # --- queries ----------------------------------------------------------------------------
    @property
    def manual_pause(self) -> str | None:
        return self._manual

    @property
    def feed_connected(self) -> bool:
        return self._feed_connected

    def last_tick_age(self) -> float | None:
        if self._last_tick_at is None:
            return None
        return max(0.0, self._monotonic() - self._last_tick_at)

    def prices_fresh(self) -> bool:
        age = self.last_tick_age()
        return age is not None and age <= self._stale_after

    def reasons(self) -> dict[PauseReason, str]:
        """Every active pause reason with a human-readable detail, in a fixed order."""
        active: dict[PauseReason, str] = {}
        if self._shutting_down:
            active[PauseReason.SHUTTING_DOWN] = "the daemon is stopping"
        if self._manual is not None:
            active[PauseReason.MANUAL] = self._manual
        if not self._feed_connected:
            active[PauseReason.FEED_DISCONNECTED] = self._feed_detail
        age = self.last_tick_age()
        if age is None:
            active[PauseReason.STALE_PRICES] = "no price received yet"
        elif age > self._stale_after:
            active[PauseReason.STALE_PRICES] = f"last tick {age:.1f}s ago"
        if self._suspect_for is not None:
            suspect = self._suspect_for()
            if suspect > self._stale_after:
                active[PauseReason.PRICE_SUSPECT] = (
                    f"every quote quarantined by the price guard for {suspect:.1f}s"
                )
        if not self._warm:
            active[PauseReason.WARMUP] = self._warm_detail or "warm-up incomplete"
        if self._risk_reason is not None:
            risk = self._risk_reason()
            if risk:
                active[PauseReason.DAILY_LOSS_CAP] = risk
        if self._kill_file is not None and self._kill_file.exists():
            active[PauseReason.KILL_SWITCH] = f"{self._kill_file} exists"
        return active

    def entries_allowed(self) -> bool:
        return not self.reasons()

    def exits_allowed(self) -> bool:
        return self.prices_fresh()

    def refresh(self) -> dict[PauseReason, str]:
        """Evaluate, and log when the set of reasons changes (called on a timer)."""
        active = self.reasons()
        keys = frozenset(active)
        if keys != self._last_logged:
            if keys:
                shown = ", ".join(f"{k.value} ({v})" for k, v in active.items())
                logger.info("trading gate: entries paused: {}", shown)
            else:
                logger.info("trading gate: entries allowed")
            self._last_logged = keys
        return active

    def snapshot(self) -> GateSnapshot:
        active = self.reasons()
        return {
            "trading_allowed": not active,
            "exits_allowed": self.exits_allowed(),
            "reasons": [reason.value for reason in active],
            "details": {reason.value: detail for reason, detail in active.items()},
        }
