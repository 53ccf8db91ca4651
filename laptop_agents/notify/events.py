"""The notification events, LA_NOTIFY_EVENTS, and the notice one hook publishes."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# In the order docs/notifications.md describes them.
EVENTS: tuple[str, ...] = (
    "entry",  # an entry order filled
    "exit",  # a position closed (stop, target, manual, shutdown...), with its PnL
    "liquidation",  # a position liquidated (instead of "exit")
    "funding",  # a funding settlement applied to the open position
    "paused",  # entries paused by the operator (API or CLI)
    "resumed",  # that pause lifted
    "daily_loss_cap",  # the daily loss cap was hit: no new entries until the next UTC day
    "feed_lost",  # the market-data connection was lost
    "feed_recovered",  # ... and is back (reconnected, backfilled)
    "price_suspect",  # the price guard has quarantined every quote for longer than stale_after
    "started",  # the daemon is warmed up and trading
    "stopped",  # the daemon stopped
)
ALL = "all"


def parse_events(text: str) -> frozenset[str]:
    """``all`` (or blank) or comma-separated event names; ValueError names an unknown one."""
    names = [name.strip().lower() for name in text.split(",") if name.strip()]
    if not names or names == [ALL]:
        return frozenset(EVENTS)
    unknown = [name for name in names if name not in EVENTS]
    if unknown:
        raise ValueError(f"unknown event {unknown[0]!r}; known: {ALL}, {', '.join(EVENTS)}")
    return frozenset(names)


@dataclass(frozen=True, slots=True)
class Notice:
    """One event to send: rendered (JSON or Telegram text) only by the delivery task.

    ``fields`` hold engine values as they are (Decimals, enums): the render turns them into
    JSON, so the hot path does no formatting."""

    event: str
    ts: int  # exchange time, epoch ms
    symbol: str | None
    fields: dict[str, Any] = field(default_factory=dict)


__all__ = ["ALL", "EVENTS", "Notice", "parse_events"]
