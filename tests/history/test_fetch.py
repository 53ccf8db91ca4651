"""`history fetch` against the simulator over real sockets, into a real SQLite file: a range,
the same range again (no requests), an interrupted fetch resumed, and gaps before the
simulator's history begins."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from laptop_agents.data.history.fetch import WINDOW_CANDLES, fetch_range
from laptop_agents.data.history.store import CandleStore, SeriesKey
from laptop_agents.data.providers import bitunix_values
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.sim.deep import DEEP_START_MS
from tests.support.sim import fast_settings

from .conftest import CountingRest

M = 60_000
KEY = SeriesKey("sim:7:test", "BTCUSDT", "1min")


def client(sim: Any, session: aiohttp.ClientSession, hold_at: int | None = None) -> CountingRest:
    return CountingRest(BitunixRestClient(session, fast_settings(sim)), hold_at=hold_at)


async def test_a_range_is_fetched_once_and_equals_the_exchange(
        sim: Any, session: aiohttp.ClientSession, tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "candles.sqlite3")
    span = (sim.origin_ms, sim.origin_ms + 500 * M)
    rest = client(sim, session)
    report = await fetch_range(rest, store, KEY, span)
    assert report.span == span and report.gaps == []
    assert report.stored == 500 and report.requests == len(rest.calls) == 3  # 199+199+102
    assert store.read(KEY, *span) == sim.closed_candles("BTCUSDT", "1min", *span)

    again = client(sim, session)
    report = await fetch_range(again, store, KEY, span)
    assert again.calls == [] and report.requests == 0 and report.skipped_ms == 500 * M
    # A wider range asks only for what it adds.
    wider = await fetch_range(again, store, KEY, (span[0], span[1] + 10 * M))
    assert again.calls == [(span[1], span[1] + 10 * M, None)] and wider.stored == 10


async def test_an_interrupted_fetch_resumes_to_the_same_result(
        sim: Any, session: aiohttp.ClientSession, tmp_path: Path) -> None:
    span = (sim.origin_ms, sim.origin_ms + 3 * WINDOW_CANDLES * M)
    store = CandleStore(tmp_path / "candles.sqlite3")
    held = client(sim, session, hold_at=2)
    task = asyncio.create_task(fetch_range(held, store, KEY, span))
    await held.holding.wait()  # the second window is asked: the first one is stored
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    assert store.covered(KEY) == [(span[0], span[0] + WINDOW_CANDLES * M)]

    resumed = client(sim, session)
    report = await fetch_range(resumed, store, KEY, span)
    assert [c[0] for c in resumed.calls] == [span[0] + WINDOW_CANDLES * M,
                                             span[0] + 2 * WINDOW_CANDLES * M]
    assert report.stored == 2 * WINDOW_CANDLES and report.skipped_ms == WINDOW_CANDLES * M
    assert store.read(KEY, *span) == sim.closed_candles("BTCUSDT", "1min", *span)
    assert store.covered(KEY) == [span] and store.gaps(KEY) == []


async def test_open_times_the_exchange_lacks_are_gaps_not_candles(
        sim: Any, session: aiohttp.ClientSession, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The client refuses exchange times before 2015 as implausible; the simulator's history
    # reaches back further, so its start (where the exchange has nothing) needs the bound off.
    monkeypatch.setattr(bitunix_values, "TS_MIN_MS", 0)
    store = CandleStore(tmp_path / "candles.sqlite3")
    # The deep history (sim/deep.py) begins at DEEP_START_MS: nothing exists before it.
    span = (DEEP_START_MS - 300 * M, DEEP_START_MS + 30 * M)
    report = await fetch_range(client(sim, session), store, KEY, span)
    assert report.gaps == [(span[0], DEEP_START_MS)]
    assert report.stored == 30
    assert store.read(KEY, *span) == sim.closed_candles("BTCUSDT", "1min", *span)
    # Asked once, the gap is not asked again.
    again = client(sim, session)
    assert (await fetch_range(again, store, KEY, span)).gaps == report.gaps
    assert again.calls == []


async def test_the_range_ends_at_the_newest_closed_candle(
        sim: Any, session: aiohttp.ClientSession, tmp_path: Path) -> None:
    store = CandleStore(tmp_path / "candles.sqlite3")
    now = sim.now_ms()
    report = await fetch_range(client(sim, session), store, KEY, (now - 20 * M, now + 60 * M))
    end = report.span[1]
    assert end <= sim.now_ms() and end % M == 0 and report.gaps == []
    assert store.last_open_time(KEY) == end - M
