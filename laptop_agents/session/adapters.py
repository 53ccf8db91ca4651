"""The engine's few touch points with the broker, journal, provider and strategy, in one place.

Keeping them here keeps async_session.py about scheduling, and gives one file to change when a
collaborator's API moves.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING, Any

import aiohttp
from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.data.providers.neterrors import describe_connect_error
from laptop_agents.errors import ConfigError, LaptopAgentsError
from laptop_agents.models import DEFAULT_BTCUSDT, Instrument, Side, Tick
from laptop_agents.paper.models import (
    EntriesPaused,
    Fill,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    OrderResult,
    Position,
    Trade,
    TradeClosed,
)
from laptop_agents.session.render import jsonable

if TYPE_CHECKING:
    from laptop_agents.session.async_session import AsyncRunner

# One journal per market source: the simulator's paper account (a new simulated market each
# start) must never leak into the account traded on real Bitunix prices.
JOURNAL_FILES = {"bitunix": "journal.sqlite3", "sim": "journal-sim.sqlite3"}


def journal_path(settings: Settings) -> Path:
    return settings.data_dir.expanduser() / JOURNAL_FILES[settings.source]


def open_journal(settings: Settings) -> Any:
    """Open (or create) the journal; a journal that cannot be opened is a ConfigError (78).

    A read-only or foreign data directory, or a corrupt file, will not heal by restarting, so
    the service manager must not restart in a loop; the message names the path.
    """
    from laptop_agents.storage.journal import Journal, JournalError

    path = journal_path(settings)
    try:
        return Journal(path)
    except (JournalError, OSError) as error:
        raise ConfigError(f"invalid setting LA_DATA_DIR: cannot open the journal: {error}"
                          ) from None


def close_journal(journal: Any) -> None:
    journal.close()


def make_broker(settings: Settings, instrument: Instrument, journal: Any,
                clock_speed: float | Callable[[], float] = 1.0) -> Any:
    from laptop_agents.paper.broker import PaperBroker

    # clock_speed: the broker judges quote freshness in exchange ms, which run faster on the
    # simulator than the wall seconds of LA_STALE_AFTER.
    broker = PaperBroker(settings, instrument, journal, clock_speed=clock_speed)
    if broker.position is not None:
        logger.info("restored open position from the journal: {}", describe_position(broker))
    return broker


async def fetch_instrument(rest: Any, symbol: str, rest_url: str = "") -> Instrument:
    """The contract's rules over REST; BTCUSDT's well-known rules when REST is unreachable.

    Falling back lets the WebSocket connect decide the outcome: a refused feed then exits
    with its own code (69) instead of a generic REST error.
    """
    from laptop_agents.data.instruments import tradable_instrument

    try:  # an unknown or untradable symbol is a ConfigError (exit 78), raised as is
        instrument: Instrument = await tradable_instrument(rest, symbol)
    except LaptopAgentsError:
        raise
    except (aiohttp.ClientError, TimeoutError) as error:
        if symbol != DEFAULT_BTCUSDT.symbol:
            raise
        logger.warning("trading rules over REST unavailable ({}); using BTCUSDT defaults",
                       describe_connect_error(rest_url, error))
        return DEFAULT_BTCUSDT
    return instrument


async def subscribe(provider: Any, symbol: str, interval: str) -> None:
    await provider.subscribe_kline(symbol, interval)
    await provider.subscribe_ticker(symbol)


def load_pause(journal: Any) -> tuple[bool, str | None]:
    paused, reason = journal.pause_state()
    return bool(paused), reason


def risk_reason(broker: Any) -> str | None:
    reason: str | None = broker.entries_paused_reason
    return reason


def position(broker: Any) -> Position | None:
    value: Position | None = broker.position
    return value


def signed_size(pos: Position | None) -> Decimal:
    if pos is None:
        return Decimal(0)
    return pos.qty if pos.side is Side.LONG else -pos.qty


def observe_candle(broker: Any, candle: Any) -> None:
    """Give the broker a mark price (the last warm-up close) before the first tick."""
    broker.observe(candle=candle)


def equity(broker: Any, tick: Tick | None) -> Decimal:
    value: Decimal = broker.equity(tick)
    return value


def realized_today(broker: Any) -> Decimal:
    value: Decimal = broker.realized_pnl_today
    return value


def record_equity(journal: Any, ts_ms: int, value: Decimal) -> None:
    journal.record_equity(ts_ms, value)


def position_view(broker: Any, tick: Tick | None) -> dict[str, Any]:
    pos = position(broker)
    assert pos is not None
    unrealized = None if tick is None else broker.unrealized_pnl(tick)
    return jsonable({
        "symbol": pos.symbol,
        "side": pos.side,
        "size": pos.qty,
        "entry": pos.entry_price,
        "stop": pos.effective_stop(),
        "fixed_stop": pos.stop,
        "trailing_stop": pos.trailing_stop,
        "target": pos.target,
        "opened_ms": pos.opened_ms,
        "setup": pos.setup,
        "unrealized_pnl": unrealized,
    })


def describe_position(broker: Any) -> str:
    pos = position(broker)
    if pos is None:
        return "flat"
    return (f"{pos.side.value} {pos.qty}@{pos.entry_price} stop={pos.effective_stop()} "
            f"target={pos.target}")


def strategy_context(runner: AsyncRunner, candles: tuple[Any, ...]) -> Any:
    from laptop_agents.strategy.base import StrategyContext

    broker = runner.broker
    tick = runner.last_tick
    pos = position(broker)
    equity_now = broker.equity(tick)
    last_exit = broker.last_exit_ms
    since_exit = None if last_exit is None else sum(
        1 for c in candles if c.close_time > last_exit)
    return StrategyContext(
        candles=candles,
        position=broker.position_view() if pos is not None else None,
        equity=equity_now,
        instrument=runner.instrument,
        candles_since_exit=since_exit,
        has_working_order=bool(broker.working_orders),
    )


def trades(journal: Any, broker: Any, limit: int, since_ms: int | None) -> list[Any]:
    return list(journal.trades(limit, since_ms))


def position_drift(broker: Any, journal: Any) -> str | None:
    """How the in-memory position differs from the journal's, or None when they agree."""
    memory = position(broker)
    stored = journal.load_position(memory.symbol if memory else broker.instrument.symbol)
    if memory is None and stored is None:
        return None
    if memory is None or stored is None:
        return f"broker={'flat' if memory is None else memory} journal={stored or 'flat'}"
    fields = ("side", "qty", "entry_price", "stop", "target", "trailing_stop")
    diffs = [f"{name}: broker={getattr(memory, name)} journal={getattr(stored, name)}"
             for name in fields if getattr(memory, name) != getattr(stored, name)]
    return "; ".join(diffs) or None


# --- broker events -----------------------------------------------------------------------
def result_events(result: OrderResult) -> list[Any]:
    return list(result.events)


def event_kind(event: Any) -> str:
    return str(getattr(event, "type", type(event).__name__))


def event_trade(event: Any) -> Trade | None:
    return event.trade if isinstance(event, TradeClosed) else None


def trade_pnl(trade: Trade) -> Decimal:
    return trade.realized_pnl


def describe_event(event: Any) -> str:
    if isinstance(event, Fill):
        return (f"order filled: {event.kind} {event.side} {event.qty} @ {event.price} "
                f"fee={event.fee} ({event.reason})")
    if isinstance(event, TradeClosed):
        t = event.trade
        return (f"position closed: {t.side.value} {t.qty} {t.entry_price} -> {t.exit_price} "
                f"({t.exit_reason})")
    if isinstance(event, OrderRejected):
        return f"order rejected: {event.code} ({event.reason})"
    if isinstance(event, OrderExpired):
        return f"order expired: {event.order_id} ({event.reason})"
    if isinstance(event, OrderCanceled):
        return f"order canceled: {event.order_id} ({event.reason})"
    if isinstance(event, EntriesPaused):
        return f"entries paused by risk limits: {event.reason}"
    return f"broker event: {event!r}"


def describe_trade(trade: Trade) -> str:
    return (f"{trade.side.value} {trade.qty} {trade.entry_price} -> {trade.exit_price}, "
            f"{trade.exit_reason}, fees {trade.fees}, setup {trade.setup}")


def describe_intent(intent: Any) -> str:
    """One readable line: side, type, size, price, stop, target and the strategy's reason."""
    return (f"{intent.side.value} {intent.order_type} {intent.qty} @ {intent.entry} "
            f"stop={intent.stop} target={intent.target} ({intent.reason})")


def describe(value: Any) -> str:
    to_dict = getattr(value, "to_dict", None)
    if callable(to_dict):
        data = to_dict()
        if isinstance(data, dict):
            return " ".join(f"{k}={v}" for k, v in data.items() if k != "fills")
    return repr(value)
