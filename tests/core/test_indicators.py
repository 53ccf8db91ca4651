"""Indicator values against hand-computed references."""

from __future__ import annotations

from decimal import Decimal

import pytest

from laptop_agents.strategy import indicators as ind
from tests.core.factories import D, candle


def test_ema_seeded_with_sma_then_smoothed() -> None:
    # period 3: seed (1+2+3)/3 = 2, alpha = 0.5 -> 3, 4
    assert ind.ema([D(1), D(2), D(3), D(4), D(5)], 3) == [D(2), D(3), D(4)]
    # period 2: seed 3, alpha = 2/3 -> 3 + 2/3*(6-3) = 5, 7, 9, 11
    values = [D(2), D(4), D(6), D(8), D(10), D(12)]
    assert [v.quantize(D("0.000001")) for v in ind.ema(values, 2)] == [
        D("3.000000"), D("5.000000"), D("7.000000"), D("9.000000"), D("11.000000")]
    with pytest.raises(ValueError):
        ind.ema([D(1)], 2)


def test_atr_is_wilder_average_of_true_range() -> None:
    candles = [
        candle(0, 9, 10, 8, 9),
        candle(1, 9, 11, 9, 10),       # TR max(2, 2, 0) = 2
        candle(2, 10, 12, 9, 11),      # TR max(3, 2, 1) = 3
        candle(3, 11, 11, 10, "10.5"), # TR max(1, 0, 1) = 1
        candle(4, 11, 14, 10, 13),     # TR max(4, 3.5, 0.5) = 4
        candle(5, 13, 13, 7, 8),       # TR max(6, 0, 6) = 6
        candle(6, 19, 20, 19, "19.5"), # gap: TR max(1, 12, 11) = 12
    ]
    assert ind.true_ranges(candles) == [D(2), D(3), D(1), D(4), D(6), D(12)]
    series = ind.atr(candles, 3)
    # seed mean(2, 3, 1) = 2; (2*2 + 4)/3 = 8/3; (8/3*2 + 6)/3 = 34/9; (34/9*2 + 12)/3 = 176/27
    expected = [D(2), D(8) / 3, D(34) / 9, D(176) / 27]
    assert [round(v, 20) for v in series] == [round(v, 20) for v in expected]
    with pytest.raises(ValueError):
        ind.atr(candles[:3], 3)


def test_vwap_weights_typical_price_by_volume() -> None:
    candles = [candle(0, 10, 12, 8, 10, v=1), candle(1, 18, 21, 18, 21, v=3)]
    # typical prices 10 and 20 -> (10*1 + 20*3) / 4 = 17.5
    assert ind.vwap(candles) == D("17.5")
    assert ind.vwap([candle(0, 1, 2, 1, 1, v=0)]) is None


def test_volume_average_and_extremes() -> None:
    candles = [candle(i, 10, 10 + i, 10 - i, 10, v=v) for i, v in enumerate([1, 2, 3, 6])]
    assert ind.volume_average(candles, 2) == D("4.5")
    assert ind.volume_average(candles, 4) == D(3)
    assert ind.highest_high(candles) == D(13)
    assert ind.lowest_low(candles) == D(7)


def test_swing_highs_and_lows() -> None:
    highs = [1, 3, 2, 5, 4, 4, 6, 2, 1]
    candles = [candle(i, h, h, Decimal(h) - 10, h) for i, h in enumerate(highs)]
    assert ind.swing_highs(candles, 1, 1) == [1, 3, 6]
    lows = [5, 3, 4, 1, 2, 2, 0, 3]
    candles = [candle(i, lo, Decimal(lo) + 10, lo, lo) for i, lo in enumerate(lows)]
    assert ind.swing_lows(candles, 1, 1) == [1, 3, 6]
    assert ind.swing_lows(candles, 2, 2) == [3]
