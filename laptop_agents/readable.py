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


# Each traded symbol's (tick size, lot step), registered when its trading rules are known
# (session/wiring.py), so a log line shows 67012.5 and 0.0100 rather than the journal's
# 67012.50000000 and 0.01000000. A symbol not registered is shown as it is.
_STEPS: dict[str, tuple[Decimal, Decimal]] = {}
MONEY_PLACES = Decimal("0.0001")  # USDT amounts (PnL, fees, funding) in log lines


def register_steps(symbol: str, tick_size: Decimal, lot_step: Decimal) -> None:
    _STEPS[symbol] = (tick_size, lot_step)


def price(symbol: str, value: Decimal | None) -> str:
    """A price of ``symbol`` at its tick size's precision."""
    steps = _STEPS.get(symbol)
    return at_step(value, steps[0]) if steps else ("none" if value is None else str(value))


def qty(symbol: str, value: Decimal | None) -> str:
    """A quantity of ``symbol`` at its lot step's precision."""
    steps = _STEPS.get(symbol)
    return at_step(value, steps[1]) if steps else ("none" if value is None else str(value))


def money(value: Decimal | None) -> str:
    """A USDT amount to four decimal places."""
    return at_step(value, MONEY_PLACES)


__all__ = ["MONEY_PLACES", "at_step", "money", "price", "qty", "register_steps", "stamp", "utc"]
