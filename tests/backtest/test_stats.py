"""The summary statistics on constructed trades and equity curves, against values worked out
by hand (the working is in the comments)."""

from __future__ import annotations

import decimal
import json
from collections.abc import Sequence
from decimal import Decimal

import pytest
from rich.console import Console

from laptop_agents.backtest.stats import (
    EquityPoint,
    Summary,
    daily_closes,
    daily_returns,
    max_drawdown,
    sharpe_ratio,
    sortino_ratio,
    summarize,
    summary_json,
    summary_rows,
    summary_table,
)
from laptop_agents.models import Side
from laptop_agents.paper.models import Trade

from .helpers import DAY, HOUR, T0, trade

D = Decimal
START = D(1000)


def run(trades: Sequence[Trade], equity: list[EquityPoint], end: int = T0 + 3 * DAY) -> Summary:
    return summarize(trades, equity, starting_equity=START, start_ms=T0, end_ms=end,
                     fees=D("2.0"), funding=D("-0.25"), liquidations=0)


TRADES = [
    trade(1, "30", T0, T0 + 6 * HOUR),  # day 0, 6 h
    trade(2, "-10", T0 + 12 * HOUR, T0 + 18 * HOUR, side=Side.SHORT),  # day 0, 6 h
    trade(3, "20", T0 + DAY, T0 + DAY + 12 * HOUR),  # day 1, 12 h
    trade(4, "0", T0 + 2 * DAY, T0 + 2 * DAY + 6 * HOUR),  # day 2, 6 h: break-even
]


def test_trade_statistics() -> None:
    s = run(TRADES, [(T0 + 3 * DAY, D(1040))])
    assert (s.trades, s.wins, s.losses) == (4, 2, 1)  # break-even is neither
    assert s.win_rate_pct == D("50.0000")  # 2 of 4
    assert (s.gross_profit, s.gross_loss) == (D(50), D(10))
    assert s.profit_factor == D("5.0000")  # 50 / 10
    assert s.realized_pnl == D(40)
    assert s.avg_trade == D("10.0000")  # 40 / 4
    assert s.exposure_pct == D("41.6667")  # (6 + 6 + 12 + 6) h of 72 h
    assert (s.ending_equity, s.net_pnl, s.return_pct) == (D(1040), D(40), D("4.0000"))
    assert (s.fees, s.funding, s.liquidations, s.days) == (D("2.0"), D("-0.25"), 0, 3)


def test_drawdown_that_recovers_and_a_deeper_one() -> None:
    # peak 1100 -> 990: 110 below (10%); recovers to 1200 -> 1140: 60 below (5%)
    curve = [(T0 + i * HOUR, D(v)) for i, v in enumerate([1100, 990, 1200, 1140])]
    assert max_drawdown(curve, START) == (D(110), D(10))
    s = run([], curve)
    assert (s.max_drawdown, s.max_drawdown_pct) == (D(110), D("10.0000"))


def test_drawdown_in_money_and_in_percent_are_separate_troughs() -> None:
    # 1000 -> 500: 500 below, 50%; 3000 -> 2000: 1000 below, 33.3%
    curve = [(T0 + i * HOUR, D(v)) for i, v in enumerate([500, 3000, 2000])]
    assert max_drawdown(curve, START) == (D(1000), D(50))


def test_drawdown_from_the_starting_equity_and_none_without_a_fall() -> None:
    assert max_drawdown([(T0, D(900))], START) == (D(100), D(10))
    assert max_drawdown([(T0, D(1000)), (T0 + 1, D(1001))], START) == (D(0), D(0))
    assert max_drawdown([], START) == (D(0), D(0))


def test_daily_closes_by_utc_day_with_the_end_point_on_the_last_day() -> None:
    equity = [(T0 + 12 * HOUR, D(1100)), (T0 + 2 * DAY - 1, D(990)),
              (T0 + 3 * DAY, D(1089))]  # at end_ms exactly: the last day's close
    assert daily_closes(equity, START, T0, T0 + 3 * DAY) == [D(1100), D(990), D(1089)]
    # a day without points carries the previous close forward
    assert daily_closes([(T0, D(1100))], START, T0, T0 + 2 * DAY) == [D(1100), D(1100)]
    # a period starting mid-day still has that day
    assert daily_closes([], START, T0 + 20 * HOUR, T0 + 28 * HOUR) == [START, START]
    assert daily_closes([], START, T0, T0) == []


def test_sharpe_and_sortino_on_three_days() -> None:
    # closes 1100, 990, 1089 from 1000: returns +0.1, -0.1, +0.1; mean 1/30
    returns = daily_returns([D(1100), D(990), D(1089)], START)
    assert returns == [D("0.1"), D("-0.1"), D("0.1")]
    # sample sd = sqrt((2 x (1/15)^2 + (2/15)^2) / 2) = 0.2 / sqrt(3)
    # Sharpe = (1/30) / (0.2 / sqrt 3) x sqrt 365 = sqrt(1095) / 6 = 5.51513...
    assert sharpe_ratio(returns) == D("5.5151")
    # downside deviation = sqrt(0.01 / 3); Sortino = (1/30) / sqrt(1/300) x sqrt 365
    #   = sqrt(365 / 3) = 11.03026...
    assert sortino_ratio(returns) == D("11.0303")
    s = run([], [(T0 + 12 * HOUR, D(1100)), (T0 + DAY + 1, D(990)), (T0 + 2 * DAY, D(1089))])
    assert (s.sharpe, s.sortino, s.days) == (D("5.5151"), D("11.0303"), 3)


def test_ratios_undefined_cases() -> None:
    assert sharpe_ratio([D("0.1")]) is None  # fewer than 2 days
    assert sortino_ratio([D("0.1")]) is None
    assert sharpe_ratio([D("0.01"), D("0.01")]) is None  # zero variance
    assert sortino_ratio([D("0.01"), D("0.02")]) is None  # no losing day
    assert sortino_ratio([D("0.01"), D("-0.01")]) == D(0)  # mean 0
    assert daily_returns([D(0), D(10)], START) == [D(-1), D(0)]  # from a blown account: 0


def test_no_losing_trade() -> None:
    s = run([trade(1, "5", T0, T0 + HOUR), trade(2, "7", T0 + DAY, T0 + DAY + HOUR)], [])
    assert s.profit_factor is None
    assert s.win_rate_pct == D("100.0000")
    assert dict(summary_rows(s))["Profit factor"] == "inf (no losing trade)"


def test_no_trades() -> None:
    s = run([], [])
    assert (s.trades, s.wins, s.losses) == (0, 0, 0)
    assert s.win_rate_pct is None and s.profit_factor is None and s.avg_trade is None
    assert s.exposure_pct == D("0.0000")
    assert (s.ending_equity, s.net_pnl, s.max_drawdown) == (START, D(0), D(0))
    assert s.sharpe is None and s.sortino is None  # a flat curve has no variance
    rows = dict(summary_rows(s))
    assert rows["Profit factor"] == rows["Win rate"] == "n/a"


def test_exposure_clips_to_the_period_and_counts_overlaps_once() -> None:
    trades = [trade(1, "1", T0 - HOUR, T0 + HOUR),  # 1 h inside the period
              trade(2, "1", T0 + 2 * HOUR, T0 + 4 * HOUR),
              trade(3, "1", T0 + 3 * HOUR, T0 + 5 * HOUR)]  # overlaps trade 2 by 1 h
    s = run(trades, [], end=T0 + 10 * HOUR)
    assert s.exposure_pct == D("40.0000")  # (1 + 3) h of 10 h
    assert run([], [], end=T0).exposure_pct is None  # an empty period


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="before"):
        run([], [], end=T0 - 1)
    with pytest.raises(ValueError, match="positive"):
        summarize([], [], starting_equity=D(0), start_ms=T0, end_ms=T0 + 1, fees=D(0),
                  funding=D(0), liquidations=0)


def test_json_is_byte_identical_and_independent_of_the_decimal_context() -> None:
    equity = [(T0 + 12 * HOUR, D(1100)), (T0 + DAY + 1, D("990.123456789")),
              (T0 + 2 * DAY, D(1089))]
    first = summary_json(run(TRADES, equity))
    with decimal.localcontext() as ctx:
        ctx.prec = 6  # a caller's context must change nothing
        ctx.rounding = decimal.ROUND_DOWN
        second = summary_json(run(TRADES, list(equity)))
    assert first == second
    assert first.endswith(b"}\n") and first.isascii()
    values = json.loads(first)
    assert list(values) == sorted(values)
    assert values["version"] == 1
    assert values["start"] == "2024-01-01T00:00:00.000Z"
    assert values["end"] == "2024-01-04T00:00:00.000Z"
    assert values["win_rate_pct"] == "50.0000" and values["profit_factor"] == "5.0000"
    assert values["ending_equity"] == "1089" and values["trades"] == 4
    assert values["funding"] == "-0.25" and values["sortino"] is not None


def test_json_never_uses_exponent_notation() -> None:
    s = run([trade(1, "0E-8", T0, T0 + 1)], [(T0, D("1E+3"))])
    text = summary_json(s).decode()
    assert "E" not in text
    assert json.loads(text)["realized_pnl"] == "0.00000000"
    assert json.loads(text)["ending_equity"] == "1000"


def test_rich_table_renders_every_row() -> None:
    s = run(TRADES, [(T0 + 3 * DAY, D(1040))])
    console = Console(width=120, record=True, color_system=None)
    console.print(summary_table(s))
    text = console.export_text()
    for label, value in summary_rows(s):
        assert label in text and value in text
    assert "41.6667%" in text
