"""Values as a person reads them: epoch milliseconds as UTC times, prices and quantities at the
instrument's precision. Used by the log lines and the CLI's tables."""

from __future__ import annotations

import time
from decimal import Decimal, InvalidOperation


def utc(ms: int) -> str:
    """``2023-11-14 22:13:20.123Z``: an epoch-ms timestamp as a UTC time."""
    return time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(ms // 1000)) + f".{ms % 1000:03d}Z"


def stamp(ms: int | None) -> str:
    """An epoch-ms timestamp with its UTC time beside it: ``1700000000123 (2023-11-14
    22:13:20.123Z)``; the raw number stays for grep and the journal."""
    return "none" if ms is None else f"{ms} ({utc(ms)})"


def at_step(value: Decimal | None, step: Decimal) -> str:
    """``value`` with the decimal places of ``step`` (a tick or lot size): 67012.5 at a tick of
    0.1 is ``67012.5``, 0.01 BTC at a lot of 0.0001 is ``0.0100``. An unreadable value or
    step is shown as it is."""
    if value is None:
        return "none"
    try:
        places = max(0, -step.normalize().as_tuple().exponent)  # type: ignore[operator]
        return f"{value:.{places}f}"
    except (InvalidOperation, TypeError, ValueError):
        return str(value)


__all__ = ["at_step", "stamp", "utc"]
