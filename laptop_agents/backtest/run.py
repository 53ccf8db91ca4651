"""Run the real engine over stored candles: the backtest.

An :class:`AsyncRunner` is assembled exactly as a replay assembles one (record/replay.py), with
the backtest's timeline, feed and REST (stream.py) over a fresh journal: the same tasks,
symbol engine, gate, price guard, paper broker (fees, slippage, funding, margin and
liquidation) and journal run; only the sources of data and time differ. There is no second
trading loop. At the end the journal's ledger invariant is checked (``check_ledger``), and
the trades, fills and equity curve are handed to the output (output.py).

Determinism: the stream is a pure function of the candles and settlements, every decision is
applied at a fixed place in it (after its candle), and nothing reads the laptop's clocks where
money moves; identical inputs give an identical journal.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from laptop_agents.backtest.stream import BacktestRest, BacktestTimeline, Settlements
from laptop_agents.config import Settings
from laptop_agents.errors import ConfigError
from laptop_agents.metrics import Metrics
from laptop_agents.models import Candle, FundingSettlement, Instrument
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.models import Fill, Trade
from laptop_agents.record.replay import Summary, summarize
from laptop_agents.record.replay_source import ReplayFeed
from laptop_agents.session.async_session import AsyncRunner
from laptop_agents.session.ports import NullNotifier
from laptop_agents.session.tasks import InlineExecutor
from laptop_agents.session.wiring import EngineParts, journal_path, open_journal
from laptop_agents.strategy.base import Strategy

EquityPoint = tuple[int, Decimal]


@dataclass(frozen=True)
class BacktestData:
    """What a backtest runs over: the range's candles and the warm-up before them."""

    instrument: Instrument
    # repr=False: a repr of every candle is megabytes (asyncio.run formats its task's result
    # when it restores the SIGINT handler, Python 3.11).
    warmup: list[Candle] = field(repr=False)  # closed candles before start_ms, oldest first
    candles: list[Candle] = field(repr=False)  # closed, start_ms <= open_time < end_ms
    # None: the source cannot say (no funding)
    settlements: list[FundingSettlement] | None = field(repr=False)
    start_ms: int
    end_ms: int
    source: str  # the candle store's series source, e.g. "bitunix" or "sim:42:<origin>"


@dataclass(frozen=True)
class BacktestResult:
    data: BacktestData
    strategy: str
    journal: Path
    # fills, trades (oldest first), funding and totals, invariant checked
    ledger: Summary = field(repr=False)
    equity: list[EquityPoint] = field(repr=False)  # after each candle of the range

    @property
    def trades(self) -> list[Trade]:
        return self.ledger.trades

    @property
    def fills(self) -> list[Fill]:
        return self.ledger.fills

    @property
    def liquidations(self) -> int:
        return sum(1 for t in self.ledger.trades if t.exit_reason == "liquidation")

    @property
    def funding_available(self) -> bool:
        return self.data.settlements is not None


def backtest_settings(settings: Settings, data_dir: Path) -> Settings:
    """The run's settings: its own journal, and nothing that reaches outside the process."""
    values: dict[str, Any] = dict(data_dir=data_dir, record=False, api_enabled=False,
                                  kill_file=None, log_file=None, flatten_on_exit=False)
    return settings.model_copy(update=values)


def assemble(settings: Settings, strategy: Strategy, data: BacktestData,
             equity: list[EquityPoint]) -> AsyncRunner:
    """The runner over the backtest's timeline, feed, REST and a fresh journal."""
    path = journal_path(settings)
    if path.exists():
        raise ConfigError(f"invalid setting LA_DATA_DIR: {path} exists; a backtest starts "
                          "from an empty journal, in a directory of its own")
    path.parent.mkdir(parents=True, exist_ok=True)
    timeline = BacktestTimeline(data.candles, data.instrument, Settlements(data.settlements),
                                data.start_ms)
    clock = timeline.clock
    journal = open_journal(settings, durable=False)  # a scratch file: no fsync per commit
    broker = PaperBroker(settings, data.instrument, journal, clock_speed=lambda: clock.speed)
    parts = EngineParts(rest=BacktestRest(timeline, [*data.warmup, *data.candles]),
                        provider=ReplayFeed(timeline), instrument=data.instrument,
                        journal=journal, broker=broker, strategy=strategy, clock=clock,
                        metrics=Metrics(), notifier=NullNotifier(), timeline=timeline,
                        executor=InlineExecutor())
    runner = AsyncRunner(settings, parts)
    runner.api_ready.set()

    def after_candle(candle: Candle) -> None:
        equity.append((candle.close_time, runner.engine.equity()))

    timeline.after_candle = after_candle
    timeline.quiet = lambda: broker.position is None and not broker.working_orders
    return runner


async def run_backtest(settings: Settings, strategy: Strategy, data: BacktestData,
                       data_dir: Path) -> BacktestResult:
    """Run the engine over ``data`` with its journal in ``data_dir`` (which must hold none);
    raises ``LedgerInvariantError`` if the journal's money does not add up."""
    settings = backtest_settings(settings, data_dir)
    equity: list[EquityPoint] = []
    runner = assemble(settings, strategy, data, equity)
    await runner.run()
    path = journal_path(settings)
    return BacktestResult(data=data, strategy=strategy.name, journal=path,
                          ledger=summarize(path), equity=equity)


def backtest(settings: Settings, strategy: Strategy, data: BacktestData,
             data_dir: Path) -> BacktestResult:
    return asyncio.run(run_backtest(settings, strategy, data, data_dir))


__all__ = ["BacktestData", "BacktestResult", "EquityPoint", "InlineExecutor", "assemble",
           "backtest", "backtest_settings", "run_backtest"]
