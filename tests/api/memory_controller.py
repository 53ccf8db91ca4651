"""A real, in-memory implementation of the Controller protocol for the API tests.

It keeps a gate, a position, candles, trades and a price, and publishes status changes to the
attached feed exactly like the engine does, so the API is exercised end to end without the
engine. Not a mock: every method does the work its contract describes. It answers the same
typed views as the engine but leaves out what it does not model (data health, loop lag, ...):
those fields stay unset and are left out of the JSON.
"""

from __future__ import annotations

import threading
from decimal import Decimal
from typing import Any

from laptop_agents.backtest.downsample import keep_extremes
from laptop_agents.metrics import Metrics
from laptop_agents.models import ConnectionState, Side
from laptop_agents.session.controller import FeedPublisher
from laptop_agents.session.gate import PauseReason
from laptop_agents.session.views import (
    CandleView,
    EquityHistory,
    EquityPoint,
    FeedView,
    FlattenResult,
    GateView,
    PositionView,
    StatusView,
    TaskView,
    TickView,
    TradeView,
    view_json,
)

START_MS = 1_700_000_040_000  # a minute boundary


def _trade(number: int, entry: Decimal, exit_price: Decimal, realized: Decimal,
           reason: str = "target") -> TradeView:
    opened = START_MS + number * 60_000 - 30_000
    return TradeView(trade_id=f"trade-{number}", symbol="BTCUSDT", side=Side.LONG,
                     qty=Decimal("0.010"), entry_price=entry, exit_price=exit_price,
                     opened_ms=opened, closed_ms=START_MS + number * 60_000,
                     gross_pnl=realized, fees=Decimal("0"), realized_pnl=realized,
                     exit_reason=reason, setup="test")


class MemoryController:
    def __init__(self, candles: int = 50) -> None:
        self.metrics = Metrics()
        self.feed: FeedPublisher | None = None
        self.reasons: list[PauseReason] = []
        self.pause_reason: str | None = None
        self.position: PositionView | None = PositionView(
            side=Side.LONG, size=Decimal("0.010"), entry=Decimal("50000.0"),
            stop=Decimal("49800.0"), target=Decimal("50400.0"),
            unrealized_pnl=Decimal("1.50"), leverage=Decimal(5), margin=Decimal("100"),
            liquidation_price=Decimal("40250.0"), funding_paid=Decimal("0"),
        )
        self.equity_now = Decimal("10000")
        self.realized = Decimal("0")
        self.bid = Decimal("50010.0")
        self.ask = Decimal("50010.5")
        self.feed_state = ConnectionState.CONNECTED
        self.warm = True
        self.fail_status = False
        self.pause_calls: list[str | None] = []
        self.trade_calls: list[tuple[int, int | None]] = []
        self.equity_calls: list[tuple[int, int]] = []
        # An hour of snapshots a minute apart; the first ten from before the parts were kept.
        self._equity = [(START_MS + i * 60_000, Decimal(10000 + (i % 7) - 3)) for i in range(60)]
        self.calls_thread: set[int] = set()
        self._trades = [_trade(i, Decimal("50000"), Decimal("50100"), Decimal("1.0"))
                        for i in range(5)]
        self._candles: list[CandleView] = []
        price = Decimal("50000")
        for i in range(candles):
            self.append_candle(START_MS + i * 60_000, price + i)

    # -- helpers the tests drive --------------------------------------------------------------
    def forget_history(self) -> None:
        """A fresh account: no position, no trade and no equity history yet."""
        self.position = None
        self._trades = []
        self._equity = []

    def append_candle(self, open_time: int, close: Decimal) -> dict[str, Any]:
        """Add a closed candle; returns it as JSON, the way the feed and /candles send it."""
        candle = CandleView(
            symbol="BTCUSDT", interval="1min", open_time=open_time, open=close - 2,
            high=close + 5, low=close - 5, close=close, volume=Decimal("1.5"),
            quote_volume=Decimal("75000"), closed=True,
        )
        self._candles.append(candle)
        return candle.model_dump(mode="json")

    def tick(self, bid: Decimal, ts: int) -> TickView:
        self.bid, self.ask = bid, bid + Decimal("0.5")
        return TickView(symbol="BTCUSDT", bid=self.bid, ask=self.ask, bid_size=Decimal("1.2"),
                        ask_size=Decimal("0.8"), last=bid, ts=ts)

    def _publish_status(self) -> None:
        if self.feed is not None:
            self.feed.publish("status", self.status())

    # -- Controller protocol -------------------------------------------------------------------
    def status(self) -> StatusView:
        self.calls_thread.add(threading.get_ident())
        if self.fail_status:
            raise RuntimeError("status exploded")
        return StatusView(
            mode="paper", source="sim", symbol="BTCUSDT",
            feed=FeedView(state=self.feed_state, last_tick_age_s=0.2, reconnects=0,
                          bid=self.bid, ask=self.ask),
            gate=GateView(trading_allowed=not self.reasons, reasons=list(self.reasons)),
            position=self.position, equity=self.equity_now,
            realized_pnl_today=self.realized, uptime_s=12.5,
            tasks={"market_data": TaskView(state="running", last_run_age_s=0.1),
                   "strategy": TaskView(state="running", last_run_age_s=None)},
        )

    def status_json(self) -> bytes:
        return view_json(self.status())  # the tests change state directly: never cached

    def traded_symbols(self) -> list[str]:
        return ["BTCUSDT"]

    def positions(self) -> list[PositionView]:
        return [self.position] if self.position else []

    def trades(self, limit: int, since_ms: int | None,
               symbol: str | None = None) -> list[TradeView]:
        self.trade_calls.append((limit, since_ms))
        rows = [t for t in self._trades if (since_ms is None or t.closed_ms >= since_ms)
                and symbol in (None, t.symbol)]
        return rows[::-1][:limit]  # newest first, like the journal

    def candles(self, limit: int, symbol: str | None = None) -> list[CandleView]:
        return self._candles[-limit:]

    def equity(self, since_ms: int, points: int) -> EquityHistory:
        self.equity_calls.append((since_ms, points))
        series = [p for p in self._equity if p[0] >= since_ms]
        return EquityHistory(recorded=len(series), points=[
            EquityPoint(ts=ts, equity=value, balance=None if ts < START_MS + 600_000 else
                        Decimal("10000"), unrealized=None if ts < START_MS + 600_000 else
                        value - 10000, funding_paid=None if ts < START_MS + 600_000 else
                        Decimal("0.5")) for ts, value in
            (series[i] for i in keep_extremes(series, points))])

    def readiness(self) -> tuple[bool, list[str]]:
        reasons = []
        if self.feed_state != ConnectionState.CONNECTED:
            reasons.append(f"feed {self.feed_state}")
        if not self.warm:
            reasons.append("strategy warming up")
        return (not reasons, reasons)

    async def pause(self, reason: str | None, symbol: str | None = None) -> StatusView:
        self.pause_calls.append(reason)
        self.pause_reason = reason
        if PauseReason.MANUAL not in self.reasons:
            self.reasons.append(PauseReason.MANUAL)
        self._publish_status()
        return self.status()

    async def resume(self, symbol: str | None = None) -> StatusView:
        self.pause_reason = None
        if PauseReason.MANUAL in self.reasons:
            self.reasons.remove(PauseReason.MANUAL)
        self._publish_status()
        return self.status()

    async def flatten(self, symbol: str | None = None) -> FlattenResult:
        if self.position is None:
            return FlattenResult(closed=False, trade=None)
        trade = _trade(len(self._trades), self.position.entry, self.bid, Decimal("10.0"),
                       reason="flatten")
        self._trades.append(trade)
        self.position = None
        if self.feed is not None:
            self.feed.publish("trade", trade)
        self._publish_status()
        return FlattenResult(closed=True, trade=trade)

    def attach_feed(self, publisher: FeedPublisher) -> None:
        self.feed = publisher
