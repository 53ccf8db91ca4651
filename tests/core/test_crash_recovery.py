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
from laptop_agents.paper.invariant import check_ledger
from laptop_agents.storage.journal import Journal
from tests.core import crash_driver

ROOT = Path(__file__).resolve().parents[2]
KILLS = 20  # deterministic, at chosen SQL statements
ASYNC_KILLS = 6  # by a signal from the test, wherever it lands


def start(journal: Path, cwd: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "LOGURU_LEVEL": "WARNING", **env}
    with open(cwd / "driver.log", "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "tests.core.crash_driver", str(journal)],
            cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=log,
        )


def run(journal: Path, cwd: Path, kill_at: int | None = None,
        env: dict[str, str] | None = None) -> bool:
    """Run the driver; SIGKILL it from here once it reports step ``kill_at``, or let it kill
    itself (``CRASH_AT`` in ``env``). True if it finished."""
    proc = start(journal, cwd, env or {})
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
    if kill_at is None and "CRASH_AT" not in (env or {}):
        assert finished and code == 0, log
    elif finished:
        # An outside kill can land late: the previous one may have let the driver get past
        # this kill point already, and then it just finishes. That is a clean end, not a bug.
        assert kill_at is not None and code == 0, log
    else:
        assert code == -signal.SIGKILL, log
    return finished


def progress(journal: Path) -> int:
    raw = Path(str(journal) + ".progress").read_bytes()
    return int(raw) if raw.strip() else 0


def read_trace(journal: Path) -> dict[int, list[str]]:
    """Every step's SQL statements in the reference run, in order."""
    steps: dict[int, list[str]] = {}
    for line in Path(str(journal) + ".trace").read_text().splitlines():
        step, sql = line.split("\t", 1)
        steps.setdefault(int(step), []).append(sql)
    return steps


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
    check_ledger(journal, broker.balance)  # the one invariant, exact to the smallest unit
    p = broker.position
    assert replay_position(journal) == (None if p is None else (p.side, p.qty, p.entry_price))
    journal.close()
    return broker


def fill_transactions(trace: dict[int, list[str]]) -> list[tuple[int, int, int]]:
    """(step, first, commit) of every fill transaction: killing the process before statement
    ``first..commit`` (1-based: the statement after the fill's INSERT up to the COMMIT) must
    leave none of it in the journal; killing it before ``commit + 1`` must leave all of it."""
    found = []
    for step, sqls in trace.items():
        for i, sql in enumerate(sqls):
            if sql.startswith("INSERT INTO fills"):
                commit = next(j for j in range(i, len(sqls)) if sqls[j] == "COMMIT")
                found.append((step, i + 2, commit + 1))
    return found


@pytest.mark.slow
def test_sigkill_at_random_points_loses_and_duplicates_nothing(tmp_path: Path) -> None:
    steps = len(crash_driver.script())
    reference = tmp_path / "reference" / "journal.sqlite"
    assert run(reference, tmp_path, env={"CRASH_TRACE": "1"})
    ref_broker = check_consistent(reference)
    assert len(table(reference, "SELECT * FROM trades")) >= 10  # the script really trades
    assert len(table(reference, "SELECT * FROM funding")) >= 3  # and pays funding
    ref_fills = table(reference, f"SELECT {FILL_COLUMNS} FROM fills ORDER BY seq")
    trace = read_trace(reference)
    fills_before = {step: sum(sql.startswith("INSERT INTO fills") for s2, sqls in trace.items()
                              if s2 < step for sql in sqls) for step in trace}

    def check(path: Path) -> None:
        check_consistent(path)  # consistent at every interruption, not only at the end
        fills = table(path, f"SELECT {FILL_COLUMNS} FROM fills ORDER BY seq")
        assert fills == ref_fills[:len(fills)], "the journal is not a prefix of the reference"

    crashed = tmp_path / "crashed" / "journal.sqlite"
    rng = random.Random(1234)
    # 1) Deterministic kills by the process itself before a seeded SQL statement of a seeded
    #    step, spread over the whole script: every other one inside (or just after) a fill
    #    transaction, the others at any statement of any step that writes, including "after the
    #    step's writes, before its progress" (the replay-after-commit case).
    fills = fill_transactions(trace)
    outcomes = set()
    for n in range(KILLS):
        done = progress(crashed) if crashed.exists() else 0
        window = done + 2 * (steps - done) // (KILLS - n)
        if n % 2 == 0:
            ahead = [f for f in fills if f[0] > done]
            if not ahead:
                continue
            step, first, commit = rng.choice([f for f in ahead if f[0] <= window] or ahead[:1])
            committed = rng.random() < 0.5
            k = commit + 1 if committed else rng.randint(first, commit)
        else:
            later = [st for st in trace if done < st <= window]
            if not later:
                continue
            step = rng.choice(later)
            k = rng.randint(1, len(trace[step]) + 1)
        run(crashed, tmp_path, env={"CRASH_AT": f"{step}:{k}"})
        assert progress(crashed) == step  # killed inside that step, before its progress
        check(crashed)
        if n % 2 == 0:
            count = len(table(crashed, "SELECT seq FROM fills"))
            assert count == fills_before[step] + committed, (step, k, committed)
            outcomes.add(committed)
    assert outcomes == {True, False}  # both sides of a fill's COMMIT were hit
    # 2) Kills from outside at whatever instant the signal lands.
    for point in sorted(rng.sample(range(progress(crashed) + 1, steps), ASYNC_KILLS)):
        if run(crashed, tmp_path, kill_at=point):
            break
        check(crashed)
    while not run(crashed, tmp_path):
        pass

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
        "SELECT * FROM funding ORDER BY ts",
    ):
        assert table(crashed, sql) == table(reference, sql), sql
