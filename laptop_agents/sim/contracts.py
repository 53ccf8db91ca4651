"""The simulated contracts and how the exchange prints their integer prices and sizes.

The market model keeps prices as integers in ticks and sizes as integers in lot steps;
:func:`fmt_scaled` turns them into the exchange's decimal strings. Like Bitunix's
``quotePrecision``/``basePrecision``, a contract's tick is ``10**-price_decimals`` and its lot
step ``10**-size_decimals``.

``SPECS`` holds the well-known Bitunix USDT perpetuals (realistic centre prices, ticks, lots and
leverage caps, not a copy of the live table) and then a generated family ``SIM001USDT`` …
``SIM080USDT`` (:func:`generated_spec`), so that a benchmark can run over 100 symbols.

Every price path is a shared market factor plus the contract's own noise
(``price = beta x factor + idio``, sim/deep.py and sim/market.py): BTCUSDT *is* the factor (its
path is what it always was), every other contract has a ``beta`` to it and an idiosyncratic
volatility ``idio`` (both in units of the factor's volatility).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

FACTOR_SYMBOL = "BTCUSDT"  # the market factor: every other path leans on BTC's
_FACTOR_PRICE = 65_000.0


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
    beta: float = 1.0  # loading on the market factor (BTCUSDT's returns)
    idio: float = 0.0  # own volatility, as a multiple of the factor's

    @property
    def is_factor(self) -> bool:
        return self.symbol == FACTOR_SYMBOL

    @property
    def units(self) -> float:
        """Base units per BTC of notional at the centre price: sizes and volumes scale by it,
        so every contract trades about the same USDT turnover (exactly 1.0 for BTCUSDT)."""
        return _FACTOR_PRICE / self.start_price


def _real(symbol: str, price: float, pd: int, sd: int, lev: int, beta: float,
          idio: float) -> SymbolSpec:
    return SymbolSpec(symbol, symbol.removesuffix("USDT"), "USDT", pd, sd, price,
                      fmt_scaled(1, sd), lev, beta, idio)


# (symbol, centre price, quotePrecision, basePrecision, max leverage, beta, idio)
_REAL = (
    ("ETHUSDT", 3_200.0, 2, 3, 100, 1.1, 0.6),
    ("SOLUSDT", 150.0, 3, 2, 100, 1.4, 0.9),
    ("XRPUSDT", 0.6, 4, 0, 75, 1.2, 1.0),
    ("DOGEUSDT", 0.15, 5, 0, 75, 1.5, 1.1),
    ("BNBUSDT", 580.0, 2, 2, 75, 0.8, 0.6),
    ("ADAUSDT", 0.45, 4, 0, 75, 1.3, 0.9),
    ("AVAXUSDT", 30.0, 3, 1, 75, 1.5, 1.0),
    ("LINKUSDT", 14.0, 3, 1, 75, 1.4, 0.9),
    ("LTCUSDT", 80.0, 2, 2, 75, 1.1, 0.8),
    ("DOTUSDT", 6.5, 3, 1, 75, 1.3, 0.9),
    ("TRXUSDT", 0.12, 5, 0, 50, 0.6, 0.7),
    ("BCHUSDT", 380.0, 2, 2, 75, 1.1, 0.9),
    ("POLUSDT", 0.45, 4, 0, 50, 1.4, 1.0),
    ("NEARUSDT", 5.0, 3, 1, 50, 1.5, 1.1),
    ("ATOMUSDT", 8.0, 3, 1, 50, 1.3, 1.0),
    ("UNIUSDT", 8.0, 3, 1, 50, 1.4, 1.1),
    ("APTUSDT", 9.0, 3, 1, 50, 1.5, 1.1),
    ("ARBUSDT", 0.8, 4, 1, 50, 1.5, 1.1),
    ("OPUSDT", 1.8, 4, 1, 50, 1.5, 1.1),
    ("SUIUSDT", 1.5, 4, 1, 50, 1.6, 1.2),
    ("TONUSDT", 5.5, 3, 1, 50, 0.9, 1.0),
    ("FILUSDT", 4.5, 3, 1, 50, 1.3, 1.0),
    ("ETCUSDT", 22.0, 3, 1, 50, 1.2, 0.9),
    ("1000PEPEUSDT", 0.009, 7, 0, 50, 1.8, 1.5),
    ("1000SHIBUSDT", 0.018, 6, 0, 50, 1.5, 1.1),
    ("WIFUSDT", 2.0, 4, 1, 50, 1.8, 1.6),
    ("INJUSDT", 22.0, 3, 1, 50, 1.6, 1.1),
    ("XLMUSDT", 0.1, 5, 0, 50, 1.0, 0.9),
    ("HBARUSDT", 0.08, 5, 0, 50, 1.2, 1.0),
)
GENERATED_COUNT = 80


def generated_spec(n: int) -> SymbolSpec:
    """``SIM{n:03d}USDT``: a made-up contract, a pure function of ``n``.

    Centre prices are spread log-uniformly over 1e-4 … 1e5 USDT (golden-ratio steps, so any
    prefix of the family covers the range), rounded to three significant digits. The tick is
    about 1e-5 of the price (``quotePrecision = 5 - floor(log10 price)``), the lot step worth
    1-10 USDT (``basePrecision = max(0, floor(log10 price))``); beta 0.5-1.8 and idio 0.5-1.5
    come from ``random.Random(symbol)`` (seeded by the name's SHA-512, stable everywhere).
    """
    symbol = f"SIM{n:03d}USDT"
    exponent = -4.0 + 9.0 * ((n * 0.6180339887498949) % 1.0)
    magnitude = math.floor(exponent)
    price = round(10.0**exponent, 2 - magnitude)
    magnitude = math.floor(math.log10(price))
    pd = min(9, max(0, 5 - magnitude))
    sd = max(0, magnitude)
    rng = random.Random(symbol)
    beta, idio = 0.5 + 1.3 * rng.random(), 0.5 + rng.random()
    return SymbolSpec(symbol, symbol.removesuffix("USDT"), "USDT", pd, sd, price,
                      fmt_scaled(1, sd), 20, round(beta, 3), round(idio, 3))


def fmt_scaled(value: int, decimals: int) -> str:
    """``value * 10**-decimals`` as the exchange prints it: no exponent, no trailing zeros."""
    sign = "-" if value < 0 else ""
    value = abs(value)
    if decimals <= 0:
        return f"{sign}{value}"
    whole, frac = divmod(value, 10**decimals)
    frac_text = f"{frac:0{decimals}d}".rstrip("0")
    return f"{sign}{whole}.{frac_text}" if frac_text else f"{sign}{whole}"


SPECS: dict[str, SymbolSpec] = {
    "BTCUSDT": SymbolSpec("BTCUSDT", "BTC", "USDT", 1, 4, _FACTOR_PRICE, "0.0001"),
    **{row[0]: _real(*row) for row in _REAL},
    **{spec.symbol: spec for spec in map(generated_spec, range(1, GENERATED_COUNT + 1))},
}
