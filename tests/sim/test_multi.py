"""Many contracts in one simulator (issue #16): each printed with its own precision over REST
and WebSocket, correlated through the market factor, each path independent of which others
are simulated, and LA_SIM_SYMBOLS checked like any setting."""

from __future__ import annotations

import asyncio
import itertools
import math
import statistics
import sys
from decimal import Decimal
from typing import Any

import pytest

from laptop_agents.config import load_settings
from laptop_agents.errors import EXIT_CONFIG, ConfigError
from laptop_agents.sim.contracts import SPECS
from laptop_agents.sim.embedded import sim_symbols
from laptop_agents.sim.market import SymbolMarket, build_markets, origin_for
from laptop_agents.sim.server import SimExchange

from .helpers import connect, next_json, rest, subscribe

START = 1_790_000_040_000
# Three magnitudes: tick 0.1 / lot 0.0001, tick 0.00001 / lot 1, tick 1e-9 / lot 1.
SYMBOLS = ("BTCUSDT", "DOGEUSDT", "SIM005USDT")
PAIRS = "/api/v1/futures/market/trading_pairs"
KLINE = "/api/v1/futures/market/kline"
DEPTH = "/api/v1/futures/market/depth"


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"symbols": SYMBOLS, "start_ms": START, "history_minutes": 60, "price_push_ms": 50}


def _decimals(text: str) -> int:
    exponent = Decimal(text).as_tuple().exponent
    assert isinstance(exponent, int)
    return max(0, -exponent)


def _on_grid(text: str, decimals: int) -> bool:
    return _decimals(text) <= decimals and Decimal(text) > 0


async def test_each_symbol_prints_with_its_own_precision_over_rest(
        sim: SimExchange, session: Any) -> None:
    pairs = {p["symbol"]: p for p in (await rest(session, sim.rest_url, PAIRS))["data"]}
    for symbol in SYMBOLS:
        spec, pair = SPECS[symbol], pairs[symbol]
        assert (pair["quotePrecision"], pair["basePrecision"]) == \
            (spec.price_decimals, spec.size_decimals)
        assert pair["minTradeVolume"] == spec.min_trade_volume
        rows = (await rest(session, sim.rest_url, KLINE, symbol=symbol, interval="1m",
                           limit=50))["data"]
        assert all(_on_grid(r[k], spec.price_decimals)
                   for r in rows for k in ("open", "high", "low", "close"))
        book = (await rest(session, sim.rest_url, DEPTH, symbol=symbol, limit=5))["data"]
        assert all(_on_grid(px, spec.price_decimals) and _on_grid(sz, spec.size_decimals)
                   for px, sz in book["bids"] + book["asks"])
        # Prices sit around the contract's centre (high-beta ones wander further), many
        # ticks wide (not BTC's tick applied to a 0.0006 USDT contract).
        close = Decimal(rows[0]["close"])
        assert Decimal(spec.start_price) / 10 < close < Decimal(spec.start_price) * 10
        assert close.scaleb(spec.price_decimals) > 1000
    # The finest tick really is used: SIM005USDT's prices need all nine decimals somewhere.
    assert max(_decimals(r["close"]) for r in rows) == 9


async def test_each_symbol_pushes_with_its_own_precision_over_ws(
        sim: SimExchange, session: Any) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, *((ch, s) for s in SYMBOLS for ch in ("depth_book1", "price")))
    for symbol in SYMBOLS:
        pd, sd = SPECS[symbol].price_decimals, SPECS[symbol].size_decimals
        depth = await next_json(ws, lambda f, s=symbol: f.get("ch") == "depth_book1"
                                and f.get("symbol") == s)
        px, sz = depth["data"]["b"][0]
        assert _on_grid(px, pd) and _on_grid(sz, sd)
        price = await next_json(ws, lambda f, s=symbol: f.get("ch") == "price"
                                and f.get("symbol") == s)
        assert _on_grid(price["data"]["mp"], pd) and _on_grid(price["data"]["ip"], pd)
    await ws.close()


def _returns(market: SymbolMarket, start: int, end: int) -> list[float]:
    closes = [agg.close for t in range(start, end, 60_000)
              if (agg := market.minute(t)) is not None]
    return [math.log(b / a) for a, b in itertools.pairwise(closes)]


def test_returns_correlate_through_the_factor_but_not_perfectly() -> None:
    origin = origin_for(START, 120)
    markets = build_markets(("BTCUSDT", "ETHUSDT", "SIM005USDT"), 42, origin)
    for market in markets.values():
        market.advance(START)
    for window in ((origin, START - 60_000), (origin - 6 * 3_600_000, origin)):  # live, deep
        btc = _returns(markets["BTCUSDT"], *window)
        for other in ("ETHUSDT", "SIM005USDT"):
            rho = statistics.correlation(btc, _returns(markets[other], *window))
            assert 0.2 < rho < 0.95, (other, window, rho)


def test_a_symbols_path_does_not_depend_on_the_others_simulated() -> None:
    origin = origin_for(START, 60)
    alone = SymbolMarket(SPECS["ETHUSDT"], 5, origin)
    crowd = build_markets(("SOLUSDT", "ETHUSDT", "SIM042USDT"), 5, origin)["ETHUSDT"]
    with_btc = build_markets(("BTCUSDT", "ETHUSDT"), 5, origin)["ETHUSDT"]
    crowd.advance(START - 600_000)  # another pattern of advancing: the same market
    for market in (alone, crowd, with_btc):
        market.advance(START)
    minutes = range(origin - 3 * 3_600_000, START - 60_000, 60_000)  # deep and live
    assert [alone.minute(t) for t in minutes] == [crowd.minute(t) for t in minutes] \
        == [with_btc.minute(t) for t in minutes]
    assert alone.bbo(START) == crowd.bbo(START) == with_btc.bbo(START)


def test_sim_symbols_setting_and_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LA_SIM_SYMBOLS", " ethusdt, SOLUSDT ")
    settings = load_settings()
    assert sim_symbols(settings) == ("ETHUSDT", "SOLUSDT")
    monkeypatch.setenv("LA_SIM_SYMBOLS", "")
    assert sim_symbols(load_settings(symbol="XRPUSDT")) == ("XRPUSDT",)
    for bad in ("BTCUSDT,NOPEUSDT", "ETHUSDT,ETHUSDT"):
        monkeypatch.setenv("LA_SIM_SYMBOLS", bad)
        with pytest.raises(ConfigError, match="invalid setting LA_SIM_SYMBOLS"):
            load_settings()


async def test_sim_command_refuses_an_unknown_symbol_with_exit_78() -> None:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "laptop_agents", "sim", "--symbols", "BTCUSDT,NOPEUSDT",
        stdin=asyncio.subprocess.DEVNULL, stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(30):
        _, err = await proc.communicate()
    assert proc.returncode == EXIT_CONFIG == 78
    assert "invalid setting LA_SIM_SYMBOLS: NOPEUSDT not simulated" in err.decode()
