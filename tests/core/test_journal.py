"""Journal: schema, permissions, round trips, idempotency and broker rebuild."""

from __future__ import annotations

import dataclasses
import sqlite3
import stat
from pathlib import Path

import pytest

from laptop_agents.models import Side
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.storage.journal import SCHEMA_VERSION, Journal, JournalError
from laptop_agents.storage.rows import AccountTotals
from tests.core.factories import INSTRUMENT, MIN, T0, D, intent, settings, tick


def make(path: Path, **overrides: object) -> tuple[Journal, PaperBroker]:
    journal = Journal(path)
    overrides.setdefault("slippage_bps", D(0))
    return journal, PaperBroker(settings(**overrides), INSTRUMENT, journal)


def test_creates_private_wal_database(tmp_path: Path) -> None:
    path = tmp_path / "state" / "deep" / "journal.sqlite"
    journal = Journal(path)
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert journal.schema_version == SCHEMA_VERSION >= 1
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    conn.close()
    assert journal._conn.execute("PRAGMA synchronous").fetchone()[0] == 2  # FULL
    journal.close()
    Journal(path).close()  # reopening an up-to-date schema is a no-op


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    Journal(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(JournalError, match="newer"):
        Journal(path)


def test_unwritable_location_raises_journal_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(JournalError):
        Journal(blocker / "journal.sqlite")


def test_pause_state_and_equity_round_trip(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    assert journal.pause_state() == (False, None)
    journal.set_pause(True, "maintenance")
    journal.record_equity(T0, D("10000.12345678"))
    journal.record_equity(T0 + MIN, D("9999.5"))
    journal.close()
    journal = Journal(tmp_path / "j.sqlite")
    assert journal.pause_state() == (True, "maintenance")
    assert journal.equity_history() == [(T0, D("10000.12345678")), (T0 + MIN, D("9999.5"))]
    journal.set_pause(False, "ignored when resuming")
    assert journal.pause_state() == (False, None)
    journal.close()


def test_working_order_survives_restart_and_is_idempotent(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal, b = make(path)
    r = b.submit(intent(Side.LONG, "limit", entry=49500, stop=49400, target=49900),
                 tick(50000), T0)
    journal.close()
    journal, b = make(path)
    [order] = b.working_orders
    assert order.order_id == r.order_id and order.price == D(49500)
    again = b.submit(intent(Side.LONG, "limit", entry=49500, stop=49400, target=49900),
                     tick(50000), T0)
    assert again.code == "duplicate" and len(b.working_orders) == 1
    # it still fills after the restart
    b.on_tick(tick(49490, "49499.9", ts=T0 + 1000))
    assert b.position is not None and b.position.entry_price == D(49500)
    journal.close()


def test_open_position_with_trailing_stop_is_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal, b = make(path, trailing_stop_atr=D(1))
    b.submit(intent(Side.SHORT, entry=50000, stop=50200, target=49500, atr=100),
             tick(50000), T0)
    b.on_tick(tick(49800, "49800.1", ts=T0 + 1000))
    before = b.position
    equity = b.equity(tick(49800, "49800.1"))
    journal.close()
    journal, b = make(path, trailing_stop_atr=D(1))
    assert b.position == before and before is not None
    assert before.trailing_stop == D("49900.1")  # ask 49800.1 + 100
    assert b.equity(tick(49800, "49800.1")) == equity
    assert b.position_view() is not None
    journal.close()


def test_account_trades_and_day_state_rebuilt(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal, b = make(path)
    for i, (side, exit_bid) in enumerate([(Side.LONG, 50300), (Side.SHORT, 50250)]):
        now = T0 + i * MIN
        b.submit(intent(side, entry=50000, stop=50000 - 200 * (1 if side is Side.LONG else -1),
                        target=50000 + 250 * (1 if side is Side.LONG else -1)),
                 tick(50000, 50000, ts=now), now)
        b.on_tick(tick(exit_bid, exit_bid, ts=now + 1000))
    snapshot = (b.balance, b.fees_paid, b.realized_pnl, b.realized_pnl_today, b.last_exit_ms,
                b.day_start_equity)
    trades = b.trades()
    journal.close()
    journal, b = make(path)
    assert (b.balance, b.fees_paid, b.realized_pnl, b.realized_pnl_today, b.last_exit_ms,
            b.day_start_equity) == snapshot
    assert b.trades() == trades and len(trades) == 2
    assert trades[0].closed_ms > trades[1].closed_ms  # newest first
    assert b.trades(since_ms=T0 + MIN) == trades[:1]
    assert b.trades(limit=1) == trades[:1]
    assert trades[1].exit_reason == "target" and trades[0].exit_reason == "stop"
    # balance = start + realised - fees, exactly, and from the fills alone
    fills = journal.fills()
    assert b.balance == D(10000) + sum(f.realized_pnl for f in fills) - sum(f.fee for f in fills)
    journal.close()


def test_same_fill_is_never_written_twice(tmp_path: Path) -> None:
    journal, b = make(tmp_path / "j.sqlite")
    r = b.submit(intent(), tick(50000), T0)
    [fill] = r.fills
    assert b.position is not None
    assert not journal.apply_fill(fill, order=None, position=b.position, trade=None,
                                  totals=AccountTotals(D(0), D(999), D(0), D(0), None))
    assert len(journal.fills()) == 1
    assert journal.load_account(D(1)).fees_total == fill.fee  # untouched by the refused write
    journal.close()


def test_only_the_duplicate_fill_id_is_refused_quietly(tmp_path: Path) -> None:
    # The duplicate check is the INSERT's ON CONFLICT(fill_id): any other broken constraint
    # must still fail loudly, never pass for "already journaled".
    journal, b = make(tmp_path / "j.sqlite")
    [fill] = b.submit(intent(), tick(50000), T0).fills
    broken = dataclasses.replace(fill, fill_id="another", reason=None)
    with pytest.raises(JournalError):
        journal.apply_fill(broken, order=None, position=b.position, trade=None,
                           totals=AccountTotals(D(0), D(0), D(0), D(0), None))
    assert [f.fill_id for f in journal.fills()] == [fill.fill_id]
    journal.close()


def test_starting_equity_is_fixed_by_the_journal(tmp_path: Path) -> None:
    path = tmp_path / "j.sqlite"
    journal, b = make(path, starting_equity=D(5000))
    assert b.balance == D(5000)
    journal.close()
    journal, b = make(path, starting_equity=D(8000))
    assert b.balance == D(5000) and b.starting_equity == D(5000)
    journal.close()
