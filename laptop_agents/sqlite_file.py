"""SqliteFile: the plumbing the journal and the candle store share.

A private file (created 0600 in a 0700 directory before SQLite opens it), WAL mode, a versioned
schema (``PRAGMA user_version`` and a list of migration scripts, each upgrading it by one), one
short ``BEGIN IMMEDIATE`` transaction per change, and every SQLite or OS error raised as the
owner's own error class naming the file. The owners choose the durability (``synchronous``)
and how long to wait for another process's transaction.
"""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any


class SqliteFile:
    def __init__(self, path: Path, *, migrations: Sequence[str], synchronous: str,
                 busy_timeout: float, error: type[Exception]) -> None:
        self.path = Path(path)
        self._error = error
        self._migrations = migrations
        try:
            self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
            # Create the file ourselves so it is never world-readable, even for an instant.
            os.close(os.open(self.path, os.O_CREAT | os.O_RDWR, 0o600))
            self._conn = sqlite3.connect(self.path, isolation_level=None,
                                         check_same_thread=False, timeout=busy_timeout)
            self._conn.row_factory = sqlite3.Row
            mode = self._conn.execute("PRAGMA journal_mode=WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise error(f"{self.path}: could not switch to WAL mode (got {mode})")
            self._conn.execute(f"PRAGMA synchronous={synchronous}")
            self._migrate()
        except (sqlite3.Error, OSError) as failure:
            raise error(f"{self.path}: {failure}") from failure

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
        except sqlite3.Error as failure:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise self._error(f"{self.path}: {failure}") from failure

    def _read(self, sql: str, params: tuple[Any, ...] = ()) -> list[sqlite3.Row]:
        try:
            return self._conn.execute(sql, params).fetchall()
        except sqlite3.Error as failure:
            raise self._error(f"{self.path}: {failure}") from failure

    def _migrate(self) -> None:
        version = self._conn.execute("PRAGMA user_version").fetchone()[0]
        latest = len(self._migrations)
        if version > latest:
            raise self._error(f"{self.path}: schema version {version} is newer than this "
                              f"program ({latest})")
        for number, script in enumerate(self._migrations[version:], start=version + 1):
            with self._tx() as conn:
                for statement in script.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {number}")

    @property
    def schema_version(self) -> int:
        return int(self._read("PRAGMA user_version")[0][0])
