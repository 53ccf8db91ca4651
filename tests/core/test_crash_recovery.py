"""Crash recovery: SIGKILL a real process at many seeded points of a scripted trading
sequence, restart it each time, and compare the journal with an uninterrupted run."""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from laptop_agents.models import DEFAULT_BTCUSDT, Side
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.storage.journal import Journal
from tests.core import crash_driver

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20


def start(journal: Path, cwd: Path) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOGURU_LEVEL": "WARNING"}
    with open(cwd / "driver.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.core.crash_driver", str(journal)],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=log,
        )


def run(journal: Path, cwd: Path, kill_at: int | None = None) -> bool:
    """Run the driver; SIGKILL it once it reports step ``kill_at``. True if it finished."""
    proc = start(journal, cwd)
    assert proc.stdout is not None
    finished = False
    try:
        for line in proc.stdout:
            if line == b"done\n":
                finished = True
                break
            if kill_at is not None and int(line) >= kill_at:
                os.kill(proc.pid, signal.SIGKILL)
                break
    finally:
        proc.stdout.close()
        code = proc.wait(timeout=30)
    log = (cwd / "driver.log").read_text()[-3000:]
    if finished or kill_at is None:
        assert finished and code == 0, log
    else:
        assert code == -signal.SIGKILL, log
    return finished


def table(path: Path, sql: str) -> list[tuple[Any, ...]]:
    conn = sqlite3.connect(path)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


FILL_COLUMNS = ("fill_id, order_id, side, kind, qty, price, intended_price, slippage, fee, "
                "liquidity, realized_pnl, reason, ts")


def replay_position(journal: Journal) -> tuple[Side, Decimal, Decimal] | None:
    """The open position implied by the fills alone."""
    position = None
    for fill in journal.fills():
        if fill.kind == "entry":
            assert position is None, f"entry {fill.fill_id} while a position was open"
            position = (Side.LONG if fill.side == "buy" else Side.SHORT, fill.qty, fill.price)
        else:
            assert position is not None, f"exit {fill.fill_id} without a position"
            assert fill.qty == position[1]
            position = None
    return position


def check_consistent(path: Path) -> PaperBroker:
    journal = Journal(path)
    broker = PaperBroker(crash_driver.driver_settings(), DEFAULT_BTCUSDT, journal)
    fills = journal.fills()
    ids = [f.fill_id for f in fills]
    assert len(ids) == len(set(ids)), "a fill was duplicated"
    expected = broker.starting_equity + sum(f.realized_pnl for f in fills) - sum(
        f.fee for f in fills)
    assert broker.balance == expected  # exact, hence to the cent
    p = broker.position
    assert replay_position(journal) == (None if p is None else (p.side, p.qty, p.entry_price))
    journal.close()
    return broker


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    steps = len(crash_driver.script())
    reference = tmp_path / "reference" / "journal.sqlite"
    assert run(reference, tmp_path)
    ref_broker = check_consistent(reference)
    assert len(table(reference, "SELECT * FROM trades")) >= 10  # the script really trades

    crashed = tmp_path / "crashed" / "journal.sqlite"
    points = sorted(random.Random(1234).sample(range(1, steps), KILLS))
    finished = False
    for point in points:
        finished = run(crashed, tmp_path, kill_at=point)
        if finished:
            break
        check_consistent(crashed)  # consistent at every interruption, not only at the end
    while not finished:
        finished = run(crashed, tmp_path)

    broker = check_consistent(crashed)
    assert broker.balance == ref_broker.balance
    assert broker.position == ref_broker.position
    assert broker.realized_pnl_today == ref_broker.realized_pnl_today
    assert broker.entries_paused_reason == ref_broker.entries_paused_reason
    for sql in (
        f"SELECT {FILL_COLUMNS} FROM fills ORDER BY seq",
        "SELECT * FROM trades ORDER BY closed_ms, trade_id",
        "SELECT * FROM orders ORDER BY order_id",
        "SELECT * FROM positions",
        "SELECT * FROM account",
        "SELECT * FROM equity ORDER BY ts_ms",
    ):
        assert table(crashed, sql) == table(reference, sql), sql
