"""The candle store's schema, versioned with ``PRAGMA user_version`` like the journal's: each
migration upgrades it by one version. Never edit a released entry; append one."""

from __future__ import annotations

MIGRATIONS: list[str] = [
    # version 1
    """
    CREATE TABLE candles (
        source TEXT NOT NULL, symbol TEXT NOT NULL, interval TEXT NOT NULL,
        open_time INTEGER NOT NULL,
        open TEXT NOT NULL, high TEXT NOT NULL, low TEXT NOT NULL, close TEXT NOT NULL,
        volume TEXT NOT NULL, quote_volume TEXT NOT NULL,
        PRIMARY KEY (source, symbol, interval, open_time)
    ) WITHOUT ROWID;
    CREATE TABLE covered (
        source TEXT NOT NULL, symbol TEXT NOT NULL, interval TEXT NOT NULL,
        start_ms INTEGER NOT NULL, end_ms INTEGER NOT NULL,
        PRIMARY KEY (source, symbol, interval, start_ms)
    ) WITHOUT ROWID;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)

UPSERT_CANDLE = (
    "INSERT INTO candles (source, symbol, interval, open_time, open, high, low, close, volume,"
    " quote_volume) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (source, symbol, interval, open_time) DO UPDATE SET open = excluded.open,"
    " high = excluded.high, low = excluded.low, close = excluded.close,"
    " volume = excluded.volume, quote_volume = excluded.quote_volume"
)
