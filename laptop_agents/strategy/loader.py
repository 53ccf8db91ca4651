"""Strategy plug-ins: find the class LA_STRATEGY names, check LA_STRATEGY_PARAMS, build it.

LA_STRATEGY is a built-in name (:data:`BUILTINS`), ``package.module:Class`` or
``path/to/file.py:Class``. The class follows the contract in docs/strategies.md: a ``Params``
pydantic model (optional: none means no parameters), a constructor ``Class(params, account)``,
and on the instance ``name``, ``warmup`` (closed candles) and ``decide(ctx) -> Decision``.

Everything here runs at start-up, before anything connects; each failure is one
:class:`~laptop_agents.errors.ConfigError` line (exit 78) naming the setting at fault.
"""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import json
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from laptop_agents.config import Settings
from laptop_agents.errors import ConfigError
from laptop_agents.strategy.base import Strategy
from laptop_agents.strategy.sizing import AccountRules, account_rules
from laptop_agents.strategy.supervisor import Supervisor, SupervisorParams

STRATEGY = "LA_STRATEGY"
PARAMS = "LA_STRATEGY_PARAMS"

# The examples live in the source checkout's examples/ (they are meant to be read and copied);
# they are built-ins only where that directory exists, i.e. in a checkout or editable install.
EXAMPLES_DIR = Path(__file__).resolve().parents[2] / "examples"
BUILTINS: dict[str, str] = {
    "supervisor": "laptop_agents.strategy.supervisor:Supervisor",
    "ema_cross": str(EXAMPLES_DIR / "ema_cross.py") + ":EmaCross",
    "breakout": str(EXAMPLES_DIR / "breakout.py") + ":Breakout",
}


class NoParams(BaseModel):
    """The parameters of a strategy that declares no ``Params``: none at all."""

    model_config = ConfigDict(frozen=True, extra="forbid")


def one_line(text: object) -> str:
    """An exception's text as one line (the CLI prints exactly one)."""
    return " ".join(str(text).split())


def available_builtins() -> dict[str, str]:
    """The built-ins whose code is present (the examples need the source checkout)."""
    return {name: target for name, target in BUILTINS.items()
            if not target.startswith(str(EXAMPLES_DIR)) or EXAMPLES_DIR.is_dir()}


def _import_file(path: Path) -> ModuleType:
    """The file as a module under a name unique to its path, so two plug-ins both called
    strategy.py do not collide and loading the same file twice gives the same classes."""
    resolved = path.expanduser().resolve()
    digest = hashlib.sha1(str(resolved).encode()).hexdigest()[:12]
    name = f"laptop_agents_plugin_{resolved.stem}_{digest}"
    if name in sys.modules:
        return sys.modules[name]
    if not resolved.is_file():
        raise FileNotFoundError(f"no such file {str(path)!r}")
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ImportError(f"{str(path)!r} is not a Python module")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # dataclasses and pydantic look their module up while building
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    return module


def resolve_class(spec: str) -> type[Any]:
    """The class ``spec`` names (a built-in, ``module:Class`` or ``file.py:Class``)."""
    builtins = available_builtins()
    target = builtins.get(spec, spec)
    where, sep, attr = target.rpartition(":")
    if not sep or not where or not attr:
        raise ConfigError(
            f"invalid setting {STRATEGY}: {spec!r} is not a built-in "
            f"({', '.join(builtins)}), package.module:Class or path/to/file.py:Class")
    is_file = where.endswith(".py") or "/" in where or "\\" in where
    try:
        module = _import_file(Path(where)) if is_file else importlib.import_module(where)
    except Exception as error:  # any failure of someone else's code is a config problem here
        raise ConfigError(f"invalid setting {STRATEGY}: cannot import {where}: "
                          f"{type(error).__name__}: {one_line(error)}") from None
    cls = getattr(module, attr, None)
    if not isinstance(cls, type):
        raise ConfigError(f"invalid setting {STRATEGY}: {where} has no class {attr!r}")
    if not callable(getattr(cls, "decide", None)):
        raise ConfigError(f"invalid setting {STRATEGY}: {attr} has no decide(ctx) method")
    return cls


def params_model(cls: type[Any]) -> type[BaseModel]:
    model = getattr(cls, "Params", None)
    if model is None:
        return NoParams
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise ConfigError(f"invalid setting {STRATEGY}: {cls.__name__}.Params must be a "
                          "pydantic BaseModel subclass")
    return model


def _params_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = ".".join(str(part) for part in first.get("loc", ()))
    message = one_line(first.get("msg", "invalid value")).removeprefix("Value error, ")
    got = first.get("input")
    shown = f" (got {got!r})" if where and not isinstance(got, dict | list) else ""
    return f"invalid setting {PARAMS}: {where + ': ' if where else ''}{message}{shown}"


def parse_params(model: type[BaseModel], given: Mapping[str, Any],
                 defaults: Mapping[str, Any] | None = None) -> BaseModel:
    """``given`` over ``defaults``, checked by ``model``. Unknown names are refused whatever
    the model's own ``extra`` policy: a typo must not silently run the default."""
    unknown = sorted(set(given) - set(model.model_fields))
    if unknown:
        known = ", ".join(model.model_fields) or "none"
        raise ConfigError(f"invalid setting {PARAMS}: unknown parameter {unknown[0]!r} "
                          f"(known: {known})")
    try:
        return model.model_validate({**(defaults or {}), **given})
    except ValidationError as error:
        raise ConfigError(_params_error(error)) from None


def build(cls: type[Any], params: BaseModel, account: AccountRules) -> Strategy:
    """``cls(params, account)``, then the instance's ``name`` and ``warmup`` checked."""
    try:
        strategy = cls(params, account)
    except Exception as error:
        raise ConfigError(f"invalid setting {STRATEGY}: {cls.__name__}(params, account) "
                          f"failed: {type(error).__name__}: {one_line(error)}") from None
    name, warmup = getattr(strategy, "name", None), getattr(strategy, "warmup", None)
    if not isinstance(name, str) or not name:
        raise ConfigError(f"invalid setting {STRATEGY}: {cls.__name__}.name must be a "
                          "non-empty string")
    if not isinstance(warmup, int) or isinstance(warmup, bool) or warmup < 1:
        raise ConfigError(f"invalid setting {STRATEGY}: {cls.__name__}.warmup must be a "
                          f"whole number of closed candles >= 1 (got {warmup!r})")
    return strategy  # type: ignore[no-any-return]  # checked above as far as Python can


def load_strategy(settings: Settings) -> Strategy:
    """The strategy LA_STRATEGY and LA_STRATEGY_PARAMS describe, built and checked."""
    cls = resolve_class(settings.strategy)
    model = params_model(cls)
    # The Supervisor's parameters used to be LA_* settings of their own: they stay its defaults.
    defaults = SupervisorParams.settings_defaults(settings) if cls is Supervisor else None
    params = parse_params(model, json.loads(settings.strategy_params), defaults)
    return build(cls, params, account_rules(settings))


@dataclass(frozen=True, slots=True)
class ParamInfo:
    name: str
    type: str
    default: str
    description: str


def _type_name(annotation: Any, metadata: list[Any]) -> str:
    name = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    name = name.replace("typing.", "").replace("decimal.", "")
    bounds = [f"{symbol} {getattr(m, attr)}" for m in metadata
              for attr, symbol in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<="))
              if getattr(m, attr, None) is not None]
    return ", ".join([name, *bounds])


def describe_params(model: type[BaseModel]) -> list[ParamInfo]:
    """Name, type (with its bounds), default and description of every parameter."""
    rows = []
    for name, field in model.model_fields.items():
        default = "required" if field.is_required() else str(field.get_default(
            call_default_factory=True))
        rows.append(ParamInfo(name, _type_name(field.annotation, field.metadata), default,
                              field.description or ""))
    return rows


@dataclass(frozen=True, slots=True)
class StrategyInfo:
    spec: str  # what LA_STRATEGY takes
    target: str  # module:Class or file.py:Class
    summary: str  # the first line of the class's docstring
    warmup: int | None  # closed candles with the default parameters (None: some are required)
    params: list[ParamInfo]


def describe(spec: str, settings: Settings) -> StrategyInfo:
    """What `laptop-agents strategies` shows for ``spec``, built with its default parameters."""
    cls = resolve_class(spec)
    model = params_model(cls)
    warmup = None
    if not any(field.is_required() for field in model.model_fields.values()):
        warmup = build(cls, parse_params(model, {}), account_rules(settings)).warmup
    summary = (cls.__doc__ or "").strip().split("\n\n")[0]
    return StrategyInfo(spec, available_builtins().get(spec, spec), one_line(summary), warmup,
                        describe_params(model))


__all__ = ["BUILTINS", "PARAMS", "STRATEGY", "NoParams", "ParamInfo", "StrategyInfo",
           "available_builtins", "build", "describe", "describe_params", "load_strategy",
           "params_model", "parse_params", "resolve_class"]
