"""Figure: backtest throughput. "The backtest runs at least 20,000 one-minute candles per
second with the built-in strategy" (issue #15, part 5).

``candles`` one-minute candles of the simulator's deterministic history (seed 42, pinned
clock; generated once, outside the timing, as a stored series would be read) run through
``laptop_agents.backtest.run.backtest``: the real AsyncRunner on the backtest timeline (four
path quotes and four marks per candle, then the closed candle), the built-in Supervisor
deciding on every candle, the paper broker and the SQLite journal, and the ledger check at the
end. Measured: range candles / wall seconds of the whole run. The note gives the strategy's
share of it (time inside ``Supervisor.decide``). Two rows: the default settings, where the 3 %
daily loss cap pauses entries for part of most days (the engine then does not ask the
strategy, and quiet candles send only their close), and the cap out of the way, so the
Supervisor trades all day and more candles run the full four-point path.

Baseline, same run: the same candles' path quotes and closed candles pushed through
``PaperBroker.on_tick`` / ``on_candle`` alone, in memory, with no strategy.
"""

from __future__ import annotations

import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench.stats import Options
from bench.table import Row
from laptop_agents.backtest.path import path_quotes
from laptop_agents.backtest.run import BacktestData, run_backtest
from laptop_agents.config import Settings
from laptop_agents.models import DEFAULT_BTCUSDT, Candle
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange
from laptop_agents.strategy.base import Decision, Strategy, StrategyContext
from laptop_agents.strategy.supervisor import Supervisor

HOUR_MS = 3_600_000
START_MS = 1_700_000_000_000 // HOUR_MS * HOUR_MS
WARMUP = 300


class Timed:
    """The strategy, with the time spent deciding added up."""

    def __init__(self, inner: Strategy) -> None:
        self.inner, self.name, self.warmup = inner, inner.name, inner.warmup
        self.seconds = 0.0

    def decide(self, ctx: StrategyContext) -> Decision:
        started = time.perf_counter()
        try:
            return self.inner.decide(ctx)
        finally:
            self.seconds += time.perf_counter() - started


def history(minutes: int) -> list[Candle]:
    sim = SimExchange(SimOptions(seed=42, start_ms=START_MS,
                                 origin_ms=START_MS - minutes * 60_000))
    return sim.closed_candles("BTCUSDT", "1min")


def broker_alone(settings: Settings, candles: list[Candle]) -> float:
    broker = PaperBroker(settings, DEFAULT_BTCUSDT)
    tick_size = DEFAULT_BTCUSDT.tick_size
    started = time.perf_counter()
    for candle in candles:
        for _, tick in path_quotes(candle, tick_size):
            broker.on_tick(tick)
        broker.on_candle(candle)
    return len(candles) / (time.perf_counter() - started)


# The configurations measured: the defaults, and the daily loss cap out of the way, so the
# Supervisor trades all day (more candles with a position or a working order: the full path).
CONFIGS: tuple[tuple[str, dict[str, object]], ...] = (
    ("Supervisor, default settings", {}),
    ("Supervisor, daily cap off", {"daily_loss_cap_pct": Decimal(1)}),
)


async def measure(options: Options, data: BacktestData, label: str,
                  overrides: dict[str, object], tmp: Path) -> Row:
    rates: list[float] = []
    bases: list[float] = []
    shares: list[float] = []
    trades = 0
    settings = Settings(source="sim", data_dir=tmp / "unused").model_copy(update=overrides)
    for rep in range(options.reps):
        strategy = Timed(Supervisor(settings))
        started = time.perf_counter()
        # The bench's own loop is running: the engine runs in it, as a daemon's would.
        result = await run_backtest(settings, strategy, data, tmp / f"{label}-{rep}")
        elapsed = time.perf_counter() - started
        rates.append(len(data.candles) / elapsed)
        shares.append(strategy.seconds / elapsed)
        trades = len(result.trades)
        bases.append(broker_alone(settings, data.candles))
    share = sorted(shares)[len(shares) // 2]
    return Row(f"backtest: candles -> engine ({label})", "candles/s", rates, bases,
               "path quotes + closes through PaperBroker alone", target=">= 20,000 candles/s",
               check=lambda median, ratio: median >= 20_000,
               note=f"{len(data.candles):,} 1-min sim candles, {trades} trades; "
                    f"Supervisor.decide {share:.0%} of the run")


async def run(options: Options) -> list[Row]:
    n = options.scale(30_000, 3_000)
    candles = history(n + WARMUP)
    data = BacktestData(DEFAULT_BTCUSDT, candles[:WARMUP], candles[WARMUP:], None,
                        candles[WARMUP].open_time, candles[-1].close_time, "sim:42:bench")
    with tempfile.TemporaryDirectory(prefix="bench-backtest-") as tmp:
        return [await measure(options, data, label, overrides, Path(tmp))
                for label, overrides in CONFIGS]


__all__ = ["run"]
