"""Mark, index and funding: the pure model, the REST endpoints and the `price` channel."""

from __future__ import annotations

import itertools
from datetime import datetime
from decimal import Decimal
from typing import Any

import pytest

from laptop_agents.sim import funding
from laptop_agents.sim.contracts import SPECS
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.records import MINUTE_MS
from laptop_agents.sim.server import SimExchange

from .helpers import connect, is_ch, next_json, rest, subscribe

ORIGIN = 1_790_000_040_000 // 3_600_000 * 3_600_000
MARKET = "/api/v1/futures/market"
START = 1_790_000_040_000


def _market(seed: int, minutes: int, step_s: int = 0) -> Any:
    from laptop_agents.sim.market import SymbolMarket

    m = SymbolMarket(SPECS["BTCUSDT"], seed, ORIGIN)
    end = ORIGIN + minutes * MINUTE_MS
    if step_s:  # advance in small steps: the model must not care how it is driven
        for t in range(ORIGIN, end, step_s * 1000):
            m.advance(t)
    m.advance(end)
    return m


def test_mark_and_index_are_pure_functions_of_seed_and_time() -> None:
    a, b = _market(7, 30), _market(7, 30, step_s=7)
    for t in (ORIGIN + 20 * MINUTE_MS, ORIGIN + 29 * MINUTE_MS + 12_345, ORIGIN + 30 * MINUTE_MS):
        mark = funding.mark_ticks(a, t)
        assert mark == funding.mark_ticks(b, t)
        assert funding.index_ticks(a, 7, mark, t) == funding.index_ticks(b, 7, mark, t)
        # The index sits a few basis points from the mark.
        assert abs(funding.index_ticks(a, 7, mark, t) - mark) <= mark * 5 / 10_000 + 1
    assert funding.mark_ticks(_market(8, 30), ORIGIN + 30 * MINUTE_MS) != funding.mark_ticks(
        a, ORIGIN + 30 * MINUTE_MS)


def test_mark_is_the_last_minutes_volume_weighted_price() -> None:
    m = _market(3, 20)
    t = ORIGIN + 20 * MINUTE_MS
    trades = m.trades(t - MINUTE_MS - 1, t - 1, 10_000)
    vwap = Decimal(sum(x.price * x.qty for x in trades)) / sum(x.qty for x in trades)
    # On a whole minute it comes from the kept minute aggregate, elsewhere from the trades:
    # both are the same number.
    assert funding.mark_ticks(m, t) == int(vwap.to_integral_value())
    last = m.last_trade(t).price
    assert abs(funding.mark_ticks(m, t) - last) < last * 0.005


def test_funding_rates_are_deterministic_plausible_and_change_sign() -> None:
    for seed in (1, 7, 13, 42):
        ks = range(62_000, 62_060)
        rates = [funding.funding_rate_pct(seed, "BTCUSDT", k) for k in ks]
        funding.funding_rate_pct.cache_clear()
        assert rates == [funding.funding_rate_pct(seed, "BTCUSDT", k) for k in ks]
        assert all(Decimal("-0.03") <= r <= Decimal("0.06") for r in rates)
        assert all(r == r.quantize(Decimal("0.000001")) for r in rates)
        signs = [r > 0 for r in rates]
        assert max(len(list(run)) for _, run in itertools.groupby(signs)) <= 15, seed
        assert sum(x != y for x, y in itertools.pairwise(signs)) >= 8, seed
    assert funding.funding_rate_pct(7, "BTCUSDT", 5) != funding.funding_rate_pct(7, "ETHUSDT", 5)
    assert funding.fmt_rate(Decimal("-0.000770")) == "-0.00077"
    assert funding.fmt_rate(Decimal("0E-6")) == "0"


def test_interval_must_be_whole_minutes() -> None:
    with pytest.raises(ValueError, match="multiple of 60000"):
        SimOptions(funding_interval_ms=90_000)
    with pytest.raises(ValueError, match="origin_ms"):
        SimOptions(start_ms=START, origin_ms=START + MINUTE_MS)


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"symbols": ("BTCUSDT", "ETHUSDT"), "start_ms": START, "history_minutes": 120,
            "funding_interval_ms": 10 * MINUTE_MS}


async def test_funding_rate_and_batch(sim: SimExchange, session) -> None:
    body = await rest(session, sim.rest_url, f"{MARKET}/funding_rate", symbol="btcusdt")
    assert body["code"] == 0 and body["msg"] == "Success"
    quote = body["data"]
    assert set(quote) == {"symbol", "markPrice", "lastPrice", "fundingRate", "fundingInterval",
                          "nextFundingTime"}
    assert quote["symbol"] == "BTCUSDT"
    assert quote["fundingInterval"] == pytest.approx(1 / 6, abs=1e-6)
    next_ms = int(quote["nextFundingTime"])
    assert next_ms % (10 * MINUTE_MS) == 0 and 0 < next_ms - sim.now_ms() <= 10 * MINUTE_MS
    k = next_ms // (10 * MINUTE_MS)
    assert Decimal(quote["fundingRate"]) == funding.funding_rate_pct(7, "BTCUSDT", k)
    assert abs(Decimal(quote["markPrice"]) / Decimal(quote["lastPrice"]) - 1) < Decimal("0.01")
    batch = (await rest(session, sim.rest_url, f"{MARKET}/funding_rate/batch"))["data"]
    assert [r["symbol"] for r in batch] == ["BTCUSDT", "ETHUSDT"]
    some = (await rest(session, sim.rest_url, f"{MARKET}/funding_rate/batch",
                       symbols="ethusdt,NOPEUSDT"))["data"]
    assert [r["symbol"] for r in some] == ["ETHUSDT"]
    for params, code in (({}, 10002), ({"symbol": "NOPEUSDT"}, 20015)):
        bad = await rest(session, sim.rest_url, f"{MARKET}/funding_rate", **params)
        assert (bad["code"], bad["data"]) == (code, None)


async def test_history_newest_first_pages_and_limits(sim: SimExchange, session) -> None:
    path = f"{MARKET}/get_funding_rate_history"
    rows = (await rest(session, sim.rest_url, path, symbol="BTCUSDT"))["data"]
    now = sim.now_ms()
    times = [int(r["fundingTime"]) for r in rows]
    # 120 minutes of history at a 10-minute interval: about 12 settlements, all in the past.
    assert 10 <= len(rows) <= 13 and times == sorted(times, reverse=True)
    assert all(a - b == 10 * MINUTE_MS for a, b in itertools.pairwise(times))
    assert times[0] <= now < times[0] + 10 * MINUTE_MS
    market = sim.market("BTCUSDT")
    for row in rows:
        assert all(isinstance(v, str) for v in row.values())
        t = int(row["fundingTime"])
        assert Decimal(row["fundingRate"]) == funding.funding_rate_pct(7, "BTCUSDT",
                                                                        t // (10 * MINUTE_MS))
        assert Decimal(row["markPrice"]) == Decimal(funding.mark_ticks(market, t)) / 10
    page = (await rest(session, sim.rest_url, path, symbol="BTCUSDT", limit=3))["data"]
    assert [int(r["fundingTime"]) for r in page] == times[:3]
    older = (await rest(session, sim.rest_url, path, symbol="BTCUSDT", limit=3,
                        endTime=times[2]))["data"]  # endTime is exclusive: no overlap
    assert [int(r["fundingTime"]) for r in older] == times[3:6]
    for start_name in ("startTime", "starTime"):
        since = (await rest(session, sim.rest_url, path, symbol="BTCUSDT",
                            **{start_name: times[4]}))["data"]
        assert [int(r["fundingTime"]) for r in since] == times[:5]
    for params, code in (({"symbol": "BTCUSDT", "limit": 201}, 10008),
                         ({"symbol": "BTCUSDT", "limit": "x"}, 10008),
                         ({"symbol": "BTCUSDT", "endTime": "soon"}, 10002),
                         ({}, 10002), ({"symbol": "NOPEUSDT"}, 20015)):
        bad = await rest(session, sim.rest_url, path, **params)
        assert (bad["code"], bad["data"]) == (code, None), params


async def test_tickers(sim: SimExchange, session) -> None:
    rows = (await rest(session, sim.rest_url, f"{MARKET}/tickers"))["data"]
    assert [r["symbol"] for r in rows] == ["BTCUSDT", "ETHUSDT"]
    btc = (await rest(session, sim.rest_url, f"{MARKET}/tickers", symbols="BTCUSDT"))["data"]
    assert len(btc) == 1
    row = btc[0]
    assert set(row) == {"symbol", "markPrice", "lastPrice", "open", "last", "quoteVol",
                        "baseVol", "high", "low"}
    assert all(isinstance(v, str) for v in row.values())
    low, high = Decimal(row["low"]), Decimal(row["high"])
    assert low <= Decimal(row["last"]) <= high and low <= Decimal(row["open"]) <= high
    assert row["last"] == row["lastPrice"]
    # The market moved on since the answer (60x): the last price is near the one now.
    now_last = sim.current_tick().last
    assert now_last is not None
    assert abs(Decimal(row["last"]) - now_last) <= now_last * Decimal("0.002")
    # quoteVol is the USDT turnover: about base volume times price.
    ratio = Decimal(row["quoteVol"]) / Decimal(row["baseVol"])
    assert low <= ratio <= high


def _iso_ms(text: str) -> int:
    assert text.endswith("Z")
    return int(datetime.fromisoformat(text).timestamp() * 1000)


@pytest.mark.parametrize("sim_options", [{"funding_interval_ms": MINUTE_MS, "speed": 100.0,
                                           "price_push_ms": 100, "history_minutes": 30}])
async def test_price_channel_shows_settlements_at_speed(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("price", "btcusdt"))
    first = await next_json(ws, is_ch("price"))
    assert first["symbol"] == "BTCUSDT" and set(first["data"]) == {"ip", "mp", "fr", "ft", "nft"}
    data = first["data"]
    assert all(isinstance(v, str) for v in data.values())
    ft, nft = _iso_ms(data["ft"]), _iso_ms(data["nft"])
    assert ft <= first["ts"] < nft == ft + MINUTE_MS
    assert abs(Decimal(data["ip"]) / Decimal(data["mp"]) - 1) <= Decimal("0.0005")
    truth = sim.mark_price("BTCUSDT")  # the ground truth as the client's model
    assert truth.funding_rate * 100 == Decimal(data["fr"]) or truth.last_settlement_ms != ft
    assert truth.ts >= first["ts"] and truth.next_settlement_ms == truth.last_settlement_ms \
        + MINUTE_MS
    # At 100x a one-minute interval settles every 0.6 wall seconds: wait for two more.
    seen = {ft: data["fr"]}
    while len(seen) < 3:
        frame = await next_json(ws, is_ch("price"), timeout=5)
        seen[_iso_ms(frame["data"]["ft"])] = frame["data"]["fr"]
    history = (await rest(session, sim.rest_url, f"{MARKET}/get_funding_rate_history",
                          symbol="BTCUSDT", limit=50))["data"]
    settled = {int(r["fundingTime"]): r["fundingRate"] for r in history}
    assert all(settled[t] == rate for t, rate in seen.items())
    await ws.close()
