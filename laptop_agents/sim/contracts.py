"""The simulated contracts and how the exchange prints their integer prices and sizes.

The market model keeps prices as integers in ticks and sizes as integers in lot steps;
:func:`fmt_scaled` turns them into the exchange's decimal strings.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """Static facts about one simulated contract."""

    symbol: str
    base: str
    quote: str
    price_decimals: int  # quotePrecision: tick = 10**-price_decimals
    size_decimals: int  # basePrecision: lot step = 10**-size_decimals
    start_price: float  # centre of the seeded starting price
    min_trade_volume: str
    max_leverage: int = 125


SPECS: dict[str, SymbolSpec] = {
    "BTCUSDT": SymbolSpec("BTCUSDT", "BTC", "USDT", 1, 4, 65_000.0, "0.0001"),
    "ETHUSDT": SymbolSpec("ETHUSDT", "ETH", "USDT", 2, 3, 3_200.0, "0.001", 100),
}


def fmt_scaled(value: int, decimals: int) -> str:
    """``value * 10**-decimals`` as the exchange prints it: no exponent, no trailing zeros."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if decimals <= 0:
        return f"{sign}{value}"
    whole, frac = divmod(value, 10**decimals)
    frac_text = f"{frac:0{decimals}d}".rstrip("0")
    return f"{sign}{whole}.{frac_text}" if frac_text else f"{sign}{whole}"

