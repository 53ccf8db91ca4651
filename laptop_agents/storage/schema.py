"""The journal's schema, versioned with ``PRAGMA user_version``: each migration upgrades it by
one version. Never edit a released entry; append one."""

from __future__ import annotations

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
    # version 2: the perpetual-futures account (issue #14): isolated margin, funding,
    # liquidation fees. Older rows get the neutral values (no funding, no liquidation).
    """
    ALTER TABLE account ADD COLUMN funding_total TEXT NOT NULL DEFAULT '0';
    ALTER TABLE account ADD COLUMN liquidation_fees_total TEXT NOT NULL DEFAULT '0';
    ALTER TABLE positions ADD COLUMN leverage TEXT NOT NULL DEFAULT '1';
    ALTER TABLE positions ADD COLUMN margin TEXT NOT NULL DEFAULT '0';
    ALTER TABLE positions ADD COLUMN funding TEXT NOT NULL DEFAULT '0';
    ALTER TABLE fills ADD COLUMN liquidation_fee TEXT NOT NULL DEFAULT '0';
    ALTER TABLE trades ADD COLUMN funding TEXT NOT NULL DEFAULT '0';
    ALTER TABLE trades ADD COLUMN liquidation_fee TEXT NOT NULL DEFAULT '0';
    CREATE TABLE funding (
        symbol TEXT NOT NULL, ts INTEGER NOT NULL, rate TEXT NOT NULL, mark TEXT NOT NULL,
        side TEXT NOT NULL, qty TEXT NOT NULL, amount TEXT NOT NULL, trade_id TEXT NOT NULL,
        PRIMARY KEY (symbol, ts)
    );
    CREATE INDEX funding_trade ON funding(trade_id);
    """,
    # version 3: the equity history's parts (issue #17, GET /equity): the wallet balance
    # (realised), the unrealised PnL and the net funding paid at each snapshot. Rows written
    # before it hold equity only and keep NULL there (the API answers null).
    """
    ALTER TABLE equity ADD COLUMN balance TEXT DEFAULT NULL;
    ALTER TABLE equity ADD COLUMN unrealized TEXT DEFAULT NULL;
    ALTER TABLE equity ADD COLUMN funding_paid TEXT DEFAULT NULL;
    """,
]
SCHEMA_VERSION = len(MIGRATIONS)
