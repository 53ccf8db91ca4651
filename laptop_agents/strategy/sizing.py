"""Position sizing: risk a fraction of the broker's current equity, then apply the caps.

``risk_pct`` is a FRACTION everywhere (0.01 = 1 %). The original project mixed percent and
fraction units and sized from a fixed equity; this function refuses anything that is not a
fraction and always takes the equity it is given.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from laptop_agents.models import Instrument


@dataclass(frozen=True, slots=True)
class SizeResult:
    qty: Decimal  # 0 when rejected
    reason: str
    capped_by: str | None = None  # "max_notional" | "max_leverage" | "max_position_qty"

    @property
    def ok(self) -> bool:
        return self.qty > 0


def check_fraction(risk_pct: Decimal) -> Decimal:
    if not Decimal(0) < risk_pct < Decimal(1):
        raise ValueError(
            f"risk_pct must be a fraction in (0, 1), e.g. 0.01 for 1 %; got {risk_pct}"
        )
    return risk_pct


def floor_to_step(value: Decimal, step: Decimal) -> Decimal:
    """Largest multiple of ``step`` that is <= ``value`` (value >= 0)."""
    return ((value / step).to_integral_value(rounding=ROUND_FLOOR) * step).quantize(step)


def round_to_tick(price: Decimal, tick: Decimal, *, up: bool) -> Decimal:
    """``price`` on the tick grid, rounded up (ceil) or down (floor)."""
    rounding = ROUND_CEILING if up else ROUND_FLOOR
    return ((price / tick).to_integral_value(rounding=rounding) * tick).quantize(tick)


def position_size(
    *,
    equity: Decimal,
    risk_pct: Decimal,
    entry: Decimal,
    stop: Decimal,
    instrument: Instrument,
    max_notional: Decimal,
    max_leverage: Decimal,
    min_notional: Decimal,
    max_qty: Decimal | None = None,
    cap_price: Decimal | None = None,
) -> SizeResult:
    """qty = equity x risk_pct / |entry - stop|, capped, floored to the lot step, then checked.

    Caps (the smallest wins): ``max_notional / cap_price``,
    ``equity x min(max_leverage, instrument.max_leverage) / cap_price`` and ``max_qty``.
    ``cap_price`` defaults to ``entry``; a market entry passes a price above it, because it
    fills at the ask plus slippage and the broker checks the caps at that fill price.
    """
    check_fraction(risk_pct)
    distance = abs(entry - stop)
    if entry <= 0 or distance == 0:
        return SizeResult(Decimal(0), "invalid entry/stop: zero risk distance")
    if equity <= 0:
        return SizeResult(Decimal(0), f"no equity to risk ({equity})")
    qty = equity * risk_pct / distance
    capped_by = None
    leverage = min(max_leverage, Decimal(instrument.max_leverage))
    at = entry if cap_price is None else max(cap_price, entry)
    caps = [("max_notional", max_notional / at), ("max_leverage", equity * leverage / at)]
    if max_qty is not None:
        caps.append(("max_position_qty", max_qty))
    for name, cap in caps:
        if cap < qty:
            qty, capped_by = cap, name
    qty = floor_to_step(qty, instrument.lot_step)
    if qty < instrument.min_qty or qty <= 0:
        return SizeResult(Decimal(0), f"size {qty} below the minimum quantity {instrument.min_qty}")
    notional = qty * entry
    if notional < min_notional:
        return SizeResult(Decimal(0), f"notional {notional:.2f} below min_notional {min_notional}")
    note = f" (capped by {capped_by})" if capped_by else ""
    return SizeResult(qty, f"qty {qty} risks {risk_pct * 100}% of {equity:.2f}{note}", capped_by)
