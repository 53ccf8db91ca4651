"""Tradable instruments over REST: OPEN + isApiSupported, anything else refused with one line."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from laptop_agents.data.instruments import known_symbols, tradable_instrument
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.errors import EXIT_CONFIG, ConfigError
from laptop_agents.models import Instrument
from laptop_agents.sim.rest import UNTRADABLE_PAIRS
from tests.support.sim import fast_settings


def _rest(sim: Any, session: aiohttp.ClientSession, source: str = "sim") -> BitunixRestClient:
    return BitunixRestClient(session, fast_settings(sim, source=source))


async def test_trading_pairs_carry_status_and_api_support(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    pairs = await _rest(sim, session).trading_pairs()
    assert pairs["BTCUSDT"].tradable and pairs["BTCUSDT"].status == "OPEN"
    listed = {symbol: (pairs[symbol].status, pairs[symbol].api_supported)
              for symbol, _, _ in UNTRADABLE_PAIRS}
    assert listed == {symbol: (status, api) for symbol, status, api in UNTRADABLE_PAIRS}
    assert {"PREVIEW", "CANCEL_ONLY"} <= {status for status, _ in listed.values()}
    assert not any(pairs[symbol].tradable for symbol in listed)
    assert [name for name, i in pairs.items() if i.tradable] == ["BTCUSDT"]


async def test_a_tradable_symbol_gives_its_rules(sim: Any, session: aiohttp.ClientSession) -> None:
    instrument = await tradable_instrument(_rest(sim, session), "btcusdt")
    assert instrument == sim.instrument("BTCUSDT")
    assert instrument.tick_size == Decimal("0.1")


@pytest.mark.parametrize(("symbol", "source", "message"), [
    ("NEWCOINUSDT", "sim", "NEWCOINUSDT is not tradable on sim (status PREVIEW)"),
    ("OLDCOINUSDT", "bitunix", "OLDCOINUSDT is not tradable on bitunix (status CANCEL_ONLY)"),
    ("NOAPICOINUSDT", "sim", "NOAPICOINUSDT is not tradable on sim (isApiSupported false)"),
    ("DOGEUSDT", "bitunix", "DOGEUSDT is unknown on bitunix; known: BTCUSDT"),
])
async def test_an_untradable_or_unknown_symbol_is_a_config_error(
    sim: Any, session: aiohttp.ClientSession, symbol: str, source: str, message: str
) -> None:
    with pytest.raises(ConfigError) as error:
        await tradable_instrument(_rest(sim, session, source), symbol)
    assert str(error.value) == f"invalid setting LA_SYMBOL: {message}"
    assert error.value.exit_code == EXIT_CONFIG == 78


async def test_a_preview_symbols_stream_is_only_one_frame_of_empty_levels(
    sim: Any, session: aiohttp.ClientSession
) -> None:
    """What a client that skipped the check would see: nothing usable (reference 3.2)."""
    from tests.sim.helpers import collect, connect, subscribe

    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book1", "NEWCOINUSDT"))
    frames = await collect(ws, 0.5)
    await ws.close()
    assert [f["data"] for f in frames] == [{"b": [["", ""]], "a": [["", ""]]}]


def test_many_known_symbols_are_narrowed_to_look_alikes() -> None:
    rules = {"tick_size": Decimal("0.1"), "lot_step": Decimal("0.001"), "min_qty": Decimal(0)}
    listed = {name: Instrument(name, **rules) for name in
              [f"C{i:03d}USDT" for i in range(40)] + ["DOGEUSDT", "DOGSUSDT"]}
    listed["PREVUSDT"] = Instrument("PREVUSDT", **rules, status="PREVIEW")
    text = known_symbols("DOGEUSD", listed)
    assert text.startswith("DOGEUSDT, DOGSUSDT") and text.endswith("(42 tradable)")
    assert "PREVUSDT" not in known_symbols("PREVUSD", listed)
    assert known_symbols("X", {}) == "none"
