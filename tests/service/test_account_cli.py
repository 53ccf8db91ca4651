"""`laptop-agents account show | reset` as a user runs them: real processes, real journals."""

from __future__ import annotations

import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import orjson

from laptop_agents.config import Settings
from laptop_agents.errors import EXIT_LOCKED
from laptop_agents.models import DEFAULT_BTCUSDT, Side
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.invariant import check_ledger
from laptop_agents.storage.journal import Journal
from tests.core.factories import T0, intent, tick
from tests.support.daemon import ROOT, DaemonProcess, clean_env


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(LA_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "laptop_agents", "account", *args],
                          capture_output=True, text=True, env=env, timeout=60)


def seed_trade(data_dir: Path) -> Decimal:
    """One closed trade and one open position in the simulator's journal; the balance."""
    data_dir.mkdir(parents=True, exist_ok=True)
    journal = Journal(data_dir / "journal-sim.sqlite3")
    broker = PaperBroker(Settings(slippage_bps=Decimal(0)), DEFAULT_BTCUSDT, journal)
    assert broker.submit(intent(Side.LONG), tick(50000), T0).accepted
    broker.on_tick(tick(50300, ts=T0 + 1000))  # target
    assert broker.submit(intent(Side.SHORT, entry=50300, stop=50900, target=49000),
                         tick(50300), T0 + 2000).accepted
    balance = broker.balance
    journal.close()
    return balance


def test_show_prints_the_account_and_its_json(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    balance = seed_trade(data_dir)
    shown = cli(data_dir, "show")
    assert shown.returncode == 0, shown.stderr
    assert str(balance) in shown.stdout and "short 0.1@50300.0" in shown.stdout
    data = orjson.loads(cli(data_dir, "show", "--json").stdout)
    assert Decimal(data["balance"]) == balance and data["trades"] == 1
    assert Decimal(data["margin_used"]) == Decimal("1006")  # 0.1 x 50300 / 5
    assert Decimal(data["available"]) == balance - Decimal("1006")
    assert [p["side"] for p in data["positions"]] == ["short"]


def test_reset_archives_the_journal_and_starts_a_fresh_account(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    balance = seed_trade(data_dir)
    reset = cli(data_dir, "reset", "--starting-equity", "2500")
    assert reset.returncode == 0, reset.stderr
    [archive] = data_dir.glob("journal-sim-*.sqlite3")
    assert str(archive) in reset.stdout
    old = Journal(archive)
    assert check_ledger(old).balance == balance and len(old.trades()) == 1
    old.close()
    data = orjson.loads(cli(data_dir, "show", "--json").stdout)
    assert data["balance"] == data["starting_equity"] == "2500"
    assert data["trades"] == 0 and data["positions"] == []


def test_reset_refuses_while_a_daemon_holds_the_data_dir(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    with DaemonProcess(data_dir, token=None) as daemon:
        daemon.url()  # up: it holds the lock and its journal
        refused = cli(data_dir, "reset")
        assert refused.returncode == EXIT_LOCKED, refused.stderr
        assert f"pid {daemon.proc.pid}" in refused.stderr
        assert daemon.proc.poll() is None
    assert not list(data_dir.glob("journal-sim-*.sqlite3"))  # nothing was archived
    assert cli(data_dir, "reset").returncode == 0  # once it stopped, reset works
