"""Quiet candles (docs/backtesting.md): a candle that starts flat with no working order is
sent as its close only. The Supervisor over simulator history, trading all day, gives the
same fills, trades, funding and balance as with every candle's full four-point path."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from pathlib import Path

from laptop_agents.backtest.run import BacktestData, assemble, backtest_settings
from laptop_agents.backtest.stream import BacktestTimeline
from laptop_agents.config import Settings
from laptop_agents.models import DEFAULT_BTCUSDT, Candle, FundingSettlement
from laptop_agents.record.replay import Summary, summarize
from laptop_agents.session.wiring import journal_path
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange
from laptop_agents.strategy.supervisor import Supervisor

HOUR_MS = 3_600_000
START_MS = 1_700_000_000_000 // HOUR_MS * HOUR_MS
WARMUP, CANDLES = 150, 2_500


def sim_data() -> BacktestData:
    sim = SimExchange(SimOptions(seed=7, start_ms=START_MS,
                                 origin_ms=START_MS - (WARMUP + CANDLES) * 60_000))
    candles: list[Candle] = sim.closed_candles("BTCUSDT", "1min")
    # A settlement every 8 hours at a positive rate, so positions across one pay funding.
    by_time = {c.open_time: c.open for c in candles}
    settlements = [FundingSettlement("BTCUSDT", ts, Decimal("0.0001"), by_time[ts])
                   for ts in range(START_MS - 5 * 8 * HOUR_MS, START_MS, 8 * HOUR_MS)
                   if ts in by_time]
    return BacktestData(DEFAULT_BTCUSDT, candles[:WARMUP], candles[WARMUP:], settlements,
                        candles[WARMUP].open_time, candles[-1].close_time, "sim:7:test")


def run(tmp_path: Path, data: BacktestData, *, quiet: bool) -> tuple[Summary, int]:
    settings = backtest_settings(Settings(source="sim", daily_loss_cap_pct="1"), tmp_path)
    runner = assemble(settings, Supervisor(settings), data, [])
    timeline = runner.timeline
    assert isinstance(timeline, BacktestTimeline)
    sent = 0
    inner = timeline.quiet

    def counted() -> bool:
        nonlocal sent
        answer = quiet and inner()
        sent += 1 if answer else 4
        return answer

    timeline.quiet = counted
    asyncio.run(runner.run())
    return summarize(journal_path(settings)), sent


def test_quiet_candles_change_nothing_but_the_work(tmp_path: Path) -> None:
    data = sim_data()
    full, full_quotes = run(tmp_path / "full", data, quiet=False)
    fast, fast_quotes = run(tmp_path / "quiet", data, quiet=True)
    assert len(full.trades) >= 20  # enough trading that the two paths could differ
    assert fast.fills == full.fills
    assert fast.trades == full.trades
    assert fast.funding == full.funding
    assert fast.totals == full.totals
    assert fast_quotes < full_quotes * 9 // 10  # and many candles were sent as their close
