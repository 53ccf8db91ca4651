"""Per-symbol strategy settings: the same strategy for every symbol, or an override per symbol.

``LA_STRATEGY`` and ``LA_STRATEGY_PARAMS`` apply to every symbol of ``LA_SYMBOLS``. A symbol
may override either with ``LA_STRATEGY__<SYMBOL>`` and ``LA_STRATEGY_PARAMS__<SYMBOL>`` (in
the environment or the ``.env`` file, as every setting): e.g. ``LA_STRATEGY__ETHUSDT=breakout``
and ``LA_STRATEGY_PARAMS__ETHUSDT={"lookback": 30}``. An override naming a symbol that is not
traded, or one that does not load, fails at start-up naming its setting (exit 78).
docs/symbols.md has the whole form.

Every symbol gets its own strategy instance: an instance may keep caches (incremental
indicators) that follow one symbol's candles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from dotenv import dotenv_values

from laptop_agents.config import ENV_PREFIX, Settings
from laptop_agents.errors import ConfigError
from laptop_agents.strategy.base import Strategy
from laptop_agents.strategy.loader import load_strategy

STRATEGY_KEY, PARAMS_KEY = f"{ENV_PREFIX}STRATEGY__", f"{ENV_PREFIX}STRATEGY_PARAMS__"


def overrides(environ: Mapping[str, str | None] | None = None,
              env_file: Path = Path(".env")) -> dict[str, dict[str, str]]:
    """{symbol: {"strategy": ..., "strategy_params": ...}} from the environment (which wins)
    and the ``.env`` file."""
    found: dict[str, dict[str, str]] = {}
    sources = [dotenv_values(env_file) if env_file.is_file() else {},
               dict(os.environ) if environ is None else environ]
    for source in sources:
        for key, value in source.items():
            upper = key.upper()
            for prefix, field in ((PARAMS_KEY, "strategy_params"), (STRATEGY_KEY, "strategy")):
                if upper.startswith(prefix) and value is not None:
                    found.setdefault(upper[len(prefix):], {})[field] = value
                    break
    return found


def settings_for(settings: Settings, symbol: str,
                 per_symbol: Mapping[str, Mapping[str, str]]) -> Settings:
    """``settings`` as ``symbol`` trades with them: its symbol, and its strategy overrides."""
    update: dict[str, object] = {"symbol": symbol, **per_symbol.get(symbol, {})}
    return settings.model_copy(update=update)


def _renamed(error: ConfigError, symbol: str) -> ConfigError:
    """The loader names LA_STRATEGY(_PARAMS); an override's failure names the override."""
    text = str(error).replace(f"{ENV_PREFIX}STRATEGY_PARAMS", PARAMS_KEY + symbol, 1)
    if PARAMS_KEY not in text:
        text = text.replace(f"{ENV_PREFIX}STRATEGY", STRATEGY_KEY + symbol, 1)
    return ConfigError(text)


def load_strategies(settings: Settings,
                    per_symbol: Mapping[str, Mapping[str, str]] | None = None
                    ) -> dict[str, Strategy]:
    """One strategy per traded symbol, each built and checked (ConfigError: exit 78)."""
    per_symbol = overrides() if per_symbol is None else per_symbol
    traded = settings.trade_symbols
    unknown = sorted(set(per_symbol) - set(traded))
    if unknown:
        names = ", ".join(f"{STRATEGY_KEY}{s} / {PARAMS_KEY}{s}" for s in unknown)
        raise ConfigError(f"invalid setting {names}: not a traded symbol (LA_SYMBOLS is "
                          f"{','.join(traded)})")
    strategies: dict[str, Strategy] = {}
    for symbol in traded:
        try:
            strategies[symbol] = load_strategy(settings_for(settings, symbol, per_symbol))
        except ConfigError as error:
            raise _renamed(error, symbol) if symbol in per_symbol else error from None
    return strategies


__all__ = ["load_strategies", "overrides", "settings_for"]
