"""A deterministic scripted trading sequence against a journal, resumable after SIGKILL.

    python -m tests.core.crash_driver JOURNAL_PATH

Prints the index of every completed step (one per line, flushed) and ``done`` at the end.
``CRASH_AT=STEP:K`` makes the process SIGKILL itself during step STEP, just before the K-th
SQL statement of that step (K = 1 is the first; a K past the last statement kills after the
step's writes, before its progress is recorded), so a crash lands deterministically inside a
transaction, between COMMIT and the progress write, or anywhere else the test chooses.
``CRASH_TRACE=1`` writes every step's SQL statements to ``JOURNAL_PATH.trace`` (one line each:
``step<TAB>statement``) so the test can choose those points.
Progress is a fixed-width number in ``JOURNAL_PATH.progress``, written (pwrite) AFTER each
step's journal writes, so after a kill it lags the journal by at most the step in flight.
On restart the broker is rebuilt from the journal, re-observes the market data it had seen
(the engine's warm-up does the same), and the step in flight is replayed: every broker
operation is idempotent for a state that already contains its effects.
"""

from __future__ import annotations

import os
import random
import signal
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Literal

from laptop_agents.config import Settings
from laptop_agents.models import DEFAULT_BTCUSDT, Candle, FundingSettlement, Side, Tick
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.storage.journal import Journal
from laptop_agents.strategy.base import OrderIntent

SEED = 20260301
START_MS = 1_772_407_800_000  # 2026-03-01T23:30:00Z: the run crosses a UTC midnight
MINUTES = 150
TICK_SECONDS = 2
# Minutes without quotes: limit fills and exits then come from the candle ranges.
QUIET_MINUTES = {12, 13, 14, 44, 45, 61, 62, 63, 100, 101, 102}
D = Decimal


def driver_settings() -> Settings:
    return Settings(
        _env_file=None,
        slippage_bps=D(1),
        trailing_stop_atr=D("1.5"),
        daily_loss_cap_pct=D("0.006"),
        max_position_qty=D(1),
        limit_expiry_candles=3,
    )


@dataclass(frozen=True)
class Step:
    kind: Literal["tick", "candle", "submit", "flatten", "cancel", "funding"]
    tick: Tick | None = None
    settlement: FundingSettlement | None = None
    candle: Candle | None = None
    intent: OrderIntent | None = None
    now_ms: int = 0


def script() -> list[Step]:
    rng = random.Random(SEED)
    steps: list[Step] = []
    mid = D("50000.0")
    last_tick: Tick | None = None
    for minute in range(MINUTES):
        start = START_MS + minute * 60_000
        quiet = minute in QUIET_MINUTES
        prices = []
        for second in range(0, 60, TICK_SECONDS):
            mid += D(rng.randint(-80, 80)) / 10
            prices.append(mid)
            if quiet:
                continue
            last_tick = Tick("BTCUSDT", mid, mid + D("0.1"), D(1), D(1), mid,
                             start + second * 1000)
            steps.append(Step("tick", tick=last_tick))
            if rng.random() < 0.0015:
                steps.append(Step("flatten", tick=last_tick))
        candle = Candle("BTCUSDT", "1min", start, prices[0], max(prices), min(prices),
                        prices[-1], D(10), prices[-1] * 10)
        steps.append(Step("candle", candle=candle))
        if minute % 7 == 3:  # a settlement off any round grid, its rate changing sign
            rate = D("0.0001") * ((minute // 7) % 5 - 2)
            steps.append(Step("funding", settlement=FundingSettlement(
                "BTCUSDT", start + 31_234, rate, prices[len(prices) // 2])))
        if rng.random() < 0.6:
            quote = None if quiet else last_tick
            side = rng.choice([Side.LONG, Side.SHORT])
            order_type: Literal["market", "limit"] = rng.choice(["market", "limit"])
            sign = 1 if side is Side.LONG else -1
            offset = D(rng.randint(0, 80)) if order_type == "limit" else D(0)
            if quiet:  # a near limit that only a candle's range can fill
                order_type, offset = "limit", D(rng.randint(0, 10))
            entry = prices[-1] - sign * offset
            risk = D(rng.randint(20, 90))
            reward = risk * D(rng.choice(["1.5", "2", "3"]))
            steps.append(Step("submit", tick=quote, now_ms=candle.close_time, intent=OrderIntent(
                side=side, order_type=order_type, qty=D(rng.choice(["0.05", "0.1", "0.2"])),
                entry=entry, stop=entry - sign * risk, target=entry + sign * reward,
                setup="scripted", reason=f"step {len(steps)}", atr=D(rng.randint(20, 60)),
            )))
        if rng.random() < 0.04:
            steps.append(Step("cancel"))
    return steps


def run(journal_path: Path) -> None:
    steps = script()
    journal = Journal(journal_path)  # creates the directory
    progress_path = Path(str(journal_path) + ".progress")
    fd = os.open(progress_path, os.O_CREAT | os.O_RDWR, 0o600)
    raw = os.pread(fd, 12, 0)
    start = int(raw) if raw.strip() else 0
    broker = PaperBroker(driver_settings(), DEFAULT_BTCUSDT, journal)
    # Re-observe the market data the broker had seen before the interruption.
    seen_tick = next((s.tick for s in reversed(steps[:start]) if s.tick is not None), None)
    seen_candle = next((s.candle for s in reversed(steps[:start]) if s.candle is not None), None)
    broker.observe(seen_tick, seen_candle)
    kill_step, kill_k = (int(v) for v in os.environ.get("CRASH_AT", "-1:0").split(":"))
    trace: list[str] | None = [] if os.environ.get("CRASH_TRACE") else None
    current = -1
    statements = 0

    def on_statement(sql: str) -> None:
        nonlocal statements
        if current < 0:
            return  # outside the steps (rebuild on start): not a chosen kill point
        statements += 1
        if trace is not None:
            trace.append(f"{current}\t{' '.join(sql.split())}\n")
        if current == kill_step and statements == kill_k:
            os.kill(os.getpid(), signal.SIGKILL)

    journal._conn.set_trace_callback(on_statement)
    out = sys.stdout
    for index in range(start, len(steps)):
        current, statements = index, 0
        step = steps[index]
        if step.kind == "tick" and step.tick is not None:
            broker.on_tick(step.tick)
        elif step.kind == "candle" and step.candle is not None:
            broker.on_candle(step.candle)
            journal.record_equity(step.candle.close_time, broker.equity(None))
        elif step.kind == "submit" and step.intent is not None:
            broker.submit(step.intent, step.tick, step.now_ms)
        elif step.kind == "flatten" and step.tick is not None:
            broker.flatten(step.tick, "scripted flatten")
        elif step.kind == "cancel":
            broker.cancel_working_orders("scripted cancel")
        elif step.kind == "funding" and step.settlement is not None:
            broker.apply_funding(step.settlement)
        if index == kill_step:  # K past the step's last statement: writes done, progress not
            os.kill(os.getpid(), signal.SIGKILL)
        current = -1
        os.pwrite(fd, b"%012d" % (index + 1), 0)
        out.write(f"{index}\n")
        out.flush()
    if trace is not None:
        Path(str(journal_path) + ".trace").write_text("".join(trace))
    out.write("done\n")
    out.flush()
    journal.close()


if __name__ == "__main__":
    run(Path(sys.argv[1]))
