"""The candle store: closed, REST-confirmed candles in SQLite, by source, symbol and interval.

One file in the data directory (``candles.sqlite3``), apart from the journal: it holds market
history that can always be fetched again, never the account. So:

* WAL mode with a busy timeout: ``laptop-agents history fetch`` may write while a daemon
  appends its closed candles; each waits for the other's short transaction instead of failing.
* ``synchronous=NORMAL``: a power cut may lose the last transactions, never corrupt the file,
  and what is lost is fetched again (the journal's FULL costs an fsync per candle for nothing).
* Upserts keyed by (source, symbol, interval, open_time): storing a candle twice is harmless.
* Decimals as TEXT, read back exactly.
* ``covered`` remembers which ranges of open times have been asked of the exchange, answered
  or not. A fetch skips them (resume), and a covered open time without a candle is a gap the
  exchange itself lacks: listed, never invented.

All calls are synchronous and short; the daemon makes them on the event loop thread.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from laptop_agents.data.history.ranges import Range, merge, subtract
from laptop_agents.data.history.schema import MIGRATIONS, UPSERT_CANDLE
from laptop_agents.models import WS_INTERVAL_MS, Candle
from laptop_agents.sqlite_file import SqliteFile

CANDLE_STORE_FILE = "candles.sqlite3"
BUSY_TIMEOUT_S = 10.0  # another process's transaction is a few ms; wait rather than fail
_KEY = "source = ? AND symbol = ? AND interval = ?"


class CandleStoreError(Exception):
    """A candle-store read or write failed (read-only file, full disk, corrupt database)."""


@dataclass(frozen=True, slots=True)
class SeriesKey:
    """One stored series: whose market (``source``), which contract, which interval."""

    source: str
    symbol: str
    interval: str  # WebSocket spelling, e.g. "1min"

    @property
    def step(self) -> int:
        return WS_INTERVAL_MS[self.interval]

    def params(self) -> tuple[str, str, str]:
        return self.source, self.symbol, self.interval


@dataclass(frozen=True, slots=True)
class SeriesSummary:
    key: SeriesKey
    first: int | None  # open time of the oldest stored candle
    last: int | None  # open time of the newest
    count: int
    gaps: list[Range]  # covered ranges the exchange had no candle for


def _candle(key: SeriesKey, row: sqlite3.Row) -> Candle:
    return Candle(symbol=key.symbol, interval=key.interval, open_time=int(row["open_time"]),
                  open=Decimal(row["open"]), high=Decimal(row["high"]), low=Decimal(row["low"]),
                  close=Decimal(row["close"]), volume=Decimal(row["volume"]),
                  quote_volume=Decimal(row["quote_volume"]))


class CandleStore(SqliteFile):
    def __init__(self, path: Path) -> None:
        super().__init__(path, migrations=MIGRATIONS, synchronous="NORMAL",
                         busy_timeout=BUSY_TIMEOUT_S, error=CandleStoreError)

    # --- writes ----------------------------------------------------------------------------
    def add(self, key: SeriesKey, candles: Iterable[Candle], covered: Range | None = None) -> int:
        """Store the closed, confirmed ``candles`` of ``key`` and mark ``covered`` as asked,
        in one transaction (an interrupted fetch never records a range it did not store).
        Returns how many candles were written."""
        rows = [(*key.params(), c.open_time, str(c.open), str(c.high), str(c.low),
                 str(c.close), str(c.volume), str(c.quote_volume))
                for c in candles
                if c.closed and c.confirmed and c.symbol == key.symbol
                and c.interval == key.interval]
        with self._tx() as conn:
            conn.executemany(UPSERT_CANDLE, rows)
            if covered is not None and covered[0] < covered[1]:
                self._cover(conn, key, covered)
        return len(rows)

    def _cover(self, conn: sqlite3.Connection, key: SeriesKey, span: Range) -> None:
        """Merge ``span`` into the covered ranges it overlaps or touches."""
        touching = conn.execute(
            f"SELECT start_ms, end_ms FROM covered WHERE {_KEY} AND start_ms <= ? AND end_ms >= ?",
            (*key.params(), span[1], span[0])).fetchall()
        merged = merge([span, *((int(r[0]), int(r[1])) for r in touching)])
        conn.execute(f"DELETE FROM covered WHERE {_KEY} AND start_ms <= ? AND end_ms >= ?",
                     (*key.params(), span[1], span[0]))
        conn.executemany("INSERT INTO covered VALUES (?, ?, ?, ?, ?)",
                         [(*key.params(), low, high) for low, high in merged])

    # --- reads -----------------------------------------------------------------------------
    def read(self, key: SeriesKey, start_ms: int, end_ms: int) -> list[Candle]:
        """Stored candles with ``start_ms <= open_time < end_ms``, oldest first."""
        rows = self._read(f"SELECT * FROM candles WHERE {_KEY} AND open_time >= ? AND "
                          "open_time < ? ORDER BY open_time", (*key.params(), start_ms, end_ms))
        return [_candle(key, row) for row in rows]

    def last_open_time(self, key: SeriesKey) -> int | None:
        rows = self._read(f"SELECT MAX(open_time) FROM candles WHERE {_KEY}", key.params())
        return None if rows[0][0] is None else int(rows[0][0])

    def covered(self, key: SeriesKey) -> list[Range]:
        rows = self._read(f"SELECT start_ms, end_ms FROM covered WHERE {_KEY} ORDER BY start_ms",
                          key.params())
        return [(int(r[0]), int(r[1])) for r in rows]

    def missing(self, key: SeriesKey, span: Range) -> list[Range]:
        """The parts of ``span`` never asked of the exchange."""
        return subtract(span, self.covered(key))

    def gaps(self, key: SeriesKey) -> list[Range]:
        """Covered ranges with no candle: what the exchange did not have when asked."""
        out: list[Range] = []
        for low, high in self.covered(key):
            out.extend(self._gaps_in(key, low, high))
        return merge(out)

    def _gaps_in(self, key: SeriesKey, low: int, high: int) -> list[Range]:
        step = key.step
        params = (*key.params(), low, high)
        edges = self._read(f"SELECT MIN(open_time), MAX(open_time) FROM candles WHERE {_KEY}"
                           " AND open_time >= ? AND open_time < ?", params)[0]
        if edges[0] is None:
            return [(low, high)]
        first, last = int(edges[0]), int(edges[1])
        holes = self._read(
            "SELECT previous, open_time FROM (SELECT open_time, LAG(open_time) OVER "
            f"(ORDER BY open_time) AS previous FROM candles WHERE {_KEY} AND open_time >= ? "
            "AND open_time < ?) WHERE open_time - previous > ?", (*params, step))
        out = [(low, first)] if first > low else []
        out.extend((int(r[0]) + step, int(r[1])) for r in holes)
        if last + step < high:
            out.append((last + step, high))
        return out

    def series(self) -> list[SeriesSummary]:
        """Every stored series (one with only covered ranges too), with its gaps."""
        rows = self._read(
            "SELECT k.source, k.symbol, k.interval, MIN(c.open_time) AS first,"
            " MAX(c.open_time) AS last, COUNT(c.open_time) AS count FROM"
            " (SELECT source, symbol, interval FROM covered UNION"
            "  SELECT DISTINCT source, symbol, interval FROM candles) AS k"
            " LEFT JOIN candles AS c ON c.source = k.source AND c.symbol = k.symbol AND"
            " c.interval = k.interval GROUP BY k.source, k.symbol, k.interval"
            " ORDER BY k.source, k.symbol, k.interval")
        out = []
        for row in rows:
            key = SeriesKey(row["source"], row["symbol"], row["interval"])
            gaps = self.gaps(key) if key.interval in WS_INTERVAL_MS else []
            out.append(SeriesSummary(key=key, first=row["first"], last=row["last"],
                                     count=int(row["count"]), gaps=gaps))
        return out


__all__ = ["CANDLE_STORE_FILE", "CandleStore", "CandleStoreError", "SeriesKey",
           "SeriesSummary"]
