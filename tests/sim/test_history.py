"""History before the detailed window is generated as minute aggregates only: the same market."""

from __future__ import annotations

import pytest

from laptop_agents.sim.contracts import SPECS
from laptop_agents.sim.market import SymbolMarket, origin_for
from laptop_agents.sim.records import MINUTE_MS

START = 1_790_000_040_000


def _eager(symbol: str, seed: int, origin: int, until: int) -> SymbolMarket:
    """Advanced in 10 s steps: always the step-by-step path (the window is 900 s)."""
    market = SymbolMarket(SPECS[symbol], seed, origin)
    t = origin
    while t < until:
        t = min(until, t + 10_000)
        market.advance(t)
    return market


def _same(a: SymbolMarket, b: SymbolMarket, t_ms: int) -> None:
    minutes = (t_ms - a.origin_ms) // MINUTE_MS
    for i in range(minutes):
        assert a.minute(a.origin_ms + i * MINUTE_MS) == b.minute(b.origin_ms + i * MINUTE_MS)
    assert a.bbo(t_ms) == b.bbo(t_ms)
    assert a.last_trade(t_ms) == b.last_trade(t_ms)
    assert a.trades(t_ms - 600_000, t_ms, 10_000) == b.trades(t_ms - 600_000, t_ms, 10_000)
    assert a.candle(5 * MINUTE_MS, t_ms // (5 * MINUTE_MS) * (5 * MINUTE_MS), t_ms) == \
        b.candle(5 * MINUTE_MS, t_ms // (5 * MINUTE_MS) * (5 * MINUTE_MS), t_ms)


@pytest.mark.parametrize(("symbol", "seed"), [("BTCUSDT", 42), ("BTCUSDT", 7), ("ETHUSDT", 3)])
def test_aggregated_history_equals_step_by_step(symbol: str, seed: int) -> None:
    origin = origin_for(START, 120)
    lazy = SymbolMarket(SPECS[symbol], seed, origin)
    lazy.advance(START)  # one jump: every minute before the window as aggregates only
    eager = _eager(symbol, seed, origin, START)
    assert len(lazy._minutes) == len(eager._minutes) > 100
    _same(lazy, eager, START)
    # The market goes on identically, through a second aggregated jump too.
    for t in (START + 37_123, START + 3 * 3_600_000 + 5):
        lazy.advance(t)
        _continue(eager, t)
        _same(lazy, eager, t)


def _continue(market: SymbolMarket, until: int) -> None:
    t = market.generated_until_ms
    while t <= until:
        market.advance(t)
        t += 10_000
    market.advance(until)


def test_a_script_in_progress_keeps_the_step_by_step_path() -> None:
    origin = origin_for(START, 60)
    lazy = SymbolMarket(SPECS["BTCUSDT"], 5, origin)
    eager = _eager("BTCUSDT", 5, origin, START)
    lazy.advance(START)
    for market in (lazy, eager):
        bbo = market.bbo(START)
        market.script(START, bbo.bid + 500, bbo.ask + 500, pushes=3, push_sim_ms=400_000)
    later = START + 2 * 3_600_000
    lazy.advance(later)
    _continue(eager, later)
    _same(lazy, eager, later)
