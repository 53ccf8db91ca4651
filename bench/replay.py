"""Figure: replay throughput. "Replay runs at least 50,000 quotes per second."

A synthetic recording (the real file format, written by the real SegmentWriter): the REST
warm-up answers, then ``quotes`` best bid/offers 100 ms apart in a random walk, a closed
candle every 600 of them, each followed by the strategy's two stamped steps (context, decision)
as a recorder writes them. ``laptop-agents replay``'s own code reads, decodes and runs it: the
real AsyncRunner, price guard, broker and SQLite journal, with a strategy that enters long at
market whenever flat (stop and target 0.1 % away), so a position is open most of the time and
every quote goes through the exit checks. Measured: quotes / wall seconds, file read included.

Baseline, same run: the same quotes (already decoded) pushed through ``PaperBroker.on_tick``
alone, with the same kind of position open, on an in-memory broker.
"""

from __future__ import annotations

import random
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bench.stats import Options
from bench.table import Row
from laptop_agents.config import Settings
from laptop_agents.models import DEFAULT_BTCUSDT, Candle, FundingQuote, Side, Tick
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.record.codec import Point, encode_item, encode_point
from laptop_agents.record.files import FORMAT_VERSION, SegmentWriter
from laptop_agents.record.recorder import SECRETS, encode_all
from laptop_agents.record.replay import load, quotes, replay, summarize
from laptop_agents.session.timeline import Stamp
from laptop_agents.session.wiring import journal_path
from laptop_agents.strategy.base import Decision, OrderIntent, StrategyContext

D = Decimal
QTY = D("0.01")
START_MS = 1_750_000_000_000 // 60_000 * 60_000
TICK_MS = 100
PER_CANDLE = 600


class EnterWhenFlat:
    name = "bench-enter"
    warmup = 1

    def decide(self, ctx: StrategyContext) -> Decision:
        if ctx.position is not None or ctx.has_working_order:
            return Decision(None, "hold")
        close = ctx.candles[-1].close
        return Decision(OrderIntent(side=Side.LONG, order_type="market", qty=QTY, entry=close,
                                    stop=(close * D("0.999")).quantize(D("0.1")),
                                    target=(close * D("1.001")).quantize(D("0.1")),
                                    setup="bench", reason="flat", atr=D("10")), "enter")


def _candle(open_ms: int, prices: list[Decimal]) -> Candle:
    return Candle("BTCUSDT", "1min", open_ms, prices[0], max(prices), min(prices), prices[-1],
                  D("1"), prices[-1])


def stream(n: int, seed: int = 1) -> tuple[list[Candle], list[list[object]], list[Tick]]:
    """(warm-up candles, encoded records, the ticks) of a synthetic session."""
    rng = random.Random(seed)
    warm = [_candle(START_MS - (150 - i) * 60_000, [D("60000.0")]) for i in range(150)]
    records: list[list[object]] = []
    ticks: list[Tick] = []
    mid, mono, bucket = 600_000, 1000.0, []  # mid in tenths of a dollar
    for i in range(n):
        mid += rng.choice((-20, -10, -5, 0, 5, 10, 20))
        ts = START_MS + i * TICK_MS
        tick = Tick("BTCUSDT", D(mid) / 10, D(mid + 1) / 10, D("1.5"), D("2"), None, ts)
        ticks.append(tick)
        bucket.append(tick.bid)
        mono += TICK_MS / 1000
        records.append(encode_item(tick, mono))
        if (i + 1) % PER_CANDLE == 0:
            candle = _candle(ts + TICK_MS - 60_000, bucket)
            bucket = []
            records.append(encode_item(candle, mono))
            for kind in ("context", "decision"):
                records.append(encode_point(Point(kind, Stamp(ts + 1, mono, 1.0))))
    return warm, records, ticks


def write(directory: Path, settings: Settings, n: int) -> tuple[Path, list[Tick]]:
    import msgspec

    warm, records, ticks = stream(n)
    header = {"version": FORMAT_VERSION, "source": "sim", "symbol": "BTCUSDT",
              "interval": "1min", "started_ms": START_MS,
              "settings": settings.model_dump_json(exclude=SECRETS),
              "instrument": msgspec.msgpack.encode(DEFAULT_BTCUSDT), "journal": None}
    writer = SegmentWriter(directory, "bench", header, max_bytes=10**12, max_seconds=1e12,
                           keep=10)
    writer.open()
    stamp = Stamp(START_MS, 1000.0, 1.0)
    writer.write(encode_all([
        1.0, Point("rest.klines", stamp, warm),
        Point("rest.funding_rate", stamp, FundingQuote("BTCUSDT", D("0.0001"), D("60000"),
                                                       None)),
    ]))
    writer.write(records)
    writer.close(encode_all([Point("stop", Stamp(START_MS + n * TICK_MS, 1000.0 + n / 10,
                                                 1.0))]))
    return writer.first, ticks


def broker_alone(settings: Settings, ticks: list[Tick]) -> float:
    broker = PaperBroker(settings, DEFAULT_BTCUSDT)
    started = time.perf_counter()
    for tick in ticks:
        if broker.position is None:
            close = tick.bid
            broker.submit(EnterWhenFlat().decide(StrategyContext(
                candles=(_candle(tick.ts, [close]),), position=None, equity=broker.equity(tick),
                instrument=DEFAULT_BTCUSDT, candles_since_exit=None,
                has_working_order=False)).intent or _never(), tick, tick.ts)
        broker.on_tick(tick)
    return len(ticks) / (time.perf_counter() - started)


def _never() -> OrderIntent:
    raise AssertionError("the bench strategy always enters when flat")


async def run(options: Options) -> list[Row]:
    n = options.scale(200_000, 20_000)
    rates: list[float] = []
    bases: list[float] = []
    with tempfile.TemporaryDirectory(prefix="bench-replay-") as tmp:
        root = Path(tmp)
        settings = Settings(source="sim", data_dir=root / "unused", api_enabled=False,
                            history_candles=150, warmup_candles=100, stale_after=5.0,
                            max_orders_per_minute=1000)
        path, ticks = write(root / "recording", settings, n)
        for rep in range(options.reps):
            started = time.perf_counter()
            recording = load(path)
            runner = await replay(recording, root / f"replay-{rep}", strategy=EnterWhenFlat())
            rates.append(quotes(recording) / (time.perf_counter() - started))
            trades = len(summarize(journal_path(runner.settings)).trades)
            bases.append(broker_alone(settings, ticks))
        size = path.stat().st_size
    return [Row("replay: recording -> engine -> journal", "quotes/s", rates, bases,
                "PaperBroker.on_tick alone", target=">= 50,000 quotes/s",
                check=lambda median, ratio: median >= 50_000,
                note=f"{n:,} quotes, {n // PER_CANDLE} candles, {trades} trades; file "
                     f"{size / 1e6:.1f} MB")]
