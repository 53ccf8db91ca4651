"""The daemon's warm-up reads the candle store first: REST is asked only for the candles after
the newest stored one, and what it returns is stored; a store that cannot be opened changes
nothing but one warning."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import aiohttp

from laptop_agents.data.history.fetch import fetch_range
from laptop_agents.data.history.source import series_source
from laptop_agents.data.history.store import CANDLE_STORE_FILE, CandleStore, SeriesKey
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.session.async_session import AsyncRunner
from laptop_agents.session.wiring import open_journal
from laptop_agents.sim import resume
from tests.session.helpers import AlwaysEnter
from tests.support.logs import captured_logs
from tests.support.sim import engine_settings, fast_settings

from .conftest import CountingRest

M = 60_000


def journal_the_market(settings: Any, sim: Any) -> SeriesKey:
    """What the embedded simulator journals at start (its seed and origin): the store's key."""
    journal = open_journal(settings)
    resume.remember(journal, settings.sim_seed, sim.origin_ms, sim.start_ms)
    journal.close()
    source = series_source("sim", settings.sim_seed, sim.origin_ms)
    assert source is not None
    return SeriesKey(source, "BTCUSDT", "1min")


async def test_warm_up_takes_stored_candles_and_asks_rest_only_for_newer_ones(
        sim: Any, tmp_path: Path) -> None:
    settings = engine_settings(sim, tmp_path / "data")
    key = journal_the_market(settings, sim)
    store = CandleStore(tmp_path / "data" / CANDLE_STORE_FILE)
    async with aiohttp.ClientSession() as session:
        rest = BitunixRestClient(session, fast_settings(sim))
        stored_end = sim.now_ms() // M * M - 5 * M
        await fetch_range(rest, store, key, (stored_end - 200 * M, stored_end))
        runner = await AsyncRunner.create(settings, session=session, strategy=AlwaysEnter())
        counting = CountingRest(runner.engine.rest)
        runner.engine.rest = counting
        try:
            await runner.engine.warm_up()
            history = list(runner.engine.history)
        finally:
            await runner.aclose()
    assert len(history) == settings.history_candles
    assert history == sim.closed_candles("BTCUSDT", "1min", history[0].open_time,
                                         history[-1].close_time)
    # One call, for what came after the stored candles; nothing stored was asked again.
    assert counting.calls == [(stored_end, None, None)]
    assert history[-1].open_time >= stored_end
    assert store.read(key, stored_end, history[-1].close_time) == \
        [c for c in history if c.open_time >= stored_end]  # the new ones were stored
    store.close()


async def test_an_empty_store_is_filled_by_warm_up_and_by_confirmed_candles(
        sim: Any, tmp_path: Path) -> None:
    settings = engine_settings(sim, tmp_path / "data")
    key = journal_the_market(settings, sim)
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session, strategy=AlwaysEnter())
        try:
            await runner.engine.warm_up()
            history = list(runner.engine.history)
            following = dataclasses.replace(history[-1], open_time=history[-1].close_time)
            runner.engine.on_candle(following)  # confirmed: appended to the store
        finally:
            await runner.aclose()
    store = CandleStore(tmp_path / "data" / CANDLE_STORE_FILE)
    assert store.read(key, 0, 2**62) == [*history, following]
    assert store.gaps(key) == []
    store.close()


async def test_an_unusable_store_warns_once_and_warm_up_uses_rest(
        sim: Any, tmp_path: Path) -> None:
    settings = engine_settings(sim, tmp_path / "data")
    journal_the_market(settings, sim)
    (tmp_path / "data" / CANDLE_STORE_FILE).mkdir()  # not a database
    async with aiohttp.ClientSession() as session:
        with captured_logs("WARNING") as logs:
            runner = await AsyncRunner.create(settings, session=session,
                                              strategy=AlwaysEnter())
            try:
                await runner.engine.warm_up()
                last = runner.engine.history[-1]
                runner.engine.on_candle(dataclasses.replace(last, open_time=last.close_time))
            finally:
                await runner.aclose()
    assert runner.engine.history[-1].open_time == last.close_time
    assert len(runner.engine.history) == settings.history_candles
    assert len([m for _, m in logs if "candle store" in m]) == 1
