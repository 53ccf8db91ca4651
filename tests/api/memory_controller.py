"""A real, in-memory implementation of the Controller protocol for the API tests.

It keeps a gate, a position, candles, trades and a price, and publishes status changes to the
attached feed exactly like the engine does, so the API is exercised end to end without the
engine. Not a mock: every method does the work its contract describes.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from laptop_agents.metrics import Metrics
from laptop_agents.session.controller import FeedPublisher

START_MS = 1_700_000_040_000  # a minute boundary


class MemoryController:
    def __init__(self, candles: int = 50) -> None:
        self.metrics = Metrics()
        self.feed: FeedPublisher | None = None
        self.reasons: list[str] = []
        self.pause_reason: str | None = None
        self.position: dict[str, Any] | None = {
            "side": "long", "size": Decimal("0.010"), "entry": Decimal("50000.0"),
            "stop": Decimal("49800.0"), "target": Decimal("50400.0"),
            "unrealized_pnl": Decimal("1.50"),
        }
        self.equity = Decimal("10000")
        self.realized = Decimal("0")
        self.bid = Decimal("50010.0")
        self.ask = Decimal("50010.5")
        self.feed_state = "connected"
        self.warm = True
        self.fail_status = False
        self.pause_calls: list[str | None] = []
        self.trade_calls: list[tuple[int, int | None]] = []
        self.calls_thread: set[int] = set()
        self._trades: list[dict[str, Any]] = [
            {"id": i, "side": "long", "entry_price": "50000", "exit_price": "50100",
             "realized_pnl": "1.0", "closed_at": START_MS + i * 60_000}
            for i in range(5)
        ]
        self._candles: list[dict[str, Any]] = []
        price = Decimal("50000")
        for i in range(candles):
            self.append_candle(START_MS + i * 60_000, price + i)

    # -- helpers the tests drive --------------------------------------------------------------
    def append_candle(self, open_time: int, close: Decimal) -> dict[str, Any]:
        candle = {
            "symbol": "BTCUSDT", "interval": "1min", "open_time": open_time,
            "open": str(close - 2), "high": str(close + 5), "low": str(close - 5),
            "close": str(close), "volume": "1.5", "quote_volume": "75000", "closed": True,
        }
        self._candles.append(candle)
        return candle

    def tick(self, bid: Decimal, ts: int) -> dict[str, Any]:
        self.bid, self.ask = bid, bid + Decimal("0.5")
        return {"symbol": "BTCUSDT", "bid": self.bid, "ask": self.ask, "bid_size": "1.2",
                "ask_size": "0.8", "last": bid, "ts": ts}

    def _publish_status(self) -> None:
        if self.feed is not None:
            self.feed.publish("status", self.status())

    # -- Controller protocol -------------------------------------------------------------------
    def status(self) -> dict[str, Any]:
        self.calls_thread.add(threading.get_ident())
        if self.fail_status:
            raise RuntimeError("status exploded")
        return {
            "mode": "paper", "source": "sim", "symbol": "BTCUSDT",
            "feed": {"state": self.feed_state, "last_tick_age_s": 0.2, "reconnects": 0},
            "gate": {"trading_allowed": not self.reasons, "reasons": list(self.reasons)},
            "position": self.position, "equity": self.equity,
            "realized_pnl_today": self.realized, "uptime_s": 12.5,
            "tasks": {"market_data": {"state": "running", "last_run_age_s": 0.1},
                      "strategy": {"state": "running", "last_run_age_s": None}},
        }

    def positions(self) -> list[dict[str, Any]]:
        return [self.position] if self.position else []

    def trades(self, limit: int, since_ms: int | None) -> list[dict[str, Any]]:
        self.trade_calls.append((limit, since_ms))
        rows = [t for t in self._trades if since_ms is None or t["closed_at"] >= since_ms]
        return rows[::-1][:limit]  # newest first, like the journal

    def candles(self, limit: int) -> list[dict[str, Any]]:
        return self._candles[-limit:]

    def readiness(self) -> tuple[bool, list[str]]:
        reasons = []
        if self.feed_state != "connected":
            reasons.append(f"feed {self.feed_state}")
        if not self.warm:
            reasons.append("strategy warming up")
        return (not reasons, reasons)

    async def pause(self, reason: str | None) -> dict[str, Any]:
        self.pause_calls.append(reason)
        self.pause_reason = reason
        if "manual" not in self.reasons:
            self.reasons.append("manual")
        self._publish_status()
        return self.status()

    async def resume(self) -> dict[str, Any]:
        self.pause_reason = None
        if "manual" in self.reasons:
            self.reasons.remove("manual")
        self._publish_status()
        return self.status()

    async def flatten(self) -> dict[str, Any]:
        if self.position is None:
            return {"closed": False, "trade": None}
        trade = {"id": len(self._trades), "side": self.position["side"],
                 "entry_price": str(self.position["entry"]), "exit_price": str(self.bid),
                 "realized_pnl": "10.0", "closed_at": START_MS + 10 * 60_000,
                 "exit_reason": "flatten"}
        self._trades.append(trade)
        self.position = None
        if self.feed is not None:
            self.feed.publish("trade", trade)
        self._publish_status()
        return {"closed": True, "trade": trade}

    def attach_feed(self, publisher: FeedPublisher) -> None:
        self.feed = publisher
