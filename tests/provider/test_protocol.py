"""The pure protocol module: builders, signing, parsers, REST rows and candle-close bucketing."""

from __future__ import annotations

import contextlib
import hashlib
import json
from decimal import Decimal
from typing import Any, cast

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from laptop_agents.data.providers import bitunix_protocol as p
from laptop_agents.models import Candle

KLINE = ('{"ch":"market_kline_1min","symbol":"BTCUSDT","ts":1775541412718,"data":{"o":"68581.4",'
         '"h":"68590","l":"68579.5","c":"68583.4","b":"5.2395","q":"359348.14078"}}')
DEPTH = ('{"ch":"depth_book1","symbol":"BTCUSDT","ts":1732178884994,'
         '"data":{"b":[["7403.89","0.002"]],"a":[["7405.96","3.340"]]}}')
TICKER = ('{"ch":"ticker","symbol":"BTCUSDT","ts":1790126515684,"data":{"s":"BTCUSDT",'
          '"o":"85567","la":"86688.2","h":"86815.6","l":"85080","b":"27478.1701",'
          '"q":"2362759522.50052","r":"1.3103182302"}}')


def test_builders_emit_the_documented_shapes() -> None:
    assert orjson.loads(p.build_ping(1732519687)) == {"op": "ping", "ping": 1732519687}
    sub = orjson.loads(p.build_subscribe([("market_kline_1min", "BTCUSDT"),
                                          ("depth_book1", "BTCUSDT")]))
    assert sub == {"op": "subscribe", "args": [{"symbol": "BTCUSDT", "ch": "market_kline_1min"},
                                               {"symbol": "BTCUSDT", "ch": "depth_book1"}]}
    assert p.kline_channel("60min") == "market_kline_60min"
    with pytest.raises(ValueError):
        p.kline_channel("1m")  # REST spelling is not a WS channel
    assert p.chunk(list(range(7)), 3) == [[0, 1, 2], [3, 4, 5], [6]]


def test_login_signature_is_double_sha256_of_nonce_timestamp_key_then_secret() -> None:
    nonce, ts, key, secret = "a" * 32, 1732519687, "key1", "secret1"
    first = hashlib.sha256(b"a" * 32 + b"1732519687key1").hexdigest()
    expected = hashlib.sha256((first + "secret1").encode()).hexdigest()
    assert p.ws_login_sign(nonce, ts, key, secret) == expected
    frame = orjson.loads(p.build_login(key, secret, nonce, ts))
    assert frame["op"] == "login"
    assert frame["args"][0] == {"apiKey": key, "timestamp": ts, "nonce": nonce, "sign": expected}
    # REST: sorted key+value pairs, no separators (reference 6.7 example "id1uid200")
    digest = hashlib.sha256(b"n" + b"17" + b"k" + b"id1uid200" + b"").hexdigest()
    assert p.rest_sign("n", 17, "k", {"uid": "200", "id": "1"}, "", "s") == hashlib.sha256(
        (digest + "s").encode()).hexdigest()


def test_parses_recorded_pushes() -> None:
    kline = p.parse_frame(KLINE)
    assert isinstance(kline, p.KlinePush)
    assert (kline.symbol, kline.interval, kline.ts) == ("BTCUSDT", "1min", 1775541412718)
    assert kline.close == Decimal("68583.4") and kline.volume == Decimal("5.2395")
    depth = p.parse_frame(DEPTH)
    assert depth == p.DepthPush("BTCUSDT", 1732178884994, Decimal("7403.89"), Decimal("0.002"),
                                Decimal("7405.96"), Decimal("3.340"))
    ticker = p.parse_frame(TICKER)
    assert isinstance(ticker, p.TickerPush) and ticker.last == Decimal("86688.2")


def test_parses_control_messages() -> None:
    assert p.parse_frame('{"op":"connect","data":{"result":true}}') == p.ConnectFrame(True)
    assert p.parse_frame('{"op":"ping","pong":17,"ping":20}') == p.HeartbeatReply(17)
    assert p.parse_frame('{"op":"pong","ts":17}') == p.HeartbeatReply(17)
    assert p.parse_frame('{"op":"login","data":{"result":false,"msg":"Signature Error"}}') == \
        p.LoginReply(False, "Signature Error")
    cap = p.parse_frame('{"op":"subscribe","data":{"msg":"subscribe channel > 300",'
                        '"nonce":"","result":false}}')
    assert cap == p.OpReply("subscribe", False, "subscribe channel > 300")
    assert isinstance(p.parse_frame('{"op":"unsubscribe","ts":1,"data":"success"}'), p.OpReply)


@pytest.mark.parametrize("frame", [
    "", "not json", b"\x00\xff", "[]", "42", '"text"', '{"op":5}', "{}",
    '{"op":"connectx"}',
    '{"ch":"trade","symbol":"BTCUSDT","ts":1,"data":[]}',  # not subscribed by this client
    '{"ch":"market_kline_1m","symbol":"BTCUSDT","ts":1,"data":{}}',
    KLINE.replace('"o":"68581.4"', '"o":""'),
    KLINE.replace('"o":"68581.4"', '"o":"NaN"'),
    KLINE.replace('"o":"68581.4"', '"o":"-1"'),
    KLINE.replace('"o":"68581.4"', '"o":true'),
    KLINE.replace('"h":"68590"', '"h":"1"'),  # low above high
    KLINE.replace('"ts":1775541412718', '"ts":"1775541412718"'),
    KLINE.replace('"symbol":"BTCUSDT",', ""),
    KLINE.replace('"data":{', '"data":[{').replace("}}", "}]}"),
    DEPTH.replace('[["7403.89","0.002"]]', '[["",""]]'),  # unknown symbol answer
    DEPTH.replace('[["7403.89","0.002"]]', "[]"),
    DEPTH.replace('[["7403.89","0.002"]]', '[["7406","1"]]'),  # crossed
    DEPTH.replace('"0.002"', "null"),
    TICKER.replace('"la":"86688.2"', '"la":{}'),
])
def test_malformed_frames_raise_malformed_only(frame: str | bytes) -> None:
    with pytest.raises(p.MalformedFrame):
        p.parse_frame(frame)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner,
                                                                max_size=4),
    max_leaves=20,
)


def _mutate(base: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    frame = json.loads(json.dumps(base))
    target = frame
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    return frame


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=200)))
def test_random_text_never_crashes_the_parser(data: str | bytes) -> None:
    with contextlib.suppress(p.MalformedFrame):
        p.parse_frame(data)


@settings(max_examples=400, deadline=None)
@given(
    base=st.sampled_from([KLINE, DEPTH, TICKER, '{"op":"ping","pong":1,"ping":2}',
                          '{"op":"login","data":{"result":true}}']),
    path=st.sampled_from([["ch"], ["symbol"], ["ts"], ["data"], ["op"], ["data", "o"],
                          ["data", "b"], ["data", "a"], ["data", "la"], ["data", "result"]]),
    value=json_values,
)
def test_mutated_frames_never_crash_the_parser(base: str, path: list[str], value: Any) -> None:
    frame = orjson.loads(base)
    if len(path) == 2 and not isinstance(frame.get(path[0]), dict):
        return
    mutated = _mutate(frame, path, value)
    try:
        result = p.parse_frame(json.dumps(mutated))  # stdlib: big ints are allowed
    except p.MalformedFrame:
        return
    # Whatever parses must be a known frame with sane values.
    if isinstance(result, p.DepthPush):
        assert 0 < result.bid <= result.ask
    if isinstance(result, p.KlinePush):
        assert result.low <= result.high and result.ts > 0


def test_rest_envelope_errors_are_typed() -> None:
    assert p.parse_rest_envelope({"code": 0, "data": [1], "msg": "Success"}) == [1]
    with pytest.raises(p.RateLimitedError) as limited:
        p.parse_rest_envelope({"code": 10006, "data": None, "msg": "Request too frequently"})
    assert limited.value.code == 10006
    with pytest.raises(p.BitunixApiError) as error:
        p.parse_rest_envelope({"code": 20015, "data": None, "msg": "not allowed"})
    assert (error.value.code, error.value.msg) == (20015, "not allowed")
    assert not isinstance(error.value, p.RateLimitedError)
    with pytest.raises(p.BitunixApiError):
        p.parse_rest_envelope(["not", "an", "envelope"])


def test_kline_rows_decide_volume_fields_by_magnitude() -> None:
    # 1m live sample: quoteVol holds the base quantity (swapped names)
    swapped = {"open": "76445", "high": "76480.7", "low": "76389", "close": "76389",
               "quoteVol": "31.5403", "baseVol": "2410748.64904", "time": "1789482120000"}
    candle = p.parse_kline_row(swapped, "BTCUSDT", "1min")
    assert candle.volume == Decimal("31.5403")
    assert candle.quote_volume == Decimal("2410748.64904")
    assert candle.open_time == 1789482120000
    # 4h live sample: not swapped
    plain = dict(swapped, quoteVol="206315575.99", baseVol="2558.76", close="80630")
    candle = p.parse_kline_row(plain, "BTCUSDT", "4h")
    assert candle.volume == Decimal("2558.76")
    # price below 1 (multiplier contracts): turnover smaller than the base amount
    cheap = dict(swapped, open="0.01", high="0.011", low="0.009", close="0.01",
                 quoteVol="5000", baseVol="50")
    candle = p.parse_kline_row(cheap, "PEPEUSDT", "1min")
    assert (candle.volume, candle.quote_volume) == (Decimal("5000"), Decimal("50"))


def test_trading_pair_and_depth_rows() -> None:
    row = {"symbol": "BTCUSDT", "base": "BTC", "quote": "USDT", "minTradeVolume": "0.0001",
           "basePrecision": 4, "quotePrecision": 1, "maxLeverage": 125}
    instrument = p.parse_trading_pair(row)
    assert instrument.tick_size == Decimal("0.1") and instrument.lot_step == Decimal("0.0001")
    assert instrument.min_qty == Decimal("0.0001") and instrument.max_leverage == 125
    book = p.parse_depth({"asks": [["2", "1"]], "bids": [["1", "3"], ["0.5", "1"]]})
    assert book.bids[0] == (Decimal(1), Decimal(3)) and len(book.bids) == 2


def _push(ts: int, o: str = "100", b: str = "1", c: str = "100") -> p.KlinePush:
    d = Decimal
    return p.KlinePush("BTCUSDT", "1min", ts, d(o), max(d(o), d(c)), min(d(o), d(c)), d(c),
                       d(b), d(b) * d(c))


def test_candle_closer_finishes_a_bucket_when_a_later_push_arrives() -> None:
    closer = p.CandleCloser("BTCUSDT", "1min")
    first = closer.on_push(_push(60_500))
    assert first.new_bucket and first.finished is None and first.current is not None
    assert first.current.open_time == 60_000 and not first.current.closed
    update = closer.on_push(_push(119_900, c="101", b="2"))
    assert not update.new_bucket and update.current is not None
    assert update.current.close == Decimal("101")
    rolled = closer.on_push(_push(120_100, o="101", b="0.1", c="102"))
    assert rolled.new_bucket and rolled.finished is not None
    assert rolled.finished.open_time == 60_000 and rolled.finished.closed
    assert rolled.finished.close == Decimal("101")  # the last push of the old bucket
    assert closer.on_push(_push(100_000)).current is None  # stale: ignored
    jump = closer.on_push(_push(400_000, o="103", b="0.1"))  # skipped buckets
    assert jump.finished is not None and jump.finished.open_time == 120_000
    assert jump.current is not None and jump.current.open_time == 360_000


def test_candle_closer_treats_a_late_old_candle_update_as_the_old_candle() -> None:
    closer = p.CandleCloser("BTCUSDT", "1min")
    closer.on_push(_push(60_500, o="100", b="5"))
    late = closer.on_push(_push(120_050, o="100", b="6", c="99"))  # same open, more volume
    assert not late.new_bucket and late.current is not None
    assert late.current.open_time == 60_000 and late.current.close == Decimal("99")
    real = closer.on_push(_push(120_400, o="99", b="0.2"))
    assert real.finished is not None and real.finished.close == Decimal("99")
    closer.reset()
    assert closer.current is None


@settings(max_examples=200, deadline=None)
@given(st.lists(st.integers(min_value=1, max_value=200_000), min_size=1, max_size=60))
def test_candle_closer_finishes_buckets_strictly_in_order(gaps: list[int]) -> None:
    closer = p.CandleCloser("BTCUSDT", "1min")
    ts = 1_700_000_000_000
    finished: list[Candle] = []
    for i, gap in enumerate(gaps):
        ts += gap
        step = closer.on_push(_push(ts, o=str(100 + i), b="1"))
        if step.finished is not None:
            finished.append(step.finished)
            assert step.current is not None
            assert step.finished.open_time < step.current.open_time
    opens = [c.open_time for c in finished]
    assert opens == sorted(set(opens))
    assert all(t % 60_000 == 0 for t in opens)


class _Conn:
    ping_sent_at: float | None = 1.0


def _provider() -> Any:
    import asyncio

    from laptop_agents.config import Settings
    from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider

    # The frame handler touches neither the session nor the network.
    provider = BitunixWSProvider(cast(Any, None), Settings())

    async def subscribe() -> None:
        await provider.subscribe_kline("BTCUSDT")
        await provider.subscribe_ticker("BTCUSDT")

    asyncio.run(subscribe())
    return provider


@settings(max_examples=150, deadline=None)
@given(
    base=st.sampled_from([KLINE, DEPTH, TICKER]),
    path=st.sampled_from([["ts"], ["data"], ["symbol"], ["data", "o"], ["data", "b"],
                          ["data", "la"], ["data", "a"]]),
    value=json_values,
    noise=st.text(max_size=50),
)
def test_the_listeners_frame_handler_never_raises(base: str, path: list[str], value: Any,
                                                  noise: str) -> None:
    """The provider's per-frame handler (what the reader task runs) on hostile input."""
    provider = _provider()
    frame = orjson.loads(base)
    if len(path) == 2 and isinstance(frame.get(path[0]), dict):
        frame[path[0]][path[1]] = value
    elif len(path) == 1:
        frame[path[0]] = value
    conn: Any = _Conn()
    for text in (json.dumps(frame), noise):
        provider._on_text(conn, text)
    before = provider.stats.ticks + provider._kline_in.qsize()
    provider._on_text(conn, base)  # an intact frame after the garbage still gets through
    after = provider.stats.ticks + provider._kline_in.qsize()
    if base == TICKER:
        assert provider._last_price["BTCUSDT"] == Decimal("86688.2")
    else:
        assert after == before + 1


def test_both_heartbeat_reply_spellings_clear_the_outstanding_ping() -> None:
    provider = _provider()
    for reply in ('{"op":"ping","pong":1732519687,"ping":1732519690}', '{"op":"pong","ts":17}'):
        conn: Any = _Conn()
        conn.ping_sent_at = 5.0
        provider._on_text(conn, reply)
        assert conn.ping_sent_at is None
    assert provider.stats.malformed == 0


def test_control_replies_are_not_counted_as_malformed() -> None:
    provider = _provider()
    conn: Any = _Conn()
    for reply in ('{"op":"connect","data":{"result":true}}',
                  # optional subscribe ack (one weak source; the simulator can send it)
                  '{"op":"subscribe","ch":"depth_book1","symbol":"BTCUSDT","data":{"result":true}}',
                  '{"op":"subscribe","data":{"msg":"subscribe channel > 300","nonce":"",'
                  '"result":false}}',
                  '{"op":"unsubscribe","ts":1790126500916,"data":"success"}'):
        provider._on_text(conn, reply)
    assert provider.stats.malformed == 0
    provider._on_text(conn, '{"op":"whatever"}')
    assert provider.stats.malformed == 1


def test_reconnect_backoff_is_exponential_with_jitter_and_capped() -> None:
    from tenacity import RetryCallState

    from laptop_agents.config import Settings
    from laptop_agents.data.providers.bitunix_ws import reconnect_wait

    # Defaults: at least 1 s after a failed attempt (Bitunix may block addresses that
    # reconnect too often), doubling, jittered, capped at 30 s.
    wait = reconnect_wait(Settings())
    delays: dict[int, list[float]] = {}
    for attempt in range(1, 10):
        state = RetryCallState(cast(Any, None), None, (), {})
        state.attempt_number = attempt
        delays[attempt] = [wait(state) for _ in range(200)]
    assert all(d >= 1.0 for ds in delays.values() for d in ds)
    for attempt in range(1, 6):  # 1, 2, 4, 8, 16 plus 0..1 of jitter
        base = 1.0 * 2 ** (attempt - 1)
        assert all(base <= d <= base + 1.0 for d in delays[attempt])
        assert len(set(delays[attempt])) > 100  # jittered, not a fixed delay
    for attempt in (7, 8, 9):  # 64 s and more: the cap
        assert all(d == 30.0 for d in delays[attempt])
