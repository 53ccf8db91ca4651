"""Constructed trades, equity curves and candles for the backtest output tests."""

from __future__ import annotations

from decimal import Decimal

from laptop_agents.models import Candle, Side
from laptop_agents.paper.models import Trade

DAY = 86_400_000
HOUR = 3_600_000
MINUTE = 60_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00:00Z


def trade(n: int, pnl: str, opened: int, closed: int, side: Side = Side.LONG,
          entry: str = "50000", exit_: str = "50100") -> Trade:
    realized = Decimal(pnl)
    return Trade(trade_id=f"t{n}", symbol="BTCUSDT", side=side, qty=Decimal("0.010"),
                 entry_price=Decimal(entry), exit_price=Decimal(exit_), opened_ms=opened,
                 closed_ms=closed, gross_pnl=realized + Decimal("0.5"), fees=Decimal("0.5"),
                 realized_pnl=realized, exit_reason="target" if realized > 0 else "stop",
                 setup="test")


def minute_candles(count: int, start: int = T0, base: float = 50_000.0) -> list[Candle]:
    """A deterministic zig-zag walk of 1-minute candles."""
    candles: list[Candle] = []
    price = base
    for i in range(count):
        step = 25.0 if (i // 37) % 2 == 0 else -23.0
        close = price + step
        candles.append(Candle(
            symbol="BTCUSDT", interval="1min", open_time=start + i * MINUTE,
            open=Decimal(f"{price:.1f}"), high=Decimal(f"{max(price, close) + 5:.1f}"),
            low=Decimal(f"{min(price, close) - 5:.1f}"), close=Decimal(f"{close:.1f}"),
            volume=Decimal(1), quote_volume=Decimal(int(close))))
        price = close
    return candles
