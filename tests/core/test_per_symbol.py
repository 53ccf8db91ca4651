"""Per-symbol settings (issue #16): LA_<SETTING>__<SYMBOL> overrides, checked at start-up, and
sizing that knows about the other symbols' positions."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from laptop_agents.config import Settings
from laptop_agents.errors import ConfigError
from laptop_agents.models import DEFAULT_BTCUSDT
from laptop_agents.strategy.per_symbol import (
    NO_QTY_CAP,
    load_strategies,
    overrides,
    symbol_settings,
)
from laptop_agents.strategy.sizing import Costs, position_size

D = Decimal
SYMBOLS = "BTCUSDT,ETHUSDT,DOGEUSDT"


def test_overrides_come_from_the_environment_and_the_env_file(tmp_path: Path) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text("LA_STRATEGY__ETHUSDT=breakout\nLA_LEVERAGE__DOGEUSDT=2\n")
    found = overrides({"LA_STRATEGY_PARAMS__ETHUSDT": '{"lookback": 30}',
                       "LA_LEVERAGE__DOGEUSDT": "3", "LA_SYMBOL": "BTCUSDT"}, env_file)
    assert found == {"ETHUSDT": {"strategy": "breakout", "strategy_params": '{"lookback": 30}'},
                     "DOGEUSDT": {"leverage": "3"}}  # the environment wins over the file


def test_each_symbol_gets_its_settings_and_the_qty_cap_stays_with_la_symbol() -> None:
    settings = Settings(symbols=SYMBOLS, max_position_qty="2")
    own = symbol_settings(settings, {"DOGEUSDT": {"max_position_qty": "50000",
                                                  "leverage": "3"}})
    assert [s.symbol for s in own.values()] == ["BTCUSDT", "ETHUSDT", "DOGEUSDT"]
    assert own["BTCUSDT"].max_position_qty == D(2)  # LA_SYMBOL's contract: BTC
    assert own["ETHUSDT"].max_position_qty == NO_QTY_CAP  # one bitcoin means nothing here
    assert own["DOGEUSDT"].max_position_qty == D(50000)
    assert own["DOGEUSDT"].leverage == D(3) and own["ETHUSDT"].leverage == D(5)


@pytest.mark.parametrize(("given", "named"), [
    ({"SOLUSDT": {"strategy": "breakout"}}, "LA_STRATEGY__SOLUSDT"),  # not traded
    ({"ETHUSDT": {"leverage": "0"}}, "LA_LEVERAGE__ETHUSDT"),
    ({"ETHUSDT": {"strategy": "no_such_strategy"}}, "LA_STRATEGY__ETHUSDT"),
    ({"ETHUSDT": {"strategy_params": '{"nope": 1}'}}, "LA_STRATEGY_PARAMS__ETHUSDT"),
])
def test_a_bad_override_fails_naming_its_setting(given: dict[str, dict[str, str]],
                                                 named: str) -> None:
    with pytest.raises(ConfigError, match=f"invalid setting {named}"):
        load_strategies(Settings(symbols=SYMBOLS), given)


def test_each_symbol_gets_its_own_strategy_instance() -> None:
    strategies = load_strategies(Settings(symbols=SYMBOLS),
                                 {"ETHUSDT": {"strategy": "breakout"}})
    assert [s.name for s in strategies.values()] == ["supervisor", "breakout", "supervisor"]
    assert strategies["BTCUSDT"] is not strategies["DOGEUSDT"]


def test_sizing_fits_the_margin_left_by_the_other_positions() -> None:
    args = dict(equity=D(10000), risk_pct=D("0.01"), entry=D(50000), stop=D(49900),
                instrument=DEFAULT_BTCUSDT, max_notional=D(10**9), max_leverage=D(100),
                min_notional=D(5), costs=Costs(leverage=D(5)))
    alone = position_size(**args)  # type: ignore[arg-type]
    beside = position_size(**args, available=D(1000))  # type: ignore[arg-type]
    assert alone.qty > beside.qty > 0 and beside.capped_by == "margin"
    assert beside.qty * D(50000) / 5 <= D(1000)  # its margin fits what is left
    room = position_size(**args, notional_room=D(5000))  # type: ignore[arg-type]
    assert room.capped_by == "max_total_notional" and room.qty * D(50000) <= D(5000)
