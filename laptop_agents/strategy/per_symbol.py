"""Per-symbol settings: the same strategy and limits for every symbol, or an override per symbol.

Every setting applies to every symbol of ``LA_SYMBOLS``. A few may be overridden for one
symbol with ``LA_<SETTING>__<SYMBOL>`` (in the environment or the ``.env`` file, as every
setting): the strategy (``LA_STRATEGY__ETHUSDT=breakout``), its parameters
(``LA_STRATEGY_PARAMS__ETHUSDT={"lookback": 30}``), the position cap in the contract's own
base coin (``LA_MAX_POSITION_QTY__DOGEUSDT=50000``), the notional cap and the leverage. An
override naming a symbol that is not traded, or a bad value, fails at start-up naming its
setting (exit 78). docs/symbols.md has the whole form.

``LA_MAX_POSITION_QTY`` is in base coin (its default, 1, is one bitcoin): it caps the contract
``LA_SYMBOL`` names. Another symbol has no base-coin cap unless it is given one here; the
notional, leverage, margin and portfolio limits hold for every symbol.

Every symbol gets its own strategy instance: an instance may keep caches (incremental
indicators) that follow one symbol's candles.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from dotenv import dotenv_values
from pydantic import TypeAdapter, ValidationError

from laptop_agents.config import ENV_PREFIX, Settings
from laptop_agents.errors import ConfigError
from laptop_agents.strategy.base import Strategy
from laptop_agents.strategy.loader import load_strategy

# The settings a symbol may override, longest name first (STRATEGY_PARAMS before STRATEGY).
OVERRIDABLE = ("strategy_params", "strategy", "max_position_qty", "max_notional", "leverage")
NO_QTY_CAP = Decimal("1e30")  # "no base-coin cap" for a symbol LA_MAX_POSITION_QTY is not about


def _key(field: str, symbol: str = "") -> str:
    return f"{ENV_PREFIX}{field.upper()}__{symbol}"


def overrides(environ: Mapping[str, str | None] | None = None,
              env_file: Path = Path(".env")) -> dict[str, dict[str, str]]:
    """{symbol: {setting: raw value}} from the ``.env`` file and the environment (which wins)."""
    found: dict[str, dict[str, str]] = {}
    sources = [dotenv_values(env_file) if env_file.is_file() else {},
               dict(os.environ) if environ is None else environ]
    for source in sources:
        for key, value in source.items():
            upper = key.upper()
            for field in OVERRIDABLE:
                prefix = _key(field)
                if upper.startswith(prefix) and value is not None:
                    found.setdefault(upper[len(prefix):], {})[field] = value
                    break
    return found


def _checked(field: str, symbol: str, raw: str) -> object:
    info = Settings.model_fields[field]
    # The field's own type and constraints, so an override is checked as the setting is.
    annotated: Any = Annotated[info.annotation, info]
    try:
        return TypeAdapter(annotated).validate_python(raw)
    except ValidationError as error:
        message = error.errors()[0].get("msg", "invalid value")
        raise ConfigError(f"invalid setting {_key(field, symbol)}: {message}") from None


def symbol_settings(settings: Settings,
                    per_symbol: Mapping[str, Mapping[str, str]] | None = None
                    ) -> dict[str, Settings]:
    """Each traded symbol's settings: its symbol, and its overrides (checked: exit 78)."""
    per_symbol = overrides() if per_symbol is None else per_symbol
    traded = settings.trade_symbols
    unknown = sorted(set(per_symbol) - set(traded))
    if unknown:
        names = ", ".join(_key(field, s) for s in unknown for field in per_symbol[s])
        raise ConfigError(f"invalid setting {names}: not a traded symbol (LA_SYMBOLS is "
                          f"{','.join(traded)})")
    result: dict[str, Settings] = {}
    for symbol in traded:
        given = per_symbol.get(symbol, {})
        update: dict[str, object] = {f: _checked(f, symbol, v) for f, v in given.items()}
        if symbol != settings.symbol and "max_position_qty" not in update:
            update["max_position_qty"] = NO_QTY_CAP
        result[symbol] = settings.model_copy(update={"symbol": symbol, **update})
    return result


def _renamed(error: ConfigError, symbol: str, given: Mapping[str, str]) -> ConfigError:
    """The loader names LA_STRATEGY(_PARAMS); an override's failure names the override."""
    text = str(error)
    for field in ("strategy_params", "strategy"):
        plain = f"{ENV_PREFIX}{field.upper()}"
        if field in given and f"invalid setting {plain}:" in text:
            return ConfigError(text.replace(plain, _key(field, symbol), 1))
    return error


def load_strategies(settings: Settings,
                    per_symbol: Mapping[str, Mapping[str, str]] | None = None
                    ) -> dict[str, Strategy]:
    """One strategy per traded symbol, each built and checked (ConfigError: exit 78)."""
    per_symbol = overrides() if per_symbol is None else per_symbol
    strategies: dict[str, Strategy] = {}
    for symbol, own in symbol_settings(settings, per_symbol).items():
        try:
            strategies[symbol] = load_strategy(own)
        except ConfigError as error:
            raise _renamed(error, symbol, per_symbol.get(symbol, {})) from None
    return strategies


__all__ = ["NO_QTY_CAP", "OVERRIDABLE", "load_strategies", "overrides", "symbol_settings"]
