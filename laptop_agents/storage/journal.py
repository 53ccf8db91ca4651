"""The SQLite journal: the durable record the paper broker is rebuilt from after any crash.

Durability model (docs/paper-trading.md, "Journal"):

* WAL mode with ``synchronous=FULL``: a committed transaction survives power loss and SIGKILL.
* Every state change is ONE short transaction. A fill, the order status it completes, the
  position it opens or closes, the trade it finishes and the account totals it moves are
  written together, so after a crash the journal holds either all of them or none.
* Client order ids and deterministic fill ids are primary/unique keys: writing the same fill
  twice is refused (``apply_fill`` returns False), so a replayed step never duplicates one.
* Decimals are stored as TEXT and read back exactly; SQL never does arithmetic on money.
* The schema is versioned with ``PRAGMA user_version`` and the ``MIGRATIONS`` list.

All calls are synchronous and short; the engine makes them on the event loop thread.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from laptop_agents.models import Side
from laptop_agents.paper.models import Fill, Order, OrderStatus, Position, Trade

EQUITY_RETENTION_MS = 30 * 86_400_000  # equity snapshots older than 30 days are pruned

# Each entry upgrades the schema by one version; never edit a released entry, append one.
MIGRATIONS: list[str] = [
    # version 1
    """
    CREATE TABLE orders (
        order_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL,
        order_type TEXT NOT NULL, qty TEXT NOT NULL, price TEXT NOT NULL, stop TEXT NOT NULL,
        target TEXT NOT NULL, atr TEXT NOT NULL, setup TEXT NOT NULL, reason TEXT NOT NULL,
        created_ms INTEGER NOT NULL, status TEXT NOT NULL, status_reason TEXT,
        updated_ms INTEGER
    );
    CREATE INDEX orders_status ON orders(symbol, status);
    CREATE INDEX orders_created ON orders(created_ms);
    CREATE TABLE fills (
        seq INTEGER PRIMARY KEY AUTOINCREMENT, fill_id TEXT NOT NULL UNIQUE,
        order_id TEXT NOT NULL, symbol TEXT NOT NULL, side TEXT NOT NULL, kind TEXT NOT NULL,
        qty TEXT NOT NULL, price TEXT NOT NULL, intended_price TEXT NOT NULL,
        slippage TEXT NOT NULL, fee TEXT NOT NULL, liquidity TEXT NOT NULL,
        realized_pnl TEXT NOT NULL, reason TEXT NOT NULL, ts INTEGER NOT NULL
    );
    CREATE TABLE trades (
        trade_id TEXT PRIMARY KEY, symbol TEXT NOT NULL, side TEXT NOT NULL, qty TEXT NOT NULL,
        entry_price TEXT NOT NULL, exit_price TEXT NOT NULL, opened_ms INTEGER NOT NULL,
        closed_ms INTEGER NOT NULL, gross_pnl TEXT NOT NULL, fees TEXT NOT NULL,
        realized_pnl TEXT NOT NULL, exit_reason TEXT NOT NULL, setup TEXT NOT NULL
    );
    CREATE INDEX trades_closed ON trades(closed_ms);
    CREATE TABLE positions (
        symbol TEXT PRIMARY KEY, side TEXT NOT NULL, qty TEXT NOT NULL,
        entry_price TEXT NOT NULL, stop TEXT, target TEXT, trailing_stop TEXT,
        opened_ms INTEGER NOT NULL, entry_order_id TEXT NOT NULL, entry_fee TEXT NOT NULL,
        atr TEXT NOT NULL, setup TEXT NOT NULL
    );
    CREATE TABLE account (
        id INTEGER PRIMARY KEY CHECK (id = 1), starting_equity TEXT NOT NULL,
        realized_total TEXT NOT NULL, fees_total TEXT NOT NULL, last_exit_ms INTEGER,
        risk_day TEXT, day_start_equity TEXT, day_start_balance TEXT, risk_pause_reason TEXT
    );
    CREATE TABLE equity (ts_ms INTEGER PRIMARY KEY, equity TEXT NOT NULL);
    CREATE TABLE pause (
        id INTEGER PRIMARY KEY CHECK (id = 1), paused INTEGER NOT NULL, reason TEXT
    );
    CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)


class JournalError(Exception):
    """A journal read or write failed (disk full, read-only file, corrupt database)."""


@dataclass(frozen=True, slots=True)
class AccountRow:
    starting_equity: Decimal
    realized_total: Decimal  # gross realised PnL of every exit fill
    fees_total: Decimal
    last_exit_ms: int | None
    risk_day: str | None  # UTC date (YYYY-MM-DD) the daily-loss figures belong to
    day_start_equity: Decimal | None
    day_start_balance: Decimal | None
    risk_pause_reason: str | None


def _d(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def _s(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def _order(row: sqlite3.Row) -> Order:
    return Order(
        order_id=row["order_id"], symbol=row["symbol"], side=Side(row["side"]),
        order_type=row["order_type"], qty=Decimal(row["qty"]), price=Decimal(row["price"]),
        stop=Decimal(row["stop"]), target=Decimal(row["target"]), atr=Decimal(row["atr"]),
        setup=row["setup"], reason=row["reason"], created_ms=row["created_ms"],
        status=OrderStatus(row["status"]),
    )


def _fill(row: sqlite3.Row) -> Fill:
    return Fill(
        fill_id=row["fill_id"], order_id=row["order_id"], symbol=row["symbol"],
        side=row["side"], kind=row["kind"], qty=Decimal(row["qty"]),
        price=Decimal(row["price"]), intended_price=Decimal(row["intended_price"]),
        slippage=Decimal(row["slippage"]), fee=Decimal(row["fee"]),
        liquidity=row["liquidity"], realized_pnl=Decimal(row["realized_pnl"]),
        reason=row["reason"], ts=row["ts"],
    )


def _trade(row: sqlite3.Row) -> Trade:
    return Trade(
        trade_id=row["trade_id"], symbol=row["symbol"], side=Side(row["side"]),
        qty=Decimal(row["qty"]), entry_price=Decimal(row["entry_price"]),
        exit_price=Decimal(row["exit_price"]), opened_ms=row["opened_ms"],
        closed_ms=row["closed_ms"], gross_pnl=Decimal(row["gross_pnl"]),
        fees=Decimal(row["fees"]), realized_pnl=Decimal(row["realized_pnl"]),
        exit_reason=row["exit_reason"], setup=row["setup"],
    )


def _position(row: sqlite3.Row) -> Position:
    return Position(
        symbol=row["symbol"], side=Side(row["side"]), qty=Decimal(row["qty"]),
        entry_price=Decimal(row["entry_price"]), stop=_d(row["stop"]), target=_d(row["target"]),
        trailing_stop=_d(row["trailing_stop"]), opened_ms=row["opened_ms"],
        entry_order_id=row["entry_order_id"], entry_fee=Decimal(row["entry_fee"]),
        atr=Decimal(row["atr"]), setup=row["setup"],
    )


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Create the file ourselves so it is never world-readable, even for an instant.
            fd = os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600)
            os.close(fd)
            self._conn = sqlite3.connect(
                self.path, isolation_level=None, check_same_thread=False, timeout=5.0
            )
            self._conn.row_factory = sqlite3.Row
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise JournalError(f"{self.path}: could not switch to WAL mode (got {mode})")
            self._conn.execute("PRAGMA synchronous=FULL")
            self._migrate()
        except (sqlite3.Error, OSError) as error:
            raise JournalError(f"{self.path}: {error}") from error
        for suffix in ("-wal", "-shm"):
            side_file = self.path.with_name(self.path.name + suffix)
            if side_file.exists():
                side_file.chmod(0o600)

    # --- plumbing --------------------------------------------------------------------------
    def close(self) -> None:
        self._conn.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        """One short write transaction; rolled back on any error."""
        conn = self._conn
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        except sqlite3.Error as error:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise JournalError(f"{self.path}: {error}") from error

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as error:
            raise JournalError(f"{self.path}: {error}") from error

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise JournalError(
                f"{self.path}: schema version {version} is newer than this program "
                f"({SCHEMA_VERSION})"
            )
        for number, script in enumerate(MIGRATIONS[version:], start=version + 1):
            with self._tx() as conn:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])

    # --- account ---------------------------------------------------------------------------
    def load_account(self, starting_equity: Decimal) -> AccountRow:
        """The account row, created with ``starting_equity`` on first use (then kept as is)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO account (id, starting_equity, realized_total, fees_total)"
                " VALUES (1, ?, '0', '0')",
                (str(starting_equity),),
            )
        row = self._read("SELECT * FROM account WHERE id = 1")[0]
        return AccountRow(
            starting_equity=Decimal(row["starting_equity"]),
            realized_total=Decimal(row["realized_total"]),
            fees_total=Decimal(row["fees_total"]),
            last_exit_ms=row["last_exit_ms"],
            risk_day=row["risk_day"],
            day_start_equity=_d(row["day_start_equity"]),
            day_start_balance=_d(row["day_start_balance"]),
            risk_pause_reason=row["risk_pause_reason"],
        )

    def save_risk_day(
        self,
        day: str,
        day_start_equity: Decimal,
        day_start_balance: Decimal,
        pause_reason: str | None,
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE account SET risk_day = ?, day_start_equity = ?, day_start_balance = ?,"
                " risk_pause_reason = ? WHERE id = 1",
                (day, str(day_start_equity), str(day_start_balance), pause_reason),
            )

    # --- orders ----------------------------------------------------------------------------
    def insert_order(self, order: Order) -> bool:
        """Record a new working order; False when the client order id is already known."""
        with self._tx() as conn:
            cursor = conn.execute(
                "INSERT OR IGNORE INTO orders (order_id, symbol, side, order_type, qty, price,"
                " stop, target, atr, setup, reason, created_ms, status, updated_ms)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                self._order_params(order),
            )
            return cursor.rowcount == 1

    @staticmethod
    def _order_params(order: Order) -> tuple[Any, ...]:
        return (
            order.order_id, order.symbol, order.side.value, order.order_type, str(order.qty),
            str(order.price), str(order.stop), str(order.target), str(order.atr), order.setup,
            order.reason, order.created_ms, order.status.value, order.created_ms,
        )

    def get_order(self, order_id: str) -> Order | None:
        rows = self._read("SELECT * FROM orders WHERE order_id = ?", (order_id,))
        return _order(rows[0]) if rows else None

    def working_orders(self, symbol: str) -> list[Order]:
        rows = self._read(
            "SELECT * FROM orders WHERE symbol = ? AND status = ? ORDER BY created_ms",
            (symbol, OrderStatus.WORKING.value),
        )
        return [_order(r) for r in rows]

    def order_times_since(self, since_ms: int) -> list[int]:
        rows = self._read(
            "SELECT created_ms FROM orders WHERE created_ms >= ? ORDER BY created_ms",
            (since_ms,),
        )
        return [int(r[0]) for r in rows]

    def recent_order_times(self, limit: int) -> list[int]:
        """Creation times of the ``limit`` newest orders, oldest first (rate-limit rebuild)."""
        rows = self._read(
            "SELECT created_ms FROM orders ORDER BY created_ms DESC LIMIT ?", (limit,)
        )
        return sorted(int(r[0]) for r in rows)

    def set_order_status(
        self, order_id: str, status: OrderStatus, reason: str, ts: int | None
    ) -> None:
        with self._tx() as conn:
            conn.execute(
                "UPDATE orders SET status = ?, status_reason = ?, updated_ms = ?"
                " WHERE order_id = ?",
                (status.value, reason, ts, order_id),
            )

    # --- fills: the one transaction that moves money ---------------------------------------
    def apply_fill(
        self,
        fill: Fill,
        *,
        order: Order | None,
        position: Position | None,
        trade: Trade | None,
        realized_total: Decimal,
        fees_total: Decimal,
        last_exit_ms: int | None,
    ) -> bool:
        """Write a fill and everything it changes atomically; False if ``fill_id`` exists.

        ``order`` (final state) is inserted or updated; ``position`` replaces the symbol's
        position row, or deletes it when None; ``trade`` is the round trip the fill closes.
        """
        with self._tx() as conn:
            if conn.execute("SELECT 1 FROM fills WHERE fill_id = ?", (fill.fill_id,)).fetchone():
                return False
            conn.execute(
                "INSERT INTO fills (fill_id, order_id, symbol, side, kind, qty, price,"
                " intended_price, slippage, fee, liquidity, realized_pnl, reason, ts)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    fill.fill_id, fill.order_id, fill.symbol, fill.side, fill.kind,
                    str(fill.qty), str(fill.price), str(fill.intended_price),
                    str(fill.slippage), str(fill.fee), fill.liquidity, str(fill.realized_pnl),
                    fill.reason, fill.ts,
                ),
            )
            if order is not None:
                conn.execute(
                    "INSERT INTO orders (order_id, symbol, side, order_type, qty, price, stop,"
                    " target, atr, setup, reason, created_ms, status, updated_ms)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
                    " ON CONFLICT(order_id) DO UPDATE SET status = excluded.status,"
                    " status_reason = 'filled', updated_ms = ?",
                    (*self._order_params(order), fill.ts),
                )
            if position is None:
                conn.execute("DELETE FROM positions WHERE symbol = ?", (fill.symbol,))
            else:
                self._write_position(conn, position)
            if trade is not None:
                conn.execute(
                    "INSERT INTO trades (trade_id, symbol, side, qty, entry_price, exit_price,"
                    " opened_ms, closed_ms, gross_pnl, fees, realized_pnl, exit_reason, setup)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        trade.trade_id, trade.symbol, trade.side.value, str(trade.qty),
                        str(trade.entry_price), str(trade.exit_price), trade.opened_ms,
                        trade.closed_ms, str(trade.gross_pnl), str(trade.fees),
                        str(trade.realized_pnl), trade.exit_reason, trade.setup,
                    ),
                )
            conn.execute(
                "UPDATE account SET realized_total = ?, fees_total = ?, last_exit_ms = ?"
                " WHERE id = 1",
                (str(realized_total), str(fees_total), last_exit_ms),
            )
        return True

    @staticmethod
    def _write_position(conn: sqlite3.Connection, p: Position) -> None:
        conn.execute(
            "INSERT OR REPLACE INTO positions (symbol, side, qty, entry_price, stop, target,"
            " trailing_stop, opened_ms, entry_order_id, entry_fee, atr, setup)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (
                p.symbol, p.side.value, str(p.qty), str(p.entry_price), _s(p.stop),
                _s(p.target), _s(p.trailing_stop), p.opened_ms, p.entry_order_id,
                str(p.entry_fee), str(p.atr), p.setup,
            ),
        )

    def update_position(self, position: Position) -> None:
        """Persist a changed stop, target or trailing stop of the open position."""
        with self._tx() as conn:
            self._write_position(conn, position)

    def load_position(self, symbol: str) -> Position | None:
        rows = self._read("SELECT * FROM positions WHERE symbol = ?", (symbol,))
        return _position(rows[0]) if rows else None

    def fills(self, symbol: str | None = None) -> list[Fill]:
        """Every fill in execution order (for audits, tests and reconciliation)."""
        if symbol is None:
            rows = self._read("SELECT * FROM fills ORDER BY seq")
        else:
            rows = self._read("SELECT * FROM fills WHERE symbol = ? ORDER BY seq", (symbol,))
        return [_fill(r) for r in rows]

    def fills_since(self, since_ms: int) -> list[Fill]:
        rows = self._read("SELECT * FROM fills WHERE ts >= ? ORDER BY seq", (since_ms,))
        return [_fill(r) for r in rows]

    def trades(self, limit: int = 100, since_ms: int | None = None) -> list[Trade]:
        """Closed trades, newest first; ``since_ms`` keeps those closed at or after it."""
        limit = max(0, int(limit))
        if since_ms is None:
            rows = self._read(
                "SELECT * FROM trades ORDER BY closed_ms DESC, rowid DESC LIMIT ?", (limit,)
            )
        else:
            rows = self._read(
                "SELECT * FROM trades WHERE closed_ms >= ? ORDER BY closed_ms DESC, rowid DESC"
                " LIMIT ?",
                (since_ms, limit),
            )
        return [_trade(r) for r in rows]

    # --- equity snapshots, pause state, metadata -------------------------------------------
    def record_equity(self, ts_ms: int, equity: Decimal) -> None:
        """One snapshot per timestamp (a repeat replaces it); older than 30 days is pruned."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO equity (ts_ms, equity) VALUES (?, ?)", (ts_ms, str(equity))
            )
            conn.execute("DELETE FROM equity WHERE ts_ms < ?", (ts_ms - EQUITY_RETENTION_MS,))

    def equity_history(self, limit: int = 1000) -> list[tuple[int, Decimal]]:
        rows = self._read(
            "SELECT ts_ms, equity FROM equity ORDER BY ts_ms DESC LIMIT ?", (limit,)
        )
        return [(int(r[0]), Decimal(r[1])) for r in reversed(rows)]

    def set_pause(self, paused: bool, reason: str | None) -> None:
        """The manual trading pause; persisted so a restart stays paused."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO pause (id, paused, reason) VALUES (1, ?, ?)",
                (1 if paused else 0, reason if paused else None),
            )

    def pause_state(self) -> tuple[bool, str | None]:
        rows = self._read("SELECT paused, reason FROM pause WHERE id = 1")
        if not rows:
            return False, None
        return bool(rows[0][0]), rows[0][1]

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None
