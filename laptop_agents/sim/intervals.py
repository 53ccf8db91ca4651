"""The simulator's kline buckets, the calendar ones included.

REST documents ``1m 5m 15m 30m 1h 2h 4h 6h 8h 12h 1d 3d 1w 1M`` (protocol 6.3). The fixed ones
are aligned to the epoch, as the WebSocket's (``models.WS_INTERVAL_MS``). The reference is
silent on week and month boundaries; the simulator's weeks start on Monday 00:00 UTC and its
months are UTC calendar months, as most exchanges' are.
"""

from __future__ import annotations

from datetime import UTC, datetime

from laptop_agents.models import REST_TO_WS_INTERVAL, WS_INTERVAL_MS

DAY_MS = 86_400_000
WEEK_MS = 7 * DAY_MS
_MONDAY_MS = 4 * DAY_MS  # 1970-01-05, the first Monday after the epoch (a Thursday)
WEEK, MONTH = "1week", "1month"
_ALIASES = {"1w": WEEK, "1M": MONTH, WEEK: WEEK, MONTH: MONTH}


def canonical(interval: str) -> str | None:
    """The WebSocket-style name of a REST or WebSocket interval; None if unknown."""
    if interval in _ALIASES:
        return _ALIASES[interval]
    name = REST_TO_WS_INTERVAL.get(interval, interval)
    return name if name in WS_INTERVAL_MS else None


def from_rest(interval: str) -> str | None:
    """The canonical name of an interval in REST spelling (``1m`` … ``1M``); None otherwise."""
    if interval in ("1w", "1M"):
        return _ALIASES[interval]
    return REST_TO_WS_INTERVAL.get(interval)


def floor(interval: str, t_ms: int) -> int:
    """Start of the bucket containing ``t_ms`` (``interval`` canonical)."""
    if interval == WEEK:
        return (t_ms - _MONDAY_MS) // WEEK_MS * WEEK_MS + _MONDAY_MS
    if interval == MONTH:
        day = datetime.fromtimestamp(t_ms // 1000, UTC)
        return _month_ms(day.year, day.month)
    step = WS_INTERVAL_MS[interval]
    return t_ms // step * step


def following(interval: str, start_ms: int) -> int:
    """Start of the bucket after the one starting at ``start_ms``."""
    if interval == MONTH:
        day = datetime.fromtimestamp(start_ms // 1000, UTC)
        return _month_ms(day.year + day.month // 12, day.month % 12 + 1)
    return start_ms + (WEEK_MS if interval == WEEK else WS_INTERVAL_MS[interval])


def preceding(interval: str, start_ms: int) -> int:
    """Start of the bucket before the one starting at ``start_ms``."""
    return floor(interval, start_ms - 1)


def _month_ms(year: int, month: int) -> int:
    return int(datetime(year, month, 1, tzinfo=UTC).timestamp()) * 1000
