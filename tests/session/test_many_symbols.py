"""Five symbols in one engine (issue #16): entries and exits on several symbols, a stall of
one symbol's quotes pausing only that symbol, a dropped connection recovering every symbol
with no candle gap, and a restart restoring every open position. The real client, over real
sockets, against the simulator serving the five contracts."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from laptop_agents.session.async_session import AsyncRunner
from laptop_agents.session.views import view_json
from tests.support.sim import engine_settings
from tests.support.strategies import Enter
from tests.support.waiting import wait_until

SYMBOLS = ("BTCUSDT", "ETHUSDT", "SOLUSDT", "XRPUSDT", "DOGEUSDT")
SIM = {"symbols": SYMBOLS, "speed": 60.0, "kline_push_ms": 100, "depth_push_ms": 50}
@asynccontextmanager
async def running(sim: Any, data_dir: Path,
                  strategies: dict[str, Enter]) -> AsyncIterator[AsyncRunner]:
    settings = engine_settings(sim, data_dir, symbols=",".join(SYMBOLS),
                               max_position_qty=10**9)
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session,
                                          strategies=dict(strategies))
        runner.api_ready.set()
        task = asyncio.create_task(runner.run(stop))
        try:
            await wait_until(lambda: all(e.first_tick.is_set() for e in runner.symbols)
                             or task.done(), 10, "a tick of every symbol")
            if task.done():
                await task
            yield runner
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)


def same_symbols_json(runner: AsyncRunner) -> bool:
    """/status's hand-encoded symbols block is the SymbolView's own JSON (ages and the clock
    offset aside: they move with the laptop's clock between the two reads)."""
    controller = runner.controller
    controller.status_changed()
    fast = orjson.loads(controller.status_json())
    slow = orjson.loads(view_json(controller.status()))
    for body in (fast, slow):
        for entry in body["symbols"].values():
            entry["feed"].pop("last_tick_age_s"), entry["feed"].pop("clock_offset_ms")
        body.pop("uptime_s"), body.pop("loop_lag_ms"), body.pop("feed"), body.pop("tasks")
        body.pop("data_health")
    return bool(fast == slow and fast["symbols"])


def no_gap(runner: AsyncRunner) -> bool:
    for engine in runner.symbols:
        times = [c.open_time for c in engine.history]
        if any(b - a != 60_000 for a, b in itertools.pairwise(times)):
            return False
    return True


@pytest.mark.parametrize("sim_options", [SIM])
async def test_five_symbols_trade_pause_recover_and_restart_apart(
        sim: Any, tmp_path: Path) -> None:
    strategies = {symbol: Enter() for symbol in SYMBOLS}
    async with running(sim, tmp_path / "data", strategies) as runner:
        assert list(runner.symbols.by_symbol) == list(SYMBOLS)
        await wait_until(lambda: all(e.broker.position is not None for e in runner.symbols),
                         10, "an entry on every symbol")
        for strategy in strategies.values():
            strategy.armed.clear()
        # One balance: every entry fee came out of it; each symbol holds its own position.
        assert len(runner.controller.positions()) == 5
        assert same_symbols_json(runner)
        assert runner.broker.wallet is runner.symbols.by_symbol["DOGEUSDT"].broker.wallet

        # -- exits on two symbols: their quotes go through the stop --------------------------
        for symbol in ("ETHUSDT", "SOLUSDT"):
            position = runner.symbols.by_symbol[symbol].broker.position
            assert position is not None and position.stop is not None
            tick = sim.instrument(symbol).tick_size
            below = position.stop - 5 * tick
            sim.script_price(below, below + tick, pushes=2, symbol=symbol)
        await wait_until(lambda: {t.symbol for t in runner.journal.trades(10, None)}
                         >= {"ETHUSDT", "SOLUSDT"}, 10, "exits on ETH and SOL")
        assert {t.exit_reason for t in runner.journal.trades(10, None)} == {"stop"}
        assert runner.symbols.by_symbol["BTCUSDT"].broker.position is not None

        # -- one symbol's quotes stall: only that symbol pauses ------------------------------
        xrp = runner.symbols.by_symbol["XRPUSDT"]
        sim.mute("XRPUSDT")
        def gates() -> dict[str, list[str]]:
            shown = runner.controller.status().symbols or {}
            return {symbol: list(view.gate.reasons) for symbol, view in shown.items()}

        await wait_until(lambda: "stale_prices" in gates()["XRPUSDT"], 10, "XRP's quotes stale")
        assert {s: r for s, r in gates().items() if s != "XRPUSDT"} == {
            s: [] for s in SYMBOLS if s != "XRPUSDT"}
        assert xrp.gate.feed_connected  # the socket is fine: only the quotes stopped
        sim.mute("XRPUSDT", muted=False)
        await wait_until(xrp.gate.entries_allowed, 10, "XRP's quotes back")

        # -- the connection drops: every symbol recovers, no candle missing ------------------
        before = {e.symbol: e.history[-1].open_time for e in runner.symbols}
        sim.drop_all()
        await wait_until(lambda: runner.feed.reconnects >= 1, 10, "a reconnect")
        await wait_until(lambda: all(e.gate.entries_allowed() for e in runner.symbols)
                         and all(e.history[-1].open_time > before[e.symbol]
                                 for e in runner.symbols), 15, "every symbol live again")
        assert no_gap(runner)
        kept = {e.symbol: e.broker.position for e in runner.symbols
                if e.broker.position is not None}
        balance = runner.broker.balance
        await runner.controller.pause("ETH only", symbol="ETHUSDT")  # one symbol's pause
    assert set(kept) == {"BTCUSDT", "XRPUSDT", "DOGEUSDT"}

    # -- a restart: every open position comes back from the journal ---------------------------
    async with running(sim, tmp_path / "data", {s: Enter(armed=False) for s in SYMBOLS}
                       ) as again:
        restored = {e.symbol: e.broker.position for e in again.symbols
                    if e.broker.position is not None}
        assert restored == kept
        assert again.broker.balance == balance
        assert [p.symbol for p in again.controller.positions()] == list(kept)
        # The one-symbol pause outlived the restart; the other symbols trade.
        paused = {e.symbol: e.gate.manual_pause for e in again.symbols}
        assert paused == {s: "ETH only" if s == "ETHUSDT" else None for s in SYMBOLS}
