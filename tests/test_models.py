from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from laptop_agents.models import Candle, Tick


def test_tick_and_candle_are_immutable() -> None:
    tick = Tick("BTCUSDT", Decimal("100.0"), Decimal("100.1"), Decimal(1), Decimal(2), None, 1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        tick.bid = Decimal(1)  # type: ignore[misc]
    assert tick.mid == Decimal("100.05")
    candle = Candle("BTCUSDT", "1min", 60_000, Decimal(1), Decimal(2), Decimal(1), Decimal(2),
                    Decimal(3), Decimal(6))
    assert candle.closed is True
    assert candle.close_time == 120_000
    with pytest.raises(dataclasses.FrozenInstanceError):
        candle.close = Decimal(5)  # type: ignore[misc]
