"""report.html, trades.csv and summary.json, and the charts' downsampling (no browser)."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path

from laptop_agents.backtest.downsample import (
    Bar,
    bar_bucket_ms,
    downsample_candles,
    regular_grid,
    resample,
    snap,
)
from laptop_agents.backtest.report import page_data, trade_markers, trades_csv, write_report
from laptop_agents.backtest.stats import summarize, summary_json
from laptop_agents.models import Side

from .helpers import DAY, HOUR, MINUTE, T0, minute_candles, trade

D = Decimal


def test_trades_csv() -> None:
    t1 = trade(1, "9.5", T0 + 1_234, T0 + HOUR)
    t2 = trade(2, "-3.25", T0 + DAY, T0 + DAY + 90_000, side=Side.SHORT, entry="50100.0",
               exit_="50400.5")
    assert trades_csv([t1, t2]) == (
        "trade_id,symbol,side,qty,entry_price,exit_price,opened,closed,opened_ms,closed_ms,"
        "gross_pnl,fees,funding,liquidation_fee,realized_pnl,exit_reason,setup\n"
        "t1,BTCUSDT,long,0.010,50000,50100,2024-01-01T00:00:01.234Z,2024-01-01T01:00:00.000Z,"
        "1704067201234,1704070800000,10.0,0.5,0,0,9.5,target,test\n"
        "t2,BTCUSDT,short,0.010,50100.0,50400.5,2024-01-02T00:00:00.000Z,"
        "2024-01-02T00:01:30.000Z,1704153600000,1704153690000,-2.75,0.5,0,0,-3.25,stop,test\n")
    assert trades_csv([]).count("\n") == 1  # the header alone


def test_year_of_minutes_fits_five_thousand_bars() -> None:
    year = [minute_candles(1)[0], minute_candles(1, start=T0 + (525_600 - 1) * MINUTE)[0]]
    assert bar_bucket_ms(year) == 106 * MINUTE  # ceil(525,600 / 5,000) minutes
    assert -(-525_600 // 106) <= 5_000


def test_candles_aggregate_over_whole_buckets() -> None:
    candles = minute_candles(12_001)
    bars, bucket = downsample_candles(candles)
    assert bucket == 3 * MINUTE and len(bars) == 4_001  # ceil(12,001 / 5,000) = 3 per bar
    first = candles[:3]
    assert bars[0] == Bar(T0, first[0].open, max(c.high for c in first),
                          min(c.low for c in first), first[2].close)
    assert bars[-1] == Bar(candles[-1].open_time, candles[-1].open, candles[-1].high,
                           candles[-1].low, candles[-1].close)
    # few candles are kept as they are, in time order, a repeated open time once
    small = minute_candles(10)
    bars, bucket = downsample_candles([*reversed(small), small[3]])
    assert bucket == MINUTE and [b.time_ms for b in bars] == [c.open_time for c in small]
    assert downsample_candles([]) == ([], 0)


def test_candles_with_a_gap_still_fit() -> None:
    candles = [*minute_candles(100), *minute_candles(100, start=T0 + 30 * DAY)]
    bars, bucket = downsample_candles(candles, max_bars=50)
    assert len(bars) <= 50 and bucket % MINUTE == 0


def test_regular_grid() -> None:
    grid, bucket = regular_grid(T0 + 1_500, T0 + 13_500, max_points=5)
    assert bucket == 3_000 and grid == [T0 + 1_000 + 3_000 * i for i in range(5)]
    grid, bucket = regular_grid(T0, T0 + 2_400)  # never under a second: the chart's unit
    assert bucket == 1_000 and grid == [T0, T0 + 1_000, T0 + 2_000]


def test_resample_picks_per_bucket_and_carries_forward() -> None:
    points = [(T0 + 500, D(1)), (T0 + 1_200, D(5)), (T0 + 1_900, D(3)), (T0 + 5_000, D(7)),
              (T0 + 9_000, D(8))]
    grid = [T0 + 1_000, T0 + 2_000, T0 + 3_000, T0 + 4_000]
    t = T0 // 1000
    # the first bucket takes the earlier point too; an empty one carries 3 forward; the last
    # takes every later point
    assert resample(points, grid) == [(t + 1, D(3)), (t + 2, D(3)), (t + 3, D(3)),
                                      (t + 4, D(8))]
    assert resample(points, grid, pick=max) == [(t + 1, D(5)), (t + 2, D(3)), (t + 3, D(3)),
                                                (t + 4, D(8))]
    assert resample([], grid) == [] and resample(points, []) == []


def test_snap_and_markers() -> None:
    bar_times = [T0, T0 + 5 * MINUTE, T0 + 10 * MINUTE]
    assert [snap(bar_times, t) for t in (T0 - 1, T0 + 4 * MINUTE, T0 + 5 * MINUTE, T0 + DAY)] \
        == [T0, T0, T0 + 5 * MINUTE, T0 + 10 * MINUTE]
    markers = trade_markers([trade(1, "-1", T0 + 6 * MINUTE, T0 + 7 * MINUTE, side=Side.SHORT),
                             trade(2, "2", T0, T0 + 11 * MINUTE)], bar_times)
    assert [(m["time"], m["shape"], m["color"]) for m in markers] == [
        (T0 // 1000, "arrowUp", "#26a69a"),
        ((T0 + 5 * MINUTE) // 1000, "arrowDown", "#ef5350"),
        ((T0 + 5 * MINUTE) // 1000, "circle", "#ef5350"),
        ((T0 + 10 * MINUTE) // 1000, "circle", "#26a69a"),
    ]
    assert markers[1]["text"] == "S 50000" and markers[2]["text"] == "50100 (-1)"
    assert trade_markers([trade(1, "1", T0, T0 + 1)], []) == []


def test_write_report(tmp_path: Path) -> None:
    trades = [trade(1, "9.5", T0 + 10 * MINUTE, T0 + 50 * MINUTE),
              trade(2, "-4", T0 + 70 * MINUTE, T0 + 90 * MINUTE, side=Side.SHORT)]
    equity = [(T0 + 50 * MINUTE, D("1009.5")), (T0 + 90 * MINUTE, D("1005.5"))]
    summary = summarize(trades, equity, starting_equity=D(1000), start_ms=T0,
                        end_ms=T0 + 3 * HOUR, fees=D(1), funding=D(0), liquidations=0)
    out = tmp_path / "run" / "report"
    write_report(out, summary, trades, equity, minute_candles(180), title="BTC <test> & co")
    assert sorted(p.name for p in out.iterdir()) == ["report.html", "summary.json",
                                                     "trades.csv"]
    assert (out / "summary.json").read_bytes() == summary_json(summary)
    assert (out / "trades.csv").read_text() == trades_csv(trades)
    page = (out / "report.html").read_text()
    assert "<title>BTC &lt;test&gt; &amp; co</title>" in page
    assert not re.search(r"@@[A-Z_]+@@", page)  # every placeholder filled
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)  # nothing from the net
    assert "LightweightCharts" in page and "<th>Win rate</th><td>50.0000%</td>" in page
    found = re.search(r'id="report-data">(.*?)</script>', page, re.S)
    assert found is not None
    data = json.loads(found[1])
    assert len(data["candles"]) == 180 and len(data["markers"]) == 4
    # on the bars' grid, from the period's start (starting equity) to its end (last value)
    equity_line = dict(data["equity"])
    assert len(equity_line) == 180 and equity_line[T0 // 1000] == 1000
    assert equity_line[(T0 + 49 * MINUTE) // 1000] == 1000
    assert equity_line[(T0 + 50 * MINUTE) // 1000] == 1009.5
    assert equity_line[(T0 + 90 * MINUTE) // 1000] == 1005.5
    assert data["equity"][-1] == [(T0 + 179 * MINUTE) // 1000, 1005.5]
    # 1009.5 -> 1005.5 is 4 below the peak: 0.396...% as a negative value
    drawdown = dict(data["drawdown"])
    assert drawdown[(T0 + 89 * MINUTE) // 1000] == 0
    assert round(drawdown[(T0 + 90 * MINUTE) // 1000], 4) == -0.3962
    assert data["source"]["equity"] == 2


def test_page_data_without_data() -> None:
    summary = summarize([], [], starting_equity=D(1000), start_ms=T0, end_ms=T0,
                        fees=D(0), funding=D(0), liquidations=0)
    data = page_data(summary, [], [], [])
    assert data["candles"] == data["markers"] == []
    # no curve: the starting equity alone, at the period's start
    assert data["equity"] == [[T0 // 1000, 1000.0]] and data["drawdown"] == [[T0 // 1000, 0.0]]
