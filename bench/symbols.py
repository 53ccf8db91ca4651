"""Issue #16 part 6, many symbols: the real daemon process trading 1, 10, 50 and 100 contracts.

One simulator process (bench/symbols_sim.py) serves all 100 contracts at the live push rates
and speed 1: depth_book1 ~3/s, klines 2/s, price 1/s per subscribed symbol. For each count a
fresh daemon (``python -m laptop_agents run --source bitunix``, LA_SYMBOLS = the first N
contracts: BTCUSDT, the real names, then SIM001USDT...) restores one long position per symbol
seeded into its journal before the start (as bench/tick_exit_daemon.py does), with a stop
``STOP_PCT`` below the entry; the plug-in strategy bench/hold_strategy.py never enters, so no
other position appears. Per count:

- over ``WINDOW_S`` of the API's normal load (``GET /status`` at ``STATUS_RATE``/s and one
  ``/ws`` feed client on every kind, bench/load.py's ``hammer``): the daemon's CPU (utime +
  stime from /proc/<pid>/stat, all threads, as % of one core), its RSS at the end, and its
  loop lag p99 (the daemon's own 50 ms sampler: every /status answer's ``loop_lag_ms.last``,
  repeats collapsed);
- then ``TRIALS`` crossings: the simulator scripts a random seeded symbol's bid ``CROSS_PCT``
  below its mid (``script_price``), and tick -> exit is the crossing depth frame's write (the
  simulator's clock) to the daemon's "trade closed" line on the bench's end of its stderr
  (socket -> log), and ``la_watchdog_reaction_seconds`` (in-daemon: the tick's hand-over to
  the engine to the committed exit), as in bench/tick_exit_daemon.py.

Baseline: the 1-symbol run of the same repetition. The goals are issue #16's at 50 symbols.
"""

from __future__ import annotations

import asyncio
import os
import random
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import ROUND_DOWN, ROUND_UP, Decimal
from pathlib import Path

import aiohttp

from bench.daemon import Daemon, running
from bench.load import hammer
from bench.stats import ROOT, Options, percentile, rss_mb
from bench.symbols_sim import SymbolsSim
from bench.table import Row
from laptop_agents.config import Settings
from laptop_agents.models import Instrument, Side, Tick
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.session.wiring import journal_path
from laptop_agents.sim.contracts import SPECS
from laptop_agents.storage.journal import Journal
from laptop_agents.strategy.base import OrderIntent

D = Decimal
COUNTS = (1, 10, 50, 100)
STATUS_RATE = 10.0  # GET /status per second: a few pages polling
STOP_PCT = D("0.006")  # stop below the entry
CROSS_PCT = D("0.015")  # the crossing bid below the mid (inside the 5 % price band)
NOTIONAL = D("20")  # USDT per seeded position
STARTUP_TIMEOUT_S = 180.0  # 100 symbols' history over REST
EXIT_TIMEOUT_S = 10.0
STRATEGY = f"{ROOT / 'bench' / 'hold_strategy.py'}:Hold"
REACTION = "la_watchdog_reaction_seconds"


@dataclass
class Sample:
    """One count's figures in one repetition."""

    cpu_pct: float
    rss: float
    lag_p99: float
    load: float  # 1-minute load average at the end of the window
    exit_log: list[float] = field(default_factory=list)  # ms per crossing
    exit_in: list[float] = field(default_factory=list)
    skipped: int = 0  # crossings another exit overlapped (not counted)


def instrument(symbol: str) -> Instrument:
    spec = SPECS[symbol]
    return Instrument(symbol, D(1).scaleb(-spec.price_decimals), D(1).scaleb(-spec.size_decimals),
                      D(spec.min_trade_volume), spec.max_leverage)


def settings_for(data_dir: Path, sim: SymbolsSim, symbols: tuple[str, ...]) -> Settings:
    return Settings(source="bitunix", data_dir=data_dir, bitunix_rest_url=sim.rest_url,
                    bitunix_ws_url=sim.ws_url, symbols=",".join(symbols),
                    max_position_qty=D("1e15"), max_orders_per_minute=1000)


def seed_positions(settings: Settings, mids: dict[str, Decimal]) -> None:
    """One long per symbol (~NOTIONAL USDT) into a fresh journal; stop STOP_PCT below."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(journal_path(settings))
    first: PaperBroker | None = None
    now = time.time_ns() // 1_000_000
    for symbol, mid in mids.items():
        inst = instrument(symbol)
        broker = PaperBroker(settings, inst, journal, account=first)
        first = first or broker
        tick_size = inst.tick_size
        bid = mid.quantize(tick_size, ROUND_DOWN)
        qty = max(inst.min_qty, (NOTIONAL / mid / inst.lot_step).to_integral_value(ROUND_UP)
                  * inst.lot_step)
        stop = (bid * (1 - STOP_PCT)).quantize(tick_size, ROUND_DOWN)
        target = (bid * D("1.05")).quantize(tick_size, ROUND_UP)
        tick = Tick(symbol, bid, bid + tick_size, D(1), D(1), bid, now)
        intent = OrderIntent(Side.LONG, "market", qty, tick.ask, stop, target, "bench",
                             "seeded", bid * D("0.001"))
        result = broker.submit(intent, tick, now)
        assert result.accepted, f"{symbol}: {result.reason}"
    journal.close()


def cpu_seconds(pid: int) -> float:
    """utime + stime of every thread of ``pid`` so far (s)."""
    with open(f"/proc/{pid}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def reaction(http: aiohttp.ClientSession, base: str) -> tuple[float, float]:
    """(sum, count) of the daemon's la_watchdog_reaction_seconds histogram."""
    async with http.get(f"{base}/metrics") as response:
        text = await response.text()
    values = {line.split()[0]: float(line.split()[1]) for line in text.splitlines()
              if line.startswith(REACTION) and " " in line}
    return values.get(f"{REACTION}_sum", 0.0), values.get(f"{REACTION}_count", 0.0)


async def wait_ready(daemon: Daemon, http: aiohttp.ClientSession) -> None:
    """The API line, then /readyz answering 200 (every symbol warm and quoted)."""
    _, match, _ = await daemon.wait_for(r"control API listening on http://127\.0\.0\.1:(\d+)/",
                                        timeout=STARTUP_TIMEOUT_S)
    daemon.port = int(match[1])
    async with asyncio.timeout(STARTUP_TIMEOUT_S):
        while True:
            async with http.get(f"{daemon.base}/readyz") as response:
                if response.status == 200:
                    return
            await asyncio.sleep(0.5)


async def crossings(daemon: Daemon, sim: SymbolsSim, http: aiohttp.ClientSession,
                    symbols: list[str], trials: int, sample: Sample, rng: random.Random) -> None:
    """``trials`` crossings, one at a time, each on a symbol whose position is still open."""
    for symbol in rng.sample(symbols, min(trials, len(symbols))):
        mid = (await sim.mids([symbol]))[symbol]
        bid = (mid * (1 - CROSS_PCT)).quantize(instrument(symbol).tick_size, ROUND_DOWN)
        index = len(daemon.lines)
        sum0, count0 = await reaction(http, daemon.base)
        sent = await sim.cross(symbol, bid)
        logged, _, _ = await daemon.wait_for(r"trade closed pnl=", timeout=EXIT_TIMEOUT_S,
                                             start=index)
        await asyncio.sleep(0.05)  # any second exit (a stop the walk hit) shows up here
        sum1, count1 = await reaction(http, daemon.base)
        if count1 - count0 != 1:
            sample.skipped += 1
            continue
        sample.exit_log.append((logged - sent) / 1e6)
        sample.exit_in.append((sum1 - sum0) * 1000)
        await asyncio.sleep(0.2)


async def one_count(sim: SymbolsSim, n: int, data_dir: Path, options: Options,
                    rng: random.Random) -> Sample:
    """A fresh daemon trading the first ``n`` contracts: its window, then its crossings."""
    symbols = tuple(SPECS)[:n]
    settings = settings_for(data_dir, sim, symbols)
    seed_positions(settings, await sim.mids(list(symbols)))
    daemon = Daemon(data_dir, LA_SOURCE="bitunix", LA_BITUNIX_REST_URL=sim.rest_url,
                    LA_BITUNIX_WS_URL=sim.ws_url, LA_SYMBOLS=",".join(symbols),
                    LA_STRATEGY=STRATEGY, LA_MAX_POSITION_QTY="1e15",
                    LA_MAX_ORDERS_PER_MINUTE="1000")
    async with running(daemon), aiohttp.ClientSession() as http:
        await wait_ready(daemon, http)
        await asyncio.sleep(2.0)  # let start-up's bookkeeping settle
        seconds = options.scale(20, 6)
        cpu0, wall0 = cpu_seconds(daemon.pid), time.monotonic()
        _, lags, _ = await hammer(daemon.base, STATUS_RATE, seconds, 1, lag=True)
        cpu = (cpu_seconds(daemon.pid) - cpu0) / (time.monotonic() - wall0) * 100
        sample = Sample(cpu, rss_mb(daemon.pid), percentile(lags, 99), os.getloadavg()[0])
        await crossings(daemon, sim, http, list(symbols), options.scale(8, 3), sample, rng)
    return sample


async def run(options: Options) -> list[Row]:
    samples: dict[int, list[Sample]] = {n: [] for n in COUNTS}
    async with SymbolsSim(tuple(SPECS)[:max(COUNTS)]) as sim:
        with tempfile.TemporaryDirectory(prefix="bench-symbols-") as tmp:
            for rep in range(options.reps):
                for n in COUNTS:
                    rng = random.Random(f"{rep}:{n}")
                    samples[n].append(await one_count(sim, n, Path(tmp) / f"r{rep}n{n}",
                                                      options, rng))
    return [row for n in COUNTS for row in rows(n, samples[n], samples[COUNTS[0]])]


def rows(n: int, mine: list[Sample], base: list[Sample]) -> list[Row]:
    """The five rows of one count; the 1-symbol run is every other count's baseline."""
    def series(of: list[Sample], key: str) -> list[float]:
        pick: Callable[[Sample], float] = {
                "cpu": lambda s: s.cpu_pct, "rss": lambda s: s.rss, "lag": lambda s: s.lag_p99,
                "log": lambda s: percentile(s.exit_log, 99),
                "in": lambda s: percentile(s.exit_in, 99)}[key]
        return [pick(s) for s in of]

    def row(label: str, unit: str, key: str, target: str, limit: float | None) -> Row:
        return Row(f"{n} symbols: {label}", unit, series(mine, key),
                   series(base, key) if n != COUNTS[0] else [], "1 symbol", target,
                   None if limit is None else (lambda m, r: m <= limit))

    crossed = sum(len(s.exit_log) for s in mine)
    loads = ", ".join(f"{s.load:.2f}" for s in mine)
    cpu = row("daemon CPU", "% core", "cpu", "< 25 % at 50", 25.0)
    cpu.note = (f"load average {loads} (per repetition); {crossed} crossings timed, "
                f"{sum(s.skipped for s in mine)} overlapped by another exit")
    return [cpu, row("RSS", "MB", "rss", "", None),
            row("loop lag p99", "ms", "lag", "<= 5 ms", 5.0),
            row("tick->exit p99, socket->log", "ms", "log", "<= 2 ms", 2.0),
            row("tick->exit p99, in-daemon", "ms", "in", "<= 2 ms", 2.0)]
