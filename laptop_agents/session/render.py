"""Turn engine values into JSON-ready dicts: Decimals become strings, enums their values."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from laptop_agents.jsontypes import to_json
from laptop_agents.models import Candle, Tick
from laptop_agents.paper.models import Position


def jsonable(value: object) -> Any:
    """``to_json`` typed for the view code that indexes into the result."""
    return to_json(value)


def tick_payload(tick: Tick) -> dict[str, Any]:
    return {
        "symbol": tick.symbol,
        "bid": str(tick.bid),
        "ask": str(tick.ask),
        "bid_size": str(tick.bid_size),
        "ask_size": str(tick.ask_size),
        "last": None if tick.last is None else str(tick.last),
        "ts": tick.ts,
    }


def candle_payload(candle: Candle) -> dict[str, Any]:
    return {
        "symbol": candle.symbol,
        "interval": candle.interval,
        "open_time": candle.open_time,
        "open": str(candle.open),
        "high": str(candle.high),
        "low": str(candle.low),
        "close": str(candle.close),
        "volume": str(candle.volume),
        "quote_volume": str(candle.quote_volume),
        "closed": candle.closed,
    }


def position_payload(position: Position, unrealized: Decimal | None) -> dict[str, Any]:
    """The open position as /status and /positions show it (``unrealized``: None before the
    first tick)."""
    return {
        "symbol": position.symbol,
        "side": position.side.value,
        "size": str(position.qty),
        "entry": str(position.entry_price),
        "stop": _text(position.effective_stop()),
        "fixed_stop": _text(position.stop),
        "trailing_stop": _text(position.trailing_stop),
        "target": _text(position.target),
        "opened_ms": position.opened_ms,
        "setup": position.setup,
        "unrealized_pnl": _text(unrealized),
    }


def _text(value: Decimal | None) -> str | None:
    return None if value is None else str(value)
