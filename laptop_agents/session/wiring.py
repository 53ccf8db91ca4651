"""Wiring: build every part of the engine from settings, on one aiohttp session.

The live daemon, the tests and (later) replays and backtests assemble through here, so there
is one assembly path. ``run_async_session`` (session/async_session.py) is the entry point the
CLI and the daemon use.
"""

from __future__ import annotations

from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
from loguru import logger

from laptop_agents.config import Settings, market_tag
from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.instruments import (
    check_leverage,
    tradable_instrument,
    tradable_instruments,
)
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider
from laptop_agents.data.providers.neterrors import describe_connect_error
from laptop_agents.data.providers.provider_group import SYMBOLS_PER_SOCKET, ProviderGroup
from laptop_agents.errors import ConfigError, LaptopAgentsError
from laptop_agents.metrics import Metrics
from laptop_agents.models import DEFAULT_BTCUSDT, Instrument
from laptop_agents.notify.notifications import Notifications, build_notifications
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.session.describe import describe_position
from laptop_agents.session.ports import MarketData, MarketRest, Notifier, NullNotifier
from laptop_agents.session.timeline import Timeline
from laptop_agents.session.warm_history import CandleCache, open_candle_cache
from laptop_agents.storage.journal import Journal, JournalError
from laptop_agents.strategy.base import Strategy

# One journal per market source: the simulator's paper account must never leak into the
# account traded on real Bitunix prices. `--source bitunix` pointed at other URLs than the
# exchange's (a standalone simulator: docs/simulator.md) gets journal-bitunix-<hash>.sqlite3,
# the hash of its URLs (config.market_tag), so it never writes the live journal either.
JOURNAL_FILES = {"bitunix": "journal.sqlite3", "sim": "journal-sim.sqlite3"}


@dataclass(frozen=True)
class SymbolParts:
    """What one more traded symbol runs on (LA_SYMBOLS): the first symbol's are EngineParts'
    own fields; every symbol's broker trades in the first one's account."""

    instrument: Instrument
    broker: PaperBroker
    strategy: Strategy
    candles: CandleCache = field(default_factory=lambda: CandleCache(None, None))


@dataclass(frozen=True)
class EngineParts:
    """Everything one engine runs on; the runner owns none of their construction."""

    rest: MarketRest
    provider: MarketData
    instrument: Instrument
    journal: Journal
    broker: PaperBroker
    strategy: Strategy
    clock: ExchangeClock
    metrics: Metrics
    notifier: Notifier
    candles: CandleCache = field(default_factory=lambda: CandleCache(None, None))
    timeline: Timeline | None = None  # None: the live clocks (session/timeline.py)
    # Where strategy.decide runs. None: a thread of its own, so a slow strategy never holds
    # the loop. A backtest's stream waits for every decision anyway, so it decides inline.
    executor: Executor | None = None
    # Webhook/Telegram notifications (docs/notifications.md); a backtest or replay sends none.
    notifications: Notifications = field(default_factory=Notifications.disabled)
    others: tuple[SymbolParts, ...] = ()  # the symbols after the first (LA_SYMBOLS)

    def symbols(self) -> list[SymbolParts]:
        """Every traded symbol's parts, the first (primary) symbol first."""
        return [SymbolParts(self.instrument, self.broker, self.strategy, self.candles),
                *self.others]


def journal_path(settings: Settings) -> Path:
    tag = market_tag(settings)
    name = JOURNAL_FILES[settings.source] if tag is None else f"journal-bitunix-{tag}.sqlite3"
    return settings.data_dir.expanduser() / name


def open_journal(settings: Settings, *, durable: bool = True) -> Journal:
    """Open (or create) the journal; one that cannot be opened is a ConfigError (78).

    A read-only or foreign data directory, or a corrupt file, will not heal by restarting, so
    the service manager must not restart in a loop; the message names the path.
    """
    try:
        return Journal(journal_path(settings), durable=durable)
    except (JournalError, OSError) as error:
        raise ConfigError(f"invalid setting LA_DATA_DIR: cannot open the journal: {error}"
                          ) from None


async def fetch_instrument(rest: BitunixRestClient, symbol: str, rest_url: str = "") -> Instrument:
    """The contract's rules over REST; BTCUSDT's well-known rules when REST is unreachable.

    Falling back lets the WebSocket connect decide the outcome: a refused feed then exits
    with its own code (69) instead of a generic REST error. An unknown or untradable symbol
    is a ConfigError (exit 78), raised as is.
    """
    try:
        return await tradable_instrument(rest, symbol)
    except LaptopAgentsError:
        raise
    except (aiohttp.ClientError, TimeoutError) as error:
        if symbol != DEFAULT_BTCUSDT.symbol:
            raise
        logger.warning("trading rules over REST unavailable ({}); using BTCUSDT defaults",
                       describe_connect_error(rest_url, error))
        return DEFAULT_BTCUSDT


async def build_parts(
    settings: Settings,
    *,
    session: aiohttp.ClientSession,
    clock: ExchangeClock | None = None,
    metrics: Metrics | None = None,
    notifier: Notifier | None = None,
    strategy: Strategy | None = None,
    strategies: Mapping[str, Strategy] | None = None,
) -> EngineParts:
    """The REST client and trading rules, the journal and the brokers rebuilt from it, the
    strategies and the WebSocket provider(s), for every symbol of ``settings.trade_symbols``.
    ``clock`` estimates exchange time from the exchange's own timestamps; it is never the
    simulator's clock (tests inject one over a skewed laptop clock). ``strategy``: one for
    the one-symbol case; ``strategies``: one per symbol; neither: loaded from the settings."""
    metrics = metrics or Metrics()
    exchange_clock = clock or ExchangeClock()
    rest = BitunixRestClient(session, settings, exchange_clock)  # one limiter for everything
    symbols = settings.trade_symbols
    instruments = await fetch_instruments(rest, symbols, settings.bitunix_rest_url)
    from laptop_agents.strategy.per_symbol import load_strategies, overrides, symbol_settings

    given = overrides()
    own = symbol_settings(settings, given)  # each symbol's limits and strategy (its overrides)
    for symbol, instrument in instruments.items():
        check_leverage(own[symbol].leverage, instrument)
    journal = open_journal(settings)
    strategies = dict(strategies or {})
    if strategy is not None:
        strategies.setdefault(symbols[0], strategy)
    if any(symbol not in strategies for symbol in symbols):
        strategies = {**load_strategies(settings, given), **strategies}
    parts = symbol_parts(settings, own, instruments, strategies, journal, exchange_clock)
    provider = market_data(session, settings, rest, exchange_clock, metrics, len(symbols))
    engine_rest: MarketRest = rest
    timeline: Timeline | None = None
    if settings.record:  # the engine's REST answers go through the recorder, not the provider's
        from laptop_agents.record.recorder import start_recording

        engine_rest, timeline = await start_recording(settings, exchange_clock, rest,
                                                      parts[0].instrument, journal.path)
    head = parts[0]
    return EngineParts(rest=engine_rest, provider=provider, instrument=head.instrument,
                       journal=journal, broker=head.broker, strategy=head.strategy,
                       clock=exchange_clock, metrics=metrics,
                       notifier=notifier or NullNotifier(), timeline=timeline,
                       candles=head.candles, others=tuple(parts[1:]),
                       notifications=build_notifications(settings, session=session,
                                                         metrics=metrics,
                                                         now_ms=exchange_clock.now_ms))


def symbol_parts(settings: Settings, own: Mapping[str, Settings],
                 instruments: Mapping[str, Instrument], strategies: Mapping[str, Strategy],
                 journal: Journal, clock: ExchangeClock) -> list[SymbolParts]:
    """Each symbol's broker (the first one's account shared by all), strategy and candles."""
    first: PaperBroker | None = None
    parts: list[SymbolParts] = []
    for symbol, instrument in instruments.items():
        # The broker judges quote freshness in exchange ms, which run faster on an accelerated
        # exchange than the wall seconds of LA_STALE_AFTER: it asks the clock for the speed.
        broker = PaperBroker(own[symbol], instrument, journal,
                             clock_speed=lambda: clock.speed, account=first)
        first = first or broker
        if broker.position is not None:
            logger.info("restored open position from the journal: {}",
                        describe_position(broker.position))
        parts.append(SymbolParts(instrument, broker, strategies[symbol],
                                 open_candle_cache(settings, journal, symbol)))
    return parts


async def fetch_instruments(rest: BitunixRestClient, symbols: tuple[str, ...],
                            rest_url: str = "") -> dict[str, Instrument]:
    """Every symbol's trading rules; one symbol keeps the BTCUSDT fallback (fetch_instrument)."""
    if len(symbols) == 1:
        return {symbols[0]: await fetch_instrument(rest, symbols[0], rest_url)}
    return await tradable_instruments(rest, symbols)


def market_data(session: aiohttp.ClientSession, settings: Settings, rest: BitunixRestClient,
                clock: ExchangeClock, metrics: Metrics, symbols: int) -> MarketData:
    """One socket for up to SYMBOLS_PER_SOCKET symbols, a group of sockets beyond."""
    sockets = -(-symbols // SYMBOLS_PER_SOCKET)
    if sockets <= 1:
        return BitunixWSProvider(session, settings, rest=rest, clock=clock, metrics=metrics)
    return ProviderGroup([BitunixWSProvider(session, settings, rest=rest, clock=clock,
                                            metrics=metrics) for _ in range(sockets)])


__all__ = ["JOURNAL_FILES", "EngineParts", "SymbolParts", "build_parts", "fetch_instrument",
           "fetch_instruments", "journal_path", "market_data", "open_journal"]
