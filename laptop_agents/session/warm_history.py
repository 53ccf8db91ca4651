"""The daemon's side of the candle store: warm-up reads it first, closed candles join it.

The store only saves REST requests: the daemon must run exactly as before when it is missing,
read-only, full or corrupt. So every store call here is guarded; the first failure is logged
once (WARNING) and the store is left alone for the rest of the run.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from loguru import logger

from laptop_agents.config import Settings, market_tag
from laptop_agents.data.history.ranges import Range
from laptop_agents.data.history.source import series_source
from laptop_agents.data.history.store import (
    CANDLE_STORE_FILE,
    CandleStore,
    CandleStoreError,
    SeriesKey,
)
from laptop_agents.models import Candle
from laptop_agents.session.ports import MarketRest
from laptop_agents.sim.resume import META_ORIGIN, META_SEED

if TYPE_CHECKING:
    # Only the annotation: importing storage before paper trips paper's import order.
    from laptop_agents.storage.journal import Journal


class CandleCache:
    """One series of the store (the configured source, symbol and interval), never fatal."""

    def __init__(self, store: CandleStore | None, key: SeriesKey | None) -> None:
        self._store = store if key is not None else None
        self.key = key

    @property
    def enabled(self) -> bool:
        return self._store is not None

    def _fail(self, error: CandleStoreError) -> None:
        logger.warning("candle store unusable ({}); history comes from REST alone", error)
        self.close()

    def close(self) -> None:
        store, self._store = self._store, None
        if store is not None:
            store.close()

    def last_open_time(self) -> int | None:
        if self._store is None or self.key is None:
            return None
        try:
            return self._store.last_open_time(self.key)
        except CandleStoreError as error:
            self._fail(error)
            return None

    def missing(self, span: Range) -> list[Range]:
        if self._store is None or self.key is None:
            return [span]
        try:
            return self._store.missing(self.key, span)
        except CandleStoreError as error:
            self._fail(error)
            return [span]

    def read(self, span: Range) -> list[Candle]:
        if self._store is None or self.key is None:
            return []
        try:
            return self._store.read(self.key, *span)
        except CandleStoreError as error:
            self._fail(error)
            return []

    def add(self, candles: list[Candle], covered: Range | None) -> None:
        """Store REST's candles (and the range asked); a closed candle confirmed live too."""
        if self._store is None or self.key is None:
            return
        try:
            self._store.add(self.key, candles, covered)
        except CandleStoreError as error:
            self._fail(error)


def open_candle_cache(settings: Settings, journal: Journal,
                      symbol: str | None = None) -> CandleCache:
    """The configured series of ``<data dir>/candles.sqlite3``; a disabled cache when the
    store cannot be opened, or when a simulated market's origin is unknown (the embedded
    simulator journals it; a simulator started elsewhere has a market of its own), and for
    `--source bitunix` on other URLs than the exchange's: their candles are not Bitunix's."""
    if market_tag(settings) is not None:
        logger.debug("candle store not used: the market URLs are not the exchange's")
        return CandleCache(None, None)
    origin = None
    if settings.source == "sim" and journal.get_meta(META_SEED) == str(settings.sim_seed):
        raw = journal.get_meta(META_ORIGIN)
        origin = int(raw) if raw is not None and raw.isdigit() else None
    source = series_source(settings.source, settings.sim_seed, origin)
    if source is None:
        logger.debug("candle store not used: the simulated market's origin is unknown")
        return CandleCache(None, None)
    try:
        store = CandleStore(settings.data_dir.expanduser() / CANDLE_STORE_FILE)
    except CandleStoreError as error:
        logger.warning("candle store unusable ({}); history comes from REST alone", error)
        return CandleCache(None, None)
    return CandleCache(store, SeriesKey(source, symbol or settings.symbol, settings.interval))


async def load_history(rest: MarketRest, cache: CandleCache, symbol: str, interval: str,
                       count: int) -> list[Candle]:
    """The newest ``count`` closed candles: from the store where it has them, the rest (the
    candles since its newest one, and holes) over REST, which are then stored too."""
    last = cache.last_open_time()
    key = cache.key
    if last is None or key is None:
        return await _from_rest(rest, cache, symbol, interval, count)
    step = key.step
    if last + step <= rest.clock.now_ms() - count * step:  # stored, but all too old
        return await _from_rest(rest, cache, symbol, interval, count)
    newer = await rest.klines(symbol, interval, start_ms=last + step)
    end = newer[-1].close_time if newer else last + step
    cache.add(newer, (last + step, end))
    fetched = len(newer)
    want = (end - count * step, end)
    for low, high in cache.missing(want):  # holes: the daemon was down, or never fetched
        part = await rest.klines(symbol, interval, start_ms=low, end_ms=high)
        cache.add(part, (low, high))
        fetched += len(part)
    candles = cache.read(want)
    if not cache.enabled:  # the store failed on the way: REST alone, as without one
        return await rest.klines(symbol, interval, limit=count)
    logger.info("warm-up: {} closed candles, {} of them from the candle store",
                len(candles), len(candles) - fetched)
    return candles


async def _from_rest(rest: MarketRest, cache: CandleCache, symbol: str, interval: str,
                     count: int) -> list[Candle]:
    candles = await rest.klines(symbol, interval, limit=count)
    if candles:
        cache.add(candles, (candles[0].open_time, candles[-1].close_time))
    return candles


__all__ = ["CandleCache", "load_history", "open_candle_cache"]
