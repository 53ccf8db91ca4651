"""Strategy plug-ins: each way of naming one, their parameters, and every failure as one line."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from laptop_agents.config import load_settings
from laptop_agents.errors import ConfigError
from laptop_agents.strategy.loader import (
    NoParams,
    available_builtins,
    describe,
    load_strategy,
    resolve_class,
)
from laptop_agents.strategy.supervisor import Supervisor
from tests.core.factories import settings

ROOT = Path(__file__).resolve().parents[2]


def load(strategy: str, params: dict[str, Any] | None = None, **overrides: Any) -> Any:
    return load_strategy(settings(strategy=strategy, strategy_params=json.dumps(params or {}),
                                  **overrides))


def test_builtins_include_the_supervisor_and_both_examples() -> None:
    assert list(available_builtins()) == ["supervisor", "ema_cross", "breakout"]
    assert isinstance(load_strategy(settings()), Supervisor)


@pytest.mark.parametrize("spec", [
    "ema_cross",  # built-in
    "examples/ema_cross.py:EmaCross",  # a relative file path (from the working directory)
    str(ROOT / "examples" / "ema_cross.py") + ":EmaCross",  # an absolute one
])
def test_each_form_loads_the_same_class(spec: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    strategy = load(spec, {"fast": 5, "slow": 30})
    assert strategy.name == "ema_cross"
    assert type(strategy) is resolve_class("ema_cross")  # one module per file, however named
    assert (strategy.p.fast, strategy.p.slow) == (5, 30)
    assert strategy.warmup == 31


def test_module_path_form(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    assert isinstance(load("laptop_agents.strategy.supervisor:Supervisor"), Supervisor)
    package = tmp_path / "my_strategies"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "flat.py").write_text(
        "class Flat:\n"
        "    '''Never trades.'''\n"
        "    name = 'flat'\n"
        "    def __init__(self, params, account):\n"
        "        self.params, self.warmup = params, 1\n"
        "    def decide(self, ctx):\n"
        "        raise AssertionError('not called here')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    strategy = load("my_strategies.flat:Flat")
    assert strategy.name == "flat" and isinstance(strategy.params, NoParams)  # no Params: none
    with pytest.raises(ConfigError, match=r"unknown parameter 'x' \(known: none\)"):
        load("my_strategies.flat:Flat", {"x": 1})


def test_supervisor_settings_stay_its_defaults_and_params_override_them() -> None:
    strategy = load("supervisor", None, ema_slow=120, min_reward_risk="2")
    assert strategy.s.ema_slow == 120 and strategy.warmup == 120
    strategy = load("supervisor", {"ema_slow": 150}, ema_slow=120, min_reward_risk="2")
    assert strategy.s.ema_slow == 150 and str(strategy.s.min_reward_risk) == "2"
    assert strategy.warmup == 150
    # the account's rules come from the account's settings, whatever the strategy
    assert load("ema_cross", risk_pct="0.02").account.risk_pct == settings(risk_pct="0.02").risk_pct


PLUGIN_ERRORS = {
    "syntax.py": "def broken(:\n",
    "import_fails.py": "import a_module_that_does_not_exist\n",
    "ctor_fails.py": ("class S:\n    name = 's'\n    warmup = 1\n"
                      "    def __init__(self, params, account):\n"
                      "        raise ValueError('needs\\nmore')\n"
                      "    def decide(self, ctx): ...\n"),
    "no_warmup.py": ("class S:\n    name = 's'\n    warmup = 0\n"
                     "    def __init__(self, params, account): ...\n"
                     "    def decide(self, ctx): ...\n"),
    "no_name.py": ("class S:\n    warmup = 5\n"
                   "    def __init__(self, params, account): ...\n"
                   "    def decide(self, ctx): ...\n"),
    "bad_params.py": ("class S:\n    name = 's'\n    warmup = 5\n    Params = dict\n"
                      "    def decide(self, ctx): ...\n"),
}


@pytest.mark.parametrize(("spec", "params", "expected"), [
    ("nope", {}, "LA_STRATEGY: 'nope' is not a built-in (supervisor, ema_cross, breakout)"),
    ("missing.py:S", {}, "LA_STRATEGY: cannot import missing.py: FileNotFoundError"),
    ("no_such_package.mod:S", {}, "LA_STRATEGY: cannot import no_such_package.mod: "
                                  "ModuleNotFoundError"),
    ("os:path", {}, "LA_STRATEGY: os has no class 'path'"),
    ("laptop_agents.strategy.sizing:Costs", {}, "LA_STRATEGY: Costs has no decide(ctx)"),
    ("syntax.py:S", {}, "LA_STRATEGY: cannot import syntax.py: SyntaxError"),
    ("import_fails.py:S", {}, "ModuleNotFoundError: No module named 'a_module_that"),
    ("ctor_fails.py:S", {}, "LA_STRATEGY: S(params, account) failed: ValueError: needs more"),
    ("no_warmup.py:S", {}, "LA_STRATEGY: S.warmup must be a whole number"),
    ("no_name.py:S", {}, "LA_STRATEGY: S.name must be a non-empty string"),
    ("bad_params.py:S", {}, "LA_STRATEGY: S.Params must be a pydantic BaseModel"),
    ("ema_cross", {"fast": 1}, "LA_STRATEGY_PARAMS: fast: Input should be greater than 1"),
    ("ema_cross", {"fast": "x"}, "LA_STRATEGY_PARAMS: fast: Input should be a valid integer"),
    ("ema_cross", {"fast": 30}, "LA_STRATEGY_PARAMS: fast must be below slow"),
    ("ema_cross", {"fsat": 5}, "LA_STRATEGY_PARAMS: unknown parameter 'fsat' (known: fast,"),
    ("supervisor", {"ema_mid": 60}, "LA_STRATEGY_PARAMS: ema_fast < ema_mid < ema_slow"),
])
def test_failures_are_one_config_error_line(spec: str, params: dict[str, Any], expected: str,
                                            tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    for name, text in PLUGIN_ERRORS.items():
        (tmp_path / name).write_text(text)
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as caught:
        load(spec, params)
    message = str(caught.value)
    assert message.startswith("invalid setting LA_STRATEGY")
    assert expected in message
    assert "\n" not in message


def test_params_must_be_a_json_object() -> None:
    with pytest.raises(ConfigError, match="invalid setting LA_STRATEGY_PARAMS: must be a JSON"):
        load_settings(strategy_params="[1, 2]")
    with pytest.raises(ConfigError, match="invalid setting LA_STRATEGY_PARAMS: is not JSON"):
        load_settings(strategy_params="{fast: 5}")


def test_describe_lists_parameters_with_type_default_and_description() -> None:
    info = describe("ema_cross", settings())
    assert info.warmup == 22 and info.summary.startswith("Long when the fast EMA")
    fast = next(p for p in info.params if p.name == "fast")
    assert (fast.type, fast.default, fast.description) == ("int, > 1", "9", "Fast EMA period.")
    supervisor = describe("supervisor", settings())
    assert [p.name for p in supervisor.params][:2] == ["warmup_candles", "ema_fast"]
    assert supervisor.warmup == 100
