"""Market REST endpoints: envelope, paging, errors, instruments, depth."""

from __future__ import annotations

import itertools
from decimal import Decimal
from typing import Any

import pytest

from laptop_agents.sim.rest import UNTRADABLE_PAIRS
from laptop_agents.sim.server import SimExchange

from .helpers import rest

KLINE = "/api/v1/futures/market/kline"
PAIRS = "/api/v1/futures/market/trading_pairs"
DEPTH = "/api/v1/futures/market/depth"


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"symbols": ("BTCUSDT", "ETHUSDT"), "start_ms": 1_790_000_040_000,
            "history_minutes": 120}


FULL = {"start_ms": 1_790_000_040_000}  # default history_minutes (1000)


@pytest.mark.parametrize("sim_options", [FULL])
async def test_history_covers_1000_minutes_newest_first_with_running_candle(
        sim: SimExchange, session) -> None:
    now = sim.now_ms()
    body = await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval="1m", limit=200)
    assert body["code"] == 0 and body["msg"] == "Success"
    rows = body["data"]
    assert len(rows) == 200
    times = [int(r["time"]) for r in rows]
    assert times == sorted(times, reverse=True)
    assert all(a - b == 60_000 for a, b in itertools.pairwise(times))
    assert times[0] == now // 60_000 * 60_000 or times[0] == sim.now_ms() // 60_000 * 60_000
    assert all(isinstance(v, str) for r in rows for v in r.values())
    # Page back past the live model's history (>= 1000 minutes before start_ms): full pages
    # all the way (the deep history goes on before it, docs/simulator.md), no overlap, no gap.
    oldest, end = times[-1], times[-1]
    while oldest > sim.start_ms - 1000 * 60_000:
        page = (await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval="1m",
                           endTime=end, limit=200))["data"]
        assert len(page) == 200
        assert int(page[0]["time"]) == end - 60_000  # endTime is exclusive: no overlap, no gap
        end = int(page[-1]["time"])
        oldest = end
    assert oldest <= sim.start_ms - 1000 * 60_000


async def test_closed_rows_match_ground_truth_and_swapped_volume(
        sim: SimExchange, session) -> None:
    rows = (await rest(session, sim.rest_url, KLINE, symbol="btcusdt", interval="1m",
                       limit=20))["data"]
    truth = {c.open_time: c for c in sim.closed_candles("BTCUSDT", "1min")}
    closed = [r for r in rows if int(r["time"]) in truth]
    assert len(closed) >= 18
    for row in closed:
        c = truth[int(row["time"])]
        assert (Decimal(row["open"]), Decimal(row["high"]), Decimal(row["low"]),
                Decimal(row["close"])) == (c.open, c.high, c.low, c.close)
        # Live 1m quirk: `quoteVol` holds the base quantity, `baseVol` the USDT turnover.
        assert Decimal(row["quoteVol"]) == c.volume
        assert Decimal(row["baseVol"]) == c.quote_volume
    hourly = (await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval="1h",
                         limit=3))["data"]
    h_truth = {c.open_time: c for c in sim.closed_candles("BTCUSDT", "60min")}
    row = next(r for r in hourly if int(r["time"]) in h_truth)
    assert Decimal(row["baseVol"]) == h_truth[int(row["time"])].volume  # not swapped


@pytest.mark.parametrize("sim_options", [{"swapped_rest_volume": False,
                                          "history_minutes": 30}])
async def test_unswapped_volume_switch(sim: SimExchange, session) -> None:
    rows = (await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval="1m",
                       limit=5))["data"]
    truth = {c.open_time: c for c in sim.closed_candles("BTCUSDT")}
    row = next(r for r in rows if int(r["time"]) in truth)
    assert Decimal(row["baseVol"]) == truth[int(row["time"])].volume


@pytest.mark.parametrize("sim_options", [FULL])
async def test_start_end_window_and_default_limit(sim: SimExchange, session) -> None:
    start = sim.start_ms - 30 * 60_000
    end = sim.start_ms - 10 * 60_000
    rows = (await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval="1m",
                       startTime=start, endTime=end))["data"]
    times = [int(r["time"]) for r in rows]
    assert times[0] == end - 60_000 and times[-1] == start and len(times) == 20
    default = (await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval="5m"))["data"]
    assert len(default) == 100
    assert all(int(r["time"]) % 300_000 == 0 for r in default)


@pytest.mark.parametrize("limit", ["0", "201", "-5", "abc"])
async def test_bad_limit_is_10008_with_http_200(sim: SimExchange, session, limit: str) -> None:
    body = await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval="1m", limit=limit)
    assert body["code"] == 10008 and body["data"] is None


async def test_kline_errors(sim: SimExchange, session) -> None:
    unknown = await rest(session, sim.rest_url, KLINE, symbol="NOPEUSDT", interval="1m")
    assert unknown == {"code": 20015, "data": None, "msg": "this Futures is not allowed to trade."}
    bad_iv = await rest(session, sim.rest_url, KLINE, symbol="BTCUSDT", interval="1min")
    assert bad_iv["code"] == 10002
    missing = await rest(session, sim.rest_url, KLINE, interval="1m")
    assert missing["code"] == 10002


async def test_trading_pairs(sim: SimExchange, session) -> None:
    body = await rest(session, sim.rest_url, PAIRS)
    by_symbol = {p["symbol"]: p for p in body["data"]}
    tradable = {s for s, p in by_symbol.items()
                if p["symbolStatus"] == "OPEN" and p["isApiSupported"] is True}
    assert tradable == {"BTCUSDT", "ETHUSDT"}  # the simulated ones
    # Listed but not tradable, as live: a PREVIEW, a CANCEL_ONLY, one without API trading.
    assert {(s, p["symbolStatus"], p["isApiSupported"]) for s, p in by_symbol.items()
            if s not in tradable} == set(UNTRADABLE_PAIRS)
    btc = by_symbol["BTCUSDT"]
    assert btc["quotePrecision"] == 1 and btc["basePrecision"] == 4
    assert btc["minTradeVolume"] == "0.0001" and btc["symbolStatus"] == "OPEN"
    preview = await rest(session, sim.rest_url, PAIRS, symbols="NEWCOINUSDT,NOPEUSDT")
    assert [(p["symbol"], p["symbolStatus"]) for p in preview["data"]] == \
        [("NEWCOINUSDT", "PREVIEW")]
    no_klines = await rest(session, sim.rest_url, KLINE, symbol="NEWCOINUSDT", interval="1m")
    assert no_klines["code"] == 20015  # listed, never simulated
    assert btc["base"] == "BTC" and btc["quote"] == "USDT" and btc["maxLeverage"] == 125
    only = await rest(session, sim.rest_url, PAIRS, symbols="ethusdt")
    assert [p["symbol"] for p in only["data"]] == ["ETHUSDT"]
    inst = sim.instrument("BTCUSDT")
    assert inst.tick_size == Decimal("0.1") and inst.lot_step == Decimal("0.0001")


@pytest.mark.parametrize("limit,levels", [("1", 1), ("5", 5), ("15", 15), ("50", 50),
                                          ("max", 200)])
async def test_depth_limits(sim: SimExchange, session, limit: str, levels: int) -> None:
    body = await rest(session, sim.rest_url, DEPTH, symbol="btcusdt", limit=limit)
    assert body["code"] == 0
    assert len(body["data"]["bids"]) == levels and len(body["data"]["asks"]) == levels
    assert all(isinstance(x, str) for lvl in body["data"]["asks"] for x in lvl)
    bids = [Decimal(price) for price, _ in body["data"]["bids"]]
    asks = [Decimal(price) for price, _ in body["data"]["asks"]]
    assert bids[0] < asks[0]  # never crossed
    assert bids == sorted(bids, reverse=True) and asks == sorted(asks)  # best first
    # The same market as the stream: the request and current_tick() are a few simulated
    # seconds apart at 60x (a jump can land between them), so compare mids loosely.
    mid = (bids[0] + asks[0]) / 2
    assert abs(mid - sim.current_tick().mid) / mid < Decimal("0.01")


async def test_depth_errors(sim: SimExchange, session) -> None:
    assert (await rest(session, sim.rest_url, DEPTH, symbol="BTCUSDT", limit=100))["code"] \
        == 10008
    assert await rest(session, sim.rest_url, DEPTH) == {"code": 1, "data": None,
                                                        "msg": "Network Error"}


async def test_unknown_path_is_404_body_with_http_200(sim: SimExchange, session) -> None:
    assert await rest(session, sim.rest_url, "/api/v1/futures/market/nothing") == {
        "code": 404, "data": None, "msg": "Not Found"}
