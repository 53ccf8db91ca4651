"""`laptop-agents account show | reset`: the paper account read from its journal, no daemon.

``show`` reads the journal of the chosen source (journal-sim.sqlite3 or journal.sqlite3 in the
data directory) and checks the ledger invariant on the way. ``reset`` takes the data
directory's lock (so it refuses while a daemon holds it: exit 75, naming the PID), moves the
journal aside as a timestamped archive, and starts a fresh account with the given starting
equity. The archive is an ordinary journal: ``LA_DATA_DIR`` pointed at a copy of it shows it.
"""

from __future__ import annotations

import sqlite3
import time
from decimal import Decimal
from pathlib import Path

from laptop_agents.config import Settings
from laptop_agents.datadir import lock_data_dir
from laptop_agents.errors import ConfigError
from laptop_agents.jsontypes import JSONObject, to_json
from laptop_agents.paper.invariant import check_ledger
from laptop_agents.paper.margin import initial_margin
from laptop_agents.session.describe import describe_position
from laptop_agents.storage.journal import Journal
from laptop_agents.storage.schema import SCHEMA_VERSION


def journal_file(settings: Settings) -> Path:
    from laptop_agents.session.wiring import journal_path

    return journal_path(settings)


def account_summary(settings: Settings) -> JSONObject:
    """Balance, equity, realised PnL, fees, funding, margin in use and the open positions."""
    path = journal_file(settings)
    if not path.exists():
        zero = Decimal(0)
        return to_json({
            "source": settings.source, "journal": str(path), "exists": False,
            "starting_equity": settings.starting_equity, "balance": settings.starting_equity,
            "equity": settings.starting_equity, "equity_ms": None, "realized_pnl": zero,
            "fees_paid": zero, "funding_paid": zero, "liquidation_fees": zero,
            "margin_used": zero, "available": settings.starting_equity, "trades": 0,
            "positions": [], "working_orders": 0})  # type: ignore[return-value]
    journal = Journal(path)
    try:
        totals = check_ledger(journal)
        positions = journal.positions()
        orders = journal.working_orders(settings.symbol)
        margin = sum((p.margin for p in positions), Decimal(0)) + sum(
            (initial_margin(o.qty, o.price, settings.leverage) for o in orders), Decimal(0))
        history = journal.equity_history(limit=1)
        equity_ms, equity = history[-1] if history else (None, totals.balance)
        trades = len(journal.trades(limit=10**9))
    finally:
        journal.close()
    return to_json({
        "source": settings.source, "journal": str(path), "exists": True,
        "starting_equity": totals.starting_equity, "balance": totals.balance,
        "equity": equity if positions else totals.balance,
        "equity_ms": equity_ms if positions else None,
        "realized_pnl": totals.realized_pnl, "fees_paid": totals.fees,
        "funding_paid": totals.funding, "liquidation_fees": totals.liquidation_fees,
        "margin_used": margin, "available": totals.balance - margin, "trades": trades,
        "positions": [{**p.to_dict(), "description": describe_position(p)} for p in positions],
        "working_orders": len(orders)})  # type: ignore[return-value]


def archive_name(path: Path, now: float | None = None) -> Path:
    stamp = time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(time.time() if now is None else now))
    return path.with_name(f"{path.stem}-{stamp}{path.suffix}")


def reset_account(settings: Settings, starting_equity: Decimal | None) -> tuple[Path | None,
                                                                                Decimal]:
    """Archive the journal and start a fresh account; (archive path or None, starting
    equity). Raises DataDirLockedError (exit 75) while a daemon holds the data directory."""
    equity = settings.starting_equity if starting_equity is None else starting_equity
    if equity <= 0:
        raise ConfigError(f"invalid --starting-equity {equity}: must be positive")
    data_dir = settings.data_dir.expanduser()
    data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    lock = lock_data_dir(data_dir)  # refuses (exit 75) beside a running daemon
    try:
        path = journal_file(settings)
        archive = None
        if path.exists():
            _fold_wal(path)
            archive = archive_name(path)
            n = 1
            while archive.exists():  # two resets in one second
                archive = path.with_name(f"{archive.stem}-{n}{path.suffix}")
                n += 1
            path.rename(archive)
            for suffix in ("-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
        fresh = Journal(path)
        try:
            fresh.load_account(equity)
        finally:
            fresh.close()
        return archive, equity
    finally:
        lock.release()


def _fold_wal(path: Path) -> None:
    """Fold the WAL into the main file, so the archive is one self-contained file."""
    conn = sqlite3.connect(path)
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise ConfigError(f"{path} was written by a newer laptop-agents; not touched")
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        conn.close()
