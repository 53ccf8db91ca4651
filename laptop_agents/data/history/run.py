"""`laptop-agents history fetch|list`: the work behind the commands (the CLI prints).

``fetch`` opens the candle store in the data directory, starts the embedded simulator for
``--source sim`` (as the probe does: a market of its own, not the daemon's journal), and
fills the range through the REST client. It takes no data-directory lock: the store is a
separate SQLite file in WAL mode with a busy timeout, so a daemon appending to it meanwhile
only waits a few milliseconds, and the journal is never opened.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import aiohttp

from laptop_agents.config import Settings
from laptop_agents.data.history.fetch import FetchReport, Progress, plan_fetch, run_plan
from laptop_agents.data.history.ranges import Range
from laptop_agents.data.history.source import series_source
from laptop_agents.data.history.store import (
    CANDLE_STORE_FILE,
    CandleStore,
    CandleStoreError,
    SeriesKey,
    SeriesSummary,
)
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.errors import ConfigError


@dataclass(frozen=True, slots=True)
class FetchOutcome:
    key: SeriesKey
    report: FetchReport


def parse_when(text: str) -> int:
    """``YYYY-MM-DD`` or an ISO 8601 date-time as epoch ms; without a zone it is UTC."""
    try:
        moment = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date (YYYY-MM-DD) or an ISO date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def store_path(settings: Settings) -> Path:
    return settings.data_dir.expanduser() / CANDLE_STORE_FILE


def open_store(settings: Settings) -> CandleStore:
    """The data directory's candle store; one that cannot be opened is a ConfigError (78)."""
    from laptop_agents.datadir import ensure_data_dir

    ensure_data_dir(settings.data_dir)
    try:
        return CandleStore(store_path(settings))
    except CandleStoreError as error:
        raise ConfigError(f"invalid setting LA_DATA_DIR: cannot open the candle store: {error}"
                          ) from None


async def fetch_history(settings: Settings, span: Range,
                        progress: Progress | None = None) -> FetchOutcome:
    """Store the closed candles of ``settings.symbol``/``interval`` in ``span`` (ms) that the
    store lacks; raises what the REST client raises (the store keeps every finished window)."""
    store = open_store(settings)
    sim = None
    try:
        origin = None
        if settings.source == "sim":
            from laptop_agents.sim.embedded import start_embedded

            sim, settings = await start_embedded(settings)
            origin = sim.origin_ms
        source = series_source(settings.source, settings.sim_seed, origin)
        assert source is not None  # the embedded simulator's origin is known
        key = SeriesKey(source, settings.symbol, settings.interval)
        async with aiohttp.ClientSession() as session:
            rest = BitunixRestClient(session, settings)
            plan = await plan_fetch(rest, store, key, span)
            report = await run_plan(rest, store, key, plan, progress)
        return FetchOutcome(key=key, report=report)
    finally:
        if sim is not None:
            await sim.stop()
        store.close()


def list_history(settings: Settings) -> list[SeriesSummary]:
    """Every stored series; none when the store does not exist yet (nothing is created)."""
    if not store_path(settings).exists():
        return []
    store = open_store(settings)
    try:
        return store.series()
    finally:
        store.close()


__all__ = ["FetchOutcome", "fetch_history", "list_history", "open_store", "parse_when",
           "store_path"]
