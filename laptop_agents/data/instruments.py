"""Is the configured symbol tradable? One REST question at start-up, one line when it is not.

Only a contract whose ``symbolStatus`` is ``OPEN`` and whose ``isApiSupported`` is true is
tradable (protocol reference 6.5 and its 2026-12 addendum; ccxt decides the same). An unknown
or untradable symbol is a bad setting, not a network problem: a ConfigError (exit 78) that
names the symbol, so a service manager does not restart the daemon in a loop.
"""

from __future__ import annotations

import difflib

import aiohttp

from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.data.providers.bitunix_rest_parse import BitunixApiError
from laptop_agents.errors import ConfigError
from laptop_agents.models import Instrument

# "Market not exists" and "This futures is not supported" (live: "this Futures is not allowed
# to trade."): what a filtered request may answer for a symbol the exchange does not list.
UNKNOWN_SYMBOL_CODES = frozenset({20001, 20015})
MAX_LISTED = 10  # tradable symbols named in the message; live lists ~760


def untradable_reason(instrument: Instrument) -> str:
    reasons = []
    if instrument.status != "OPEN":
        reasons.append(f"status {instrument.status}")
    if not instrument.api_supported:
        reasons.append("isApiSupported false")
    return ", ".join(reasons)


def check_leverage(leverage: object, instrument: Instrument) -> None:
    """LA_LEVERAGE above the contract's ``maxLeverage`` is a bad setting (exit 78)."""
    if leverage is not None and float(str(leverage)) > instrument.max_leverage:
        raise ConfigError(
            f"invalid setting LA_LEVERAGE: {leverage} exceeds {instrument.symbol}'s "
            f"maxLeverage {instrument.max_leverage}")


def known_symbols(symbol: str, listed: dict[str, Instrument]) -> str:
    """The tradable symbols, or (when there are many) the ones that look like ``symbol``."""
    tradable = sorted(name for name, instrument in listed.items() if instrument.tradable)
    if len(tradable) <= MAX_LISTED:
        return ", ".join(tradable) or "none"
    near = difflib.get_close_matches(symbol, tradable, n=5, cutoff=0.6)
    shown = near or tradable[:MAX_LISTED]
    return f"{', '.join(shown)}, … ({len(tradable)} tradable)"


async def tradable_instruments(rest: BitunixRestClient, symbols: tuple[str, ...],
                               setting: str = "LA_SYMBOLS") -> dict[str, Instrument]:
    """The trading rules of every symbol in one REST question; ConfigError naming ``setting``
    for the first unknown or untradable one (asked again alone, for its own message)."""
    try:
        listed = await rest.trading_pairs(list(symbols))
    except BitunixApiError as error:
        if error.code not in UNKNOWN_SYMBOL_CODES:
            raise
        listed = {}
    found: dict[str, Instrument] = {}
    for symbol in symbols:
        instrument = listed.get(symbol)
        if instrument is None or not instrument.tradable:
            instrument = await tradable_instrument(rest, symbol, setting)
        found[symbol] = instrument
    return found


async def tradable_instrument(rest: BitunixRestClient, symbol: str,
                              setting: str = "LA_SYMBOL") -> Instrument:
    """The trading rules of ``symbol``; ConfigError when it is unknown or not tradable.

    Network errors propagate unchanged (the caller decides whether to fall back).
    """
    symbol = symbol.upper()
    where = rest.source
    try:
        instrument = (await rest.trading_pairs([symbol])).get(symbol)
    except BitunixApiError as error:
        if error.code not in UNKNOWN_SYMBOL_CODES:
            raise
        instrument = None
    if instrument is None:
        try:
            known = known_symbols(symbol, await rest.trading_pairs())
        except (BitunixApiError, aiohttp.ClientError, TimeoutError):
            known = "(the list could not be fetched)"
        raise ConfigError(
            f"invalid setting {setting}: {symbol} is unknown on {where}; known: {known}")
    if not instrument.tradable:
        raise ConfigError(f"invalid setting {setting}: {symbol} is not tradable on {where} "
                          f"({untradable_reason(instrument)})")
    return instrument
