"""Public WebSocket protocol behaviour against a real SimExchange on loopback."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

import aiohttp
import pytest

from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange

from .helpers import collect, connect, is_ch, is_op, next_json, send, subscribe, wait_closed


@pytest.fixture
def sim_options() -> dict[str, Any]:
    return {"history_minutes": 60}


def _all_strings(data: Any) -> bool:
    if isinstance(data, dict):
        return all(_all_strings(v) for v in data.values())
    if isinstance(data, list):
        return all(_all_strings(v) for v in data)
    return isinstance(data, str)


async def test_connect_frame_first_and_no_subscribe_ack(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book1", "BTCUSDT"))
    first = await next_json(ws)
    assert "op" not in first and first["ch"] == "depth_book1"  # data, not an ack


async def test_ping_echo_with_open_second(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    opened = sim.now_ms() // 1000
    await asyncio.sleep(0.2)  # 12 simulated seconds pass at speed 60
    await send(ws, {"op": "ping", "ping": 1732519687})
    reply = await next_json(ws, is_op("ping"))
    assert reply["pong"] == 1732519687
    assert abs(reply["ping"] - opened) <= 1  # live: the second the socket opened
    assert set(reply) == {"op", "ping", "pong"}
    assert sim.stats.pings_answered == 1


@pytest.mark.parametrize("sim_options", [{"history_minutes": 60, "ping_reply": "now"}])
async def test_ping_reply_server_now_switch(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    opened = sim.now_ms() // 1000
    await asyncio.sleep(0.3)
    await send(ws, {"op": "ping", "ping": 5})
    reply = await next_json(ws, is_op("ping"))
    assert reply["ping"] >= opened + 10
    assert abs(reply["ping"] - sim.now_ms() // 1000) <= 2


@pytest.mark.parametrize("sim_options", [{"history_minutes": 60, "subscribe_ack": True}])
async def test_subscribe_ack_switch(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("trade", "BTCUSDT"))
    ack = await next_json(ws)
    assert ack == {"op": "subscribe", "ch": "trade", "symbol": "BTCUSDT",
                   "data": {"result": True}}


async def test_unsubscribe_echo_and_stream_stops(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book1", "BTCUSDT"))
    await next_json(ws, is_ch("depth_book1"))
    await send(ws, {"op": "unsubscribe", "args": [{"symbol": "BTCUSDT", "ch": "depth_book1"}]})
    reply = await next_json(ws, is_op("unsubscribe"))
    assert set(reply) == {"op", "ts", "data"} and reply["data"] == "success"
    assert isinstance(reply["ts"], int) and abs(reply["ts"] - sim.now_ms()) < 60_000
    later = await collect(ws, 0.4)
    assert not [f for f in later if f.get("ch") == "depth_book1"]


async def test_silence_for_unknown_channel_op_and_non_json(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("market_kline_1m", "BTCUSDT"), ("nonsense", "BTCUSDT"))
    await send(ws, {"op": "dance"})
    await ws.send_str("this is not json")
    assert await collect(ws, 0.5) == []
    assert not ws.closed


async def test_unknown_symbol_on_depth_sends_one_empty_frame(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book15", "NOPEUSDT"), ("market_kline_1min", "NOPEUSDT"))
    await send(ws, {"op": "subscribe", "args": [{"ch": "depth_book1"}]})
    frames = await collect(ws, 0.6)
    assert len(frames) == 2
    first, second = frames
    assert first["symbol"] == "NOPEUSDT"
    assert first["data"]["b"] == [["", ""]] * 15 and first["data"]["a"] == [["", ""]] * 15
    assert "symbol" not in second and second["data"] == {"b": [["", ""]], "a": [["", ""]]}


async def test_lower_case_symbol_and_duplicate_subscription(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book1", "btcusdt"), ("depth_book1", "BTCUSDT"))
    frames = [f for f in await collect(ws, 1.0) if f.get("ch") == "depth_book1"]
    assert frames and all(f["symbol"] == "BTCUSDT" for f in frames)
    stamps = [f["ts"] for f in frames]
    assert len(stamps) == len(set(stamps)), "the same stream twice must push once per tick"


async def test_subscription_cap_keeps_first_300(session) -> None:
    async with SimExchange(SimOptions(seed=1, speed=60, history_minutes=60,
                                      max_frames_per_second=50, depth_push_ms=50)) as sim:
        ws = await connect(session, sim.ws_url)
        pairs = [(f"market_kline_{iv}", f"SYM{i}USDT") for i in range(100)
                 for iv in ("1min", "5min", "15min")]
        await subscribe(ws, *pairs)  # 300 (unknown symbols still count)
        await subscribe(ws, ("depth_book1", "BTCUSDT"))  # the 301st
        err = await next_json(ws, is_op("subscribe"))
        assert err == {"op": "subscribe",
                       "data": {"msg": "subscribe channel > 300", "nonce": "", "result": False}}
        assert not [f for f in await collect(ws, 0.3) if f.get("ch") == "depth_book1"]
        # One of the first 300 is unsubscribed: there is room again.
        await send(ws, {"op": "unsubscribe", "args": [{"ch": "market_kline_1min",
                                                       "symbol": "SYM0USDT"}]})
        await subscribe(ws, ("depth_book1", "BTCUSDT"))
        await next_json(ws, is_ch("depth_book1"))


@pytest.mark.parametrize("sim_options", [{"history_minutes": 60, "max_subscriptions": 2}])
async def test_first_subscriptions_keep_streaming_after_cap(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book1", "BTCUSDT"), ("market_kline_1min", "BTCUSDT"),
                    ("trade", "BTCUSDT"))
    await next_json(ws, is_op("subscribe"))
    frames = await collect(ws, 1.2)
    channels = {f.get("ch") for f in frames}
    assert {"depth_book1", "market_kline_1min"} <= channels
    assert "trade" not in channels


@pytest.mark.parametrize("interval,ms", [("1min", 60_000), ("5min", 300_000),
                                         ("15min", 900_000), ("60min", 3_600_000)])
async def test_kline_push_shape(sim: SimExchange, session, interval: str, ms: int) -> None:
    ws = await connect(session, sim.ws_url)
    ch = f"market_kline_{interval}"
    await subscribe(ws, (ch, "BTCUSDT"))
    push = await next_json(ws, is_ch(ch))
    assert set(push) == {"ch", "symbol", "ts", "data"}
    assert set(push["data"]) == {"o", "h", "l", "c", "b", "q"}  # no closed flag, no open time
    assert _all_strings(push["data"])
    # The whole running candle of the bucket containing ts: equal to the ground truth prefix.
    bucket = push["ts"] // ms * ms
    market = sim.market("BTCUSDT")
    agg = market.candle(ms, bucket, push["ts"])
    assert agg is not None
    assert Decimal(push["data"]["o"]) == Decimal(agg.open) / 10
    assert Decimal(push["data"]["c"]) == Decimal(agg.close) / 10
    assert Decimal(push["data"]["b"]) == Decimal(agg.volume) / 10_000
    o, h, low, c = (Decimal(push["data"][k]) for k in "ohlc")
    assert h >= max(o, c) and low <= min(o, c)


async def test_depth_ticker_trade_shapes(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book5", "BTCUSDT"), ("ticker", "BTCUSDT"), ("trade", "BTCUSDT"),
                    ("depth_book15", "BTCUSDT"))
    d5 = await next_json(ws, is_ch("depth_book5"))
    bids, asks = d5["data"]["b"], d5["data"]["a"]
    assert len(bids) == len(asks) == 5 and _all_strings(d5["data"])
    assert [Decimal(p) for p, _ in bids] == sorted((Decimal(p) for p, _ in bids), reverse=True)
    assert [Decimal(p) for p, _ in asks] == sorted(Decimal(p) for p, _ in asks)
    assert Decimal(bids[0][0]) < Decimal(asks[0][0])
    d15 = await next_json(ws, is_ch("depth_book15"))
    assert len(d15["data"]["b"]) == 15
    ticker = await next_json(ws, is_ch("ticker"))
    assert set(ticker["data"]) == {"s", "o", "la", "h", "l", "b", "q", "r"}
    assert _all_strings(ticker["data"]) and ticker["data"]["s"] == "BTCUSDT"
    o, la = Decimal(ticker["data"]["o"]), Decimal(ticker["data"]["la"])
    assert abs(Decimal(ticker["data"]["r"]) - (la - o) / o * 100) < Decimal("1e-8")
    trade = await next_json(ws, is_ch("trade"))
    assert isinstance(trade["data"], list) and trade["data"]
    first = trade["data"][0]
    assert set(first) == {"t", "p", "v", "s"} and first["s"] in ("buy", "sell")
    assert first["t"].endswith("Z") and len(first["t"].split(".")[1]) == 10  # 9 digits + Z


async def test_push_timestamps_are_simulated_ms(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("market_kline_1min", "BTCUSDT"))

    def regular(f: dict[str, Any]) -> bool:
        """A timer push (a bucket's closing push, ts = its last ms, may come in between)."""
        return f.get("ch") == "market_kline_1min" and f["ts"] % 60_000 != 59_999

    a = await next_json(ws, regular)
    b = await next_json(ws, regular)
    # kline_push_ms=100 at speed 60: ~6 simulated seconds between pushes (wall is 0.1 s).
    assert 3_000 <= b["ts"] - a["ts"] <= 30_000
    assert abs(b["ts"] - sim.now_ms()) < 30_000
    assert isinstance(b["ts"], int) and len(str(b["ts"])) == 13  # milliseconds


@pytest.mark.parametrize("sim_options", [{"history_minutes": 60, "idle_timeout": 0.5}])
async def test_idle_connection_dropped_with_1006(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("depth_book1", "BTCUSDT"))  # data flowing does not count as activity
    msg = await wait_closed(ws, timeout=5)
    assert msg.type == aiohttp.WSMsgType.CLOSED
    assert ws.close_code == 1006  # aborted: no close frame
    assert sim.stats.dropped_idle == 1


@pytest.mark.parametrize("sim_options", [{"history_minutes": 60, "idle_timeout": 0.6}])
async def test_pings_keep_connection_alive(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    for n in range(5):
        await send(ws, {"op": "ping", "ping": n})
        await next_json(ws, is_op("ping"))
        await asyncio.sleep(0.25)
    assert not ws.closed and sim.stats.dropped_idle == 0


async def test_more_than_five_frames_per_second_drops(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    for n in range(6):
        await send(ws, {"op": "ping", "ping": n})
    await wait_closed(ws)
    assert ws.close_code == 1006
    assert sim.stats.dropped_rate == 1


async def test_five_frames_per_second_is_fine(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    for n in range(5):
        await send(ws, {"op": "ping", "ping": n})
    replies = [await next_json(ws, is_op("ping")) for _ in range(5)]
    assert [r["pong"] for r in replies] == [0, 1, 2, 3, 4]
    assert sim.stats.dropped_rate == 0


async def test_protocol_ping_counts_and_gets_pong(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await send(ws, {"op": "ping", "ping": 1})
    await next_json(ws, is_op("ping"))
    await ws.ping(b"hi")
    async with asyncio.timeout(5):
        msg = await ws.receive()
        while msg.type != aiohttp.WSMsgType.PONG:
            msg = await ws.receive()
    assert msg.data == b"hi"
    assert sim.stats.frames_received == 2


async def test_kline_interval_switch_on_one_socket(sim: SimExchange, session) -> None:
    ws = await connect(session, sim.ws_url)
    await subscribe(ws, ("market_kline_1min", "BTCUSDT"))
    await next_json(ws, is_ch("market_kline_1min"))
    await send(ws, {"op": "unsubscribe", "args": [{"symbol": "BTCUSDT",
                                                   "ch": "market_kline_1min"}]})
    await subscribe(ws, ("market_kline_15min", "BTCUSDT"))
    push = await next_json(ws, is_ch("market_kline_15min"))
    assert push["symbol"] == "BTCUSDT"


async def test_depth_snapshot_at_once_on_subscribe(session) -> None:
    # A depth period far longer than the wait: only the snapshot on subscribe can arrive.
    async with SimExchange(SimOptions(seed=2, history_minutes=60, depth_push_ms=10_000,
                                      depth_snapshot=True)) as sim:
        ws = await connect(session, sim.ws_url)
        before = sim.now_ms()
        await subscribe(ws, ("depth_book5", "BTCUSDT"))
        frame = await next_json(ws, is_ch("depth_book5"), timeout=1.0)
        assert frame["ts"] >= before and len(frame["data"]["b"]) == 5
        best = sim.market("BTCUSDT").bbo(frame["ts"])  # the book at the snapshot's instant
        assert Decimal(frame["data"]["b"][0][0]) == Decimal(best.bid) / 10


async def test_no_depth_snapshot_by_default_or_while_skipping(session) -> None:
    async with SimExchange(SimOptions(seed=2, history_minutes=60, depth_push_ms=10_000)) as sim:
        ws = await connect(session, sim.ws_url)
        await subscribe(ws, ("depth_book1", "BTCUSDT"))
        assert await collect(ws, 0.3) == []
    async with SimExchange(SimOptions(seed=2, history_minutes=60, depth_push_ms=10_000,
                                      depth_snapshot=True)) as sim:
        sim.skip_pushes(60)
        ws = await connect(session, sim.ws_url)
        await subscribe(ws, ("depth_book1", "BTCUSDT"))
        assert await collect(ws, 0.3) == []
