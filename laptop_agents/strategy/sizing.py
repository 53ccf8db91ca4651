"""Position sizing: risk a fraction of the broker's current equity, then apply the caps.

``risk_pct`` is a FRACTION everywhere (0.01 = 1 %). The original project mixed percent and
fraction units and sized from a fixed equity; this function refuses anything that is not a
fraction and always takes the equity it is given.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from decimal import ROUND_CEILING, ROUND_FLOOR, Decimal

from laptop_agents.config import Settings
from laptop_agents.models import Instrument

# A market entry fills at the ask/bid plus slippage, not at the close it is sized on, and the
# broker checks the notional/leverage caps at that fill price: size it this fraction under them.
MARKET_CAP_HEADROOM = Decimal("0.005")


@dataclass(frozen=True, slots=True)
class Costs:
    """What a round trip costs besides the price move, so a stop-out loses the stated risk:
    the entry's fee rate (taker for a market order, maker for a resting limit), the exit's
    (a stop is a market order: taker), slippage on market fills, the tick they round to, and
    the margin leverage (the entry's margin plus fee must fit the equity)."""

    entry_fee: Decimal = Decimal(0)
    exit_fee: Decimal = Decimal(0)
    slippage_bps: Decimal = Decimal(0)
    market_entry: bool = False
    leverage: Decimal | None = None

    def fills(self, entry: Decimal, stop: Decimal, tick: Decimal) -> tuple[Decimal, Decimal]:
        """Where the broker fills the entry and a stop-out at ``stop``: against us by the
        slippage, rounded to the tick against us (as paper/pricing.py fills)."""
        slip = self.slippage_bps / Decimal(10000)
        long = stop < entry
        if self.market_entry:
            entry = round_to_tick(entry * (1 + slip) if long else entry * (1 - slip), tick,
                                  up=long)
        stop = round_to_tick(stop * (1 - slip) if long else stop * (1 + slip), tick,
                             up=not long)
        return entry, stop

    def loss_per_unit(self, entry: Decimal, stop: Decimal, tick: Decimal) -> Decimal:
        """What one unit loses when stopped out: the move between the fills plus both fees."""
        entry_fill, stop_fill = self.fills(entry, stop, tick)
        return (abs(entry_fill - stop_fill) + entry_fill * self.entry_fee
                + stop_fill * self.exit_fee)


@dataclass(frozen=True, slots=True)
class AccountRules:
    """What the paper account risks, charges and allows, as a strategy sizes against it.

    Built once at start-up from the LA_* settings of the same names (loader.account_rules) and
    handed to the strategy's constructor: it is the same for every decision, unlike the equity,
    which the context carries. ``risk_pct`` is a fraction (0.01 = 1 %).
    """

    risk_pct: Decimal
    maker_fee: Decimal
    taker_fee: Decimal
    slippage_bps: Decimal
    leverage: Decimal  # isolated-margin leverage: the entry's margin plus fee fit the equity
    max_notional: Decimal
    max_leverage: Decimal  # notional / equity cap
    max_position_qty: Decimal
    min_notional: Decimal
    max_total_notional: Decimal = Decimal(0)  # all symbols together (0 = no limit)

    def costs(self, order_type: str) -> Costs:
        """The round trip's costs for an entry of ``order_type``: a market entry pays the
        taker fee and slippage, a resting limit the maker fee; the stop-out is a market exit."""
        market = order_type == "market"
        return Costs(entry_fee=self.taker_fee if market else self.maker_fee,
                     exit_fee=self.taker_fee, slippage_bps=self.slippage_bps,
                     market_entry=market, leverage=self.leverage)


def account_rules(settings: Settings) -> AccountRules:
    """The account's rules from the LA_* settings of the same names."""
    return AccountRules(**{f.name: getattr(settings, f.name) for f in fields(AccountRules)})


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
    costs: Costs | None = None,
    available: Decimal | None = None,
    notional_room: Decimal | None = None,
) -> SizeResult:
    """qty = equity x risk_pct / loss per unit, capped, floored to the lot step, then checked.

    The loss per unit is ``|entry - stop|`` without ``costs``; with them it is the distance
    between the slipped, tick-rounded fills plus both fees, so a stop-out at the stop loses
    ``risk_pct`` of ``equity`` (to within the lot step's rounding).

    Caps (the smallest wins): ``max_notional / cap_price``,
    ``equity x min(max_leverage, instrument.max_leverage) / cap_price`` and ``max_qty``.
    ``cap_price`` defaults to ``entry``; a market entry passes a price above it, because it
    fills at the ask plus slippage and the broker checks the caps at that fill price. With
    other positions open the margin and fee fit ``available``, the notional ``notional_room``.
    """
    check_fraction(risk_pct)
    distance = abs(entry - stop)
    if entry <= 0 or distance == 0:
        return SizeResult(Decimal(0), "invalid entry/stop: zero risk distance")
    if equity <= 0:
        return SizeResult(Decimal(0), f"no equity to risk ({equity})")
    costs = costs or Costs()
    per_unit = costs.loss_per_unit(entry, stop, instrument.tick_size) if costs != Costs() else (
        distance)
    qty = equity * risk_pct / per_unit
    capped_by = None
    leverage = min(max_leverage, Decimal(instrument.max_leverage))
    at = entry if cap_price is None else max(cap_price, entry)
    caps = [("max_notional", max_notional / at), ("max_leverage", equity * leverage / at)]
    if costs.leverage is not None:  # the isolated margin plus the entry fee fit the balance
        free = equity if available is None else min(equity, max(available, Decimal(0)))
        caps.append(("margin", free / (at * (1 / costs.leverage + costs.entry_fee))))
    if notional_room is not None:  # what the portfolio's notional cap leaves
        caps.append(("max_total_notional", max(notional_room, Decimal(0)) / at))
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
