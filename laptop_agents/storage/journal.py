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

import sqlite3
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path

from laptop_agents.paper.models import Fill, FundingSettled, Order, OrderStatus, Position, Trade
from laptop_agents.sqlite_file import SqliteFile
from laptop_agents.storage.rows import (
    INSERT_FILL,
    INSERT_FUNDING,
    INSERT_TRADE,
    REPLACE_POSITION,
    UPSERT_FILLED_ORDER,
    AccountRow,
    AccountTotals,
    EquityRow,
    account_from_row,
    equity_from_row,
    fill_from_row,
    fill_params,
    funding_from_row,
    funding_params,
    order_from_row,
    order_params,
    position_from_row,
    position_params,
    text_or_none,
    trade_from_row,
    trade_params,
)
from laptop_agents.storage.schema import EQUITY_RETENTION_MS, MIGRATIONS, SCHEMA_VERSION

# Every column holding an exchange timestamp (latest_ms reads them all).
_TIME_COLUMNS = (("orders", "created_ms"), ("orders", "updated_ms"), ("fills", "ts"),
                 ("trades", "opened_ms"), ("trades", "closed_ms"), ("positions", "opened_ms"),
                 ("equity", "ts_ms"), ("account", "last_exit_ms"))


class JournalError(Exception):
    """A journal read or write failed (disk full, read-only file, corrupt database)."""


class Journal(SqliteFile):
    def __init__(self, path: Path, *, durable: bool = True) -> None:
        # synchronous=FULL: a committed transaction survives power loss, not only SIGKILL.
        # A backtest's journal is a scratch file rebuilt by running again, so it skips the
        # fsync per commit (OFF: each commit still reaches the OS, so a killed run's file
        # stays consistent; only a power loss could cost it).
        super().__init__(path, migrations=MIGRATIONS, synchronous="FULL" if durable else "OFF",
                         busy_timeout=5.0, error=JournalError)
        for suffix in ("-wal", "-shm"):
            side_file = self.path.with_name(self.path.name + suffix)
            if side_file.exists():
                side_file.chmod(0o600)

    # --- account ---------------------------------------------------------------------------
    def load_account(self, starting_equity: Decimal) -> AccountRow:
        """The account row, created with ``starting_equity`` on first use (then kept as is)."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR IGNORE INTO account (id, starting_equity, realized_total, fees_total)"
                " VALUES (1, ?, '0', '0')",
                (str(starting_equity),),
            )
        account = self.read_account()
        assert account is not None
        return account

    def read_account(self) -> AccountRow | None:
        """The account row as it is (None before the first start): reads only."""
        rows = self._read("SELECT * FROM account WHERE id = 1")
        return account_from_row(rows[0]) if rows else None

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
                order_params(order),
            )
            return cursor.rowcount == 1

    def get_order(self, order_id: str) -> Order | None:
        rows = self._read("SELECT * FROM orders WHERE order_id = ?", (order_id,))
        return order_from_row(rows[0]) if rows else None

    def working_orders(self, symbol: str) -> list[Order]:
        rows = self._read(
            "SELECT * FROM orders WHERE symbol = ? AND status = ? ORDER BY created_ms",
            (symbol, OrderStatus.WORKING.value),
        )
        return [order_from_row(r) for r in rows]

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
        totals: AccountTotals,
    ) -> bool:
        """Write a fill and everything it changes atomically; False if ``fill_id`` exists.

        ``order`` (final state) is inserted or updated; ``position`` replaces the symbol's
        position row, or deletes it when None; ``trade`` is the round trip the fill closes.
        """
        with self._tx() as conn:
            # One statement both checks and inserts (the duplicate check used to be a SELECT
            # of its own): the exit's transaction is on the path from tick to durable exit.
            if conn.execute(INSERT_FILL, fill_params(fill)).rowcount != 1:
                return False
            if order is not None:
                conn.execute(UPSERT_FILLED_ORDER, (*order_params(order), fill.ts))
            if position is None:
                conn.execute("DELETE FROM positions WHERE symbol = ?", (fill.symbol,))
            else:
                self._write_position(conn, position)
            if trade is not None:
                conn.execute(INSERT_TRADE, trade_params(trade))
            self._write_totals(conn, totals)
        return True

    @staticmethod
    def _write_totals(conn: sqlite3.Connection, totals: AccountTotals) -> None:
        conn.execute(
            "UPDATE account SET realized_total = ?, fees_total = ?, funding_total = ?,"
            " liquidation_fees_total = ?, last_exit_ms = ? WHERE id = 1",
            (str(totals.realized), str(totals.fees), str(totals.funding),
             str(totals.liquidation_fees), totals.last_exit_ms),
        )

    # --- funding: the other transaction that moves money -----------------------------------
    def apply_funding(
        self,
        settled: FundingSettled,
        *,
        position: Position | None,
        trade: Trade | None,
        totals: AccountTotals,
    ) -> bool:
        """Write one settlement with the position (or closed trade) it changed and the totals;
        False when this symbol's settlement at ``settled.ts`` is already recorded (exactly
        once, whichever path — live push or history on restart — saw it first)."""
        with self._tx() as conn:
            cursor = conn.execute(INSERT_FUNDING, funding_params(settled))
            if cursor.rowcount != 1:
                return False
            if position is not None:
                self._write_position(conn, position)
            if trade is not None:
                conn.execute(
                    "UPDATE trades SET funding = ?, realized_pnl = ? WHERE trade_id = ?",
                    (str(trade.funding), str(trade.realized_pnl), trade.trade_id),
                )
            self._write_totals(conn, totals)
        return True

    def funding_events(self, symbol: str | None = None) -> list[FundingSettled]:
        """Every applied settlement, oldest first."""
        if symbol is None:
            rows = self._read("SELECT * FROM funding ORDER BY ts, symbol")
        else:
            rows = self._read("SELECT * FROM funding WHERE symbol = ? ORDER BY ts", (symbol,))
        return [funding_from_row(r) for r in rows]

    def last_funding_ms(self, symbol: str) -> int | None:
        rows = self._read("SELECT MAX(ts) FROM funding WHERE symbol = ?", (symbol,))
        return None if rows[0][0] is None else int(rows[0][0])

    def last_exit_ms(self, symbol: str) -> int | None:
        """When ``symbol``'s newest trade closed (None: it has none)."""
        rows = self._read("SELECT MAX(closed_ms) FROM trades WHERE symbol = ?", (symbol,))
        return None if rows[0][0] is None else int(rows[0][0])

    def trade_open_at(self, symbol: str, ts: int) -> Trade | None:
        """The closed trade that was open at instant ``ts`` (opened <= ts < closed)."""
        rows = self._read(
            "SELECT * FROM trades WHERE symbol = ? AND opened_ms <= ? AND closed_ms > ?"
            " ORDER BY opened_ms DESC LIMIT 1", (symbol, ts, ts))
        return trade_from_row(rows[0]) if rows else None

    @staticmethod
    def _write_position(conn: sqlite3.Connection, p: Position) -> None:
        conn.execute(REPLACE_POSITION, position_params(p))

    def update_position(self, position: Position) -> None:
        """Persist a changed stop, target or trailing stop of the open position."""
        with self._tx() as conn:
            self._write_position(conn, position)

    def positions(self) -> list[Position]:
        return [position_from_row(r) for r in self._read("SELECT * FROM positions")]

    def load_position(self, symbol: str) -> Position | None:
        rows = self._read("SELECT * FROM positions WHERE symbol = ?", (symbol,))
        return position_from_row(rows[0]) if rows else None

    def fills(self, symbol: str | None = None) -> list[Fill]:
        """Every fill in execution order (for audits, tests and reconciliation)."""
        if symbol is None:
            rows = self._read("SELECT * FROM fills ORDER BY seq")
        else:
            rows = self._read("SELECT * FROM fills WHERE symbol = ? ORDER BY seq", (symbol,))
        return [fill_from_row(r) for r in rows]

    def fills_since(self, since_ms: int) -> list[Fill]:
        rows = self._read("SELECT * FROM fills WHERE ts >= ? ORDER BY seq", (since_ms,))
        return [fill_from_row(r) for r in rows]

    def trades(self, limit: int = 100, since_ms: int | None = None,
               symbol: str | None = None) -> list[Trade]:
        """Closed trades, newest first; ``since_ms`` keeps those closed at or after it,
        ``symbol`` those of one symbol."""
        rows = self._read(
            "SELECT * FROM trades WHERE closed_ms >= ? AND (? IS NULL OR symbol = ?)"
            " ORDER BY closed_ms DESC, rowid DESC LIMIT ?",
            (-1 if since_ms is None else since_ms, symbol, symbol, max(0, int(limit))))
        return [trade_from_row(r) for r in rows]

    # --- equity snapshots, pause state, metadata -------------------------------------------
    def record_equity(self, ts_ms: int, equity: Decimal, *, balance: Decimal | None = None,
                      unrealized: Decimal | None = None,
                      funding_paid: Decimal | None = None) -> None:
        """One snapshot per timestamp (a repeat replaces it); older than 30 days is pruned."""
        with self._tx() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO equity (ts_ms, equity, balance, unrealized, funding_paid)"
                " VALUES (?, ?, ?, ?, ?)",
                (ts_ms, str(equity), text_or_none(balance), text_or_none(unrealized),
                 text_or_none(funding_paid)),
            )
            conn.execute("DELETE FROM equity WHERE ts_ms < ?", (ts_ms - EQUITY_RETENTION_MS,))

    def equity_history(self, limit: int = 1000) -> list[tuple[int, Decimal]]:
        rows = self._read(
            "SELECT ts_ms, equity FROM equity ORDER BY ts_ms DESC LIMIT ?", (limit,)
        )
        return [(int(r[0]), Decimal(r[1])) for r in reversed(rows)]

    def equity_since(self, since_ms: int = 0) -> list[tuple[int, Decimal]]:
        """Every (ts_ms, equity) at or after ``since_ms``, oldest first: what a chart is
        downsampled from (the other parts are read for the points kept: equity_rows)."""
        rows = self._read("SELECT ts_ms, equity FROM equity WHERE ts_ms >= ? ORDER BY ts_ms",
                          (since_ms,))
        return [(int(r[0]), Decimal(r[1])) for r in rows]

    def equity_rows(self, timestamps: Sequence[int]) -> list[EquityRow]:
        """The whole snapshots at these timestamps, oldest first."""
        found: list[EquityRow] = []
        for start in range(0, len(timestamps), 500):  # SQLite's bound-parameter limit
            chunk = timestamps[start:start + 500]
            marks = ",".join("?" * len(chunk))
            found += [equity_from_row(r) for r in self._read(
                f"SELECT * FROM equity WHERE ts_ms IN ({marks})", tuple(chunk))]
        return sorted(found, key=lambda row: row.ts_ms)

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

    def latest_ms(self) -> int | None:
        """The latest timestamp anywhere in the journal (exchange ms), None when it is empty.

        The embedded simulator resumes after it (sim/resume.py), so time never goes back.
        """
        parts = " UNION ALL ".join(f"SELECT MAX({column}) AS t FROM {table}"
                                   for table, column in _TIME_COLUMNS)
        rows = self._read(f"SELECT MAX(t) FROM ({parts})")
        value = rows[0][0]
        return None if value is None else int(value)

    def set_meta(self, key: str, value: str) -> None:
        with self._tx() as conn:
            conn.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))

    def get_meta(self, key: str) -> str | None:
        rows = self._read("SELECT value FROM meta WHERE key = ?", (key,))
        return rows[0][0] if rows else None


__all__ = ["SCHEMA_VERSION", "AccountRow", "Journal", "JournalError"]
