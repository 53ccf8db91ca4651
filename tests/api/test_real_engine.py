"""The API served by the REAL engine (AsyncRunner on the seeded simulator), not a stand-in.

The other API tests use tests/api/memory_controller.py; this one checks that what the engine
itself publishes matches what the API promises: every item /status lists, the tick/candle/
trade/status payloads on /ws (the fields the browser page reads), the OpenAPI schemas of
/status, /positions, /trades, /candles and /flatten, and that the engine really moves every
metric /metrics lists (ticks, closed candles, reconnects, malformed frames, loop lag, watchdog
reaction, equity, position size).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import requests
import schemathesis
from aiohttp.test_utils import TestClient
from pydantic import TypeAdapter
from schemathesis.core.transport import Response as SchemaResponse

from laptop_agents.api.app import create_app
from laptop_agents.api.openapi import build_openapi
from laptop_agents.session.async_session import AsyncRunner
from laptop_agents.session.views import FeedMessage
from tests.session.helpers import AlwaysEnter
from tests.support.sim import engine_settings
from tests.support.waiting import wait_until

from .conftest import AUTH, TOKEN

Client = TestClient[Any, Any]
SCHEMA = schemathesis.openapi.from_dict(build_openapi())
DOCUMENTED = {name: set(schema.get("properties", ()))
              for name, schema in build_openapi()["components"]["schemas"].items()}
TICK_KEYS = {"symbol", "bid", "ask", "bid_size", "ask_size", "last", "ts"}
FEED_MESSAGE: TypeAdapter[FeedMessage] = TypeAdapter(FeedMessage)
CANDLE_KEYS = {"symbol", "interval", "open_time", "open", "high", "low", "close", "volume",
               "quote_volume", "closed"}


async def conforms(response: aiohttp.ClientResponse, path: str, method: str = "GET") -> Any:
    """Check the response against /openapi.json's schema for (path, method); return its JSON."""
    content = await response.read()
    prepared = requests.Request(method, str(response.url)).prepare()
    SCHEMA[path][method].validate_response(SchemaResponse(
        status_code=response.status,
        headers={k: [v] for k, v in response.headers.items()},
        content=content, request=prepared, elapsed=0.0, verify=True))
    return await response.json()


def metric(text: str, name: str) -> float:
    """A sample's value; a per-symbol one (``{symbol="BTCUSDT"}``) counts as the metric."""
    match = re.search(rf'^{re.escape(name)}(?:{{symbol="BTCUSDT"}})? (\S+)$', text, re.MULTILINE)
    assert match, f"{name} missing from /metrics"
    return float(match.group(1))


class Feed:
    """Every WebSocket message the engine publishes, by type, read by a background task."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.by_type: dict[str, list[dict[str, Any]]] = {}
        self.task = asyncio.create_task(self._read())

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type == aiohttp.WSMsgType.TEXT:
                body = msg.json()
                self.by_type.setdefault(body["type"], []).append(body["data"])

    def of(self, kind: str) -> list[dict[str, Any]]:
        return self.by_type.get(kind, [])


@pytest.fixture
async def engine(sim: Any, tmp_path: Path, aiohttp_client: Any
                 ) -> AsyncIterator[tuple[AsyncRunner, Client, AlwaysEnter]]:
    strategy = AlwaysEnter(stop_pct="0.01", target_pct="0.01")
    strategy.armed.clear()
    # A heartbeat far away: the equity and position gauges must follow the account on their own.
    settings = engine_settings(sim, tmp_path / "data", api_token=TOKEN, heartbeat_interval=60)
    stop = asyncio.Event()
    async with aiohttp.ClientSession() as session:
        runner = await AsyncRunner.create(settings, session=session,
                                          strategy=strategy)
        client: Client = await aiohttp_client(create_app(runner.controller, settings))
        runner.api_ready.set()
        task = asyncio.create_task(runner.run(stop))
        try:
            await wait_until(lambda: runner.controller.readiness()[0] or task.done(), 10, "ready")
            if task.done():
                await task
            yield runner, client, strategy
        finally:
            stop.set()
            await asyncio.wait_for(task, 5)


async def test_real_engine_status_feed_schemas_and_metrics(
    engine: tuple[AsyncRunner, Client, AlwaysEnter], sim: Any
) -> None:
    runner, client, strategy = engine
    ws = await client.ws_connect("/ws")
    feed = Feed(ws)

    # -- /readyz and every item /status promises ------------------------------------------
    response = await client.get("/readyz")
    assert response.status == 200 and await conforms(response, "/readyz") == {
        "ready": True, "reasons": []}
    status = await conforms(await client.get("/status"), "/status")
    assert (status["mode"], status["source"], status["symbol"]) == ("paper", "sim", "BTCUSDT")
    assert status["feed"]["state"] == "connected"
    assert 0 <= status["feed"]["last_tick_age_s"] < runner.settings.stale_after
    assert status["gate"]["trading_allowed"] is True and status["gate"]["reasons"] == []
    assert status["position"] is None
    assert Decimal(status["equity"]) == runner.settings.starting_equity
    assert Decimal(status["realized_pnl_today"]) == 0
    assert status["uptime_s"] >= 0
    assert set(status["tasks"]) == set(runner.task_table())
    assert status["tasks"]["market_data"]["state"] == "running"
    assert all("last_run_age_s" in task for task in status["tasks"].values())
    assert set(status) <= DOCUMENTED["Status"]  # every field the engine adds is documented

    # -- the live payloads the page reads --------------------------------------------------
    await wait_until(lambda: feed.of("tick") and feed.of("candle") and feed.of("status"),
                     10, "tick, candle and status on /ws")
    assert set(feed.of("tick")[-1]) == TICK_KEYS
    assert Decimal(feed.of("tick")[-1]["bid"]) > 0
    assert set(feed.of("candle")[-1]) == CANDLE_KEYS and feed.of("candle")[-1]["closed"]
    assert feed.of("status")[0]["symbol"] == "BTCUSDT"
    candles = await conforms(await client.get("/candles", params={"limit": "5"}), "/candles")
    assert len(candles["candles"]) == 5 and set(candles["candles"][-1]) == CANDLE_KEYS

    # -- a position: /status, /positions and the position-size gauge ------------------------
    strategy.armed.set()
    await wait_until(lambda: runner.broker.position is not None, 10, "an entry")
    strategy.armed.clear()
    position = runner.broker.position
    status = await conforms(await client.get("/status"), "/status")
    shown = status["position"]
    assert (shown["side"], Decimal(shown["size"]), Decimal(shown["entry"])) == (
        "long", position.qty, position.entry_price)
    assert Decimal(shown["stop"]) == position.stop and Decimal(shown["target"]) == position.target
    assert shown["unrealized_pnl"] is not None
    assert set(shown) <= DOCUMENTED["Position"]
    # the perpetual account: isolated margin, liquidation price, the account object
    assert Decimal(shown["margin"]) == position.margin == (
        position.qty * position.entry_price / runner.settings.leverage).quantize(Decimal("1e-8"))
    assert Decimal(shown["liquidation_price"]) == runner.broker.liquidation_price() < position.stop
    account = status["account"]
    assert set(account) == DOCUMENTED["Account"]
    assert Decimal(account["margin_used"]) == position.margin
    assert Decimal(account["available"]) == Decimal(account["balance"]) - position.margin
    assert Decimal(account["balance"]) == runner.broker.balance
    positions = await conforms(await client.get("/positions"), "/positions")
    assert [p["side"] for p in positions["positions"]] == ["long"]
    text = await (await client.get("/metrics")).text()
    assert metric(text, "la_position_size") == float(position.qty)
    assert metric(text, "la_margin_used_usdt") == float(position.margin)

    # -- a stop hit by a tick: trade message, /trades, watchdog histogram -------------------
    bid = position.stop - Decimal("5")
    sim.script_price(bid, bid + Decimal("0.1"), pushes=1)
    await wait_until(lambda: feed.of("trade"), 10, "trade on /ws")
    trade = feed.of("trade")[0]
    assert trade["exit_reason"] == "stop" and trade["side"] == "long"
    assert set(trade) <= DOCUMENTED["Trade"]
    for key in ("entry_price", "exit_price", "realized_pnl"):  # what the page shows
        Decimal(trade[key])
    trades = await conforms(await client.get("/trades", params={"limit": "5"}), "/trades")
    assert [t["trade_id"] for t in trades["trades"]] == [trade["trade_id"]]
    text = await (await client.get("/metrics")).text()
    assert metric(text, "la_watchdog_reaction_seconds_count") == 1
    assert metric(text, "la_trades_total") == 1 and metric(text, "la_position_size") == 0
    flat = await conforms(await client.post("/flatten", headers=AUTH), "/flatten", "POST")
    assert flat["closed"] is False

    # -- equity: the gauge follows the account after the trade -------------------------------
    equity = float(runner.controller.status().equity)
    assert equity != float(runner.settings.starting_equity)  # fees at least

    await wait_until(lambda: runner.metrics.equity._value.get() == equity, 5, "equity gauge")
    text = await (await client.get("/metrics")).text()
    assert metric(text, "la_equity_usdt") == equity

    # -- /equity: a snapshot at the trade's close, with its parts --------------------------
    history = await conforms(await client.get("/equity"), "/equity")
    closed = next(p for p in history["points"] if p["ts"] == trade["closed_ms"])
    assert Decimal(closed["balance"]) == runner.broker.balance
    assert closed["unrealized"] == "0"
    assert Decimal(closed["equity"]) == runner.broker.balance
    assert closed["funding_paid"] is not None

    # -- feed faults move the provider's counters ---------------------------------------------
    assert sim.send_malformed("invalid_json") >= 1
    await wait_until(lambda: runner.metrics.malformed_frames._value.get() >= 1, 5,
                     "the malformed frame")
    sim.drop_all()
    await wait_until(lambda: runner.controller.status().feed.reconnects >= 1, 10,
                     "a reconnect")
    text = await (await client.get("/metrics")).text()
    assert metric(text, "la_malformed_frames_total") >= 1
    assert metric(text, "la_reconnects_total") >= 1
    assert metric(text, "la_ticks_total") > 0 and metric(text, "la_closed_candles_total") > 0
    assert metric(text, "la_loop_lag_seconds") > 0
    # data health (issue 10): where candles came from, gaps, the clock, the last quote
    await wait_until(lambda: runner.clock.rate_settled, 5, "the exchange clock's speed")
    await wait_until(lambda: runner.clock_watch.report_offset() is not None
                     and runner.metrics.clock_offset._value.get() != 0, 5, "the clock gauge")
    text = await (await client.get("/metrics")).text()
    confirmed = re.search(r'^la_candles_confirmed_total\{source="rest"\} (\S+)$', text,
                          re.MULTILINE)
    assert confirmed and float(confirmed.group(1)) > 0
    assert metric(text, "la_candle_gaps_total") == 0
    assert metric(text, "la_clock_offset_ms") != 0  # the simulator runs 60x: far ahead
    assert metric(text, "la_exchange_clock_rate") > 10
    assert 0 <= metric(text, "la_last_quote_age_seconds") < 5
    health = (await conforms(await client.get("/status"), "/status", "GET"))["data_health"]
    assert health["malformed_frames"] >= 1 and health["candle_gaps"] == 0
    assert health["candles_rest_confirmed"] > 0 and health["candles_ws_fallback"] == 0
    assert health["clock_offset_ms"] is not None and health["last_quote_age_s"] is not None
    assert health["quotes_rejected"] == {} and health["quotes_accepted"] > 0

    # -- pause/resume through the API reach the gate, the journal and the feed ----------------
    paused = await conforms(await client.post("/pause", json={"reason": "audit"}, headers=AUTH),
                            "/pause", "POST")
    assert paused["gate"]["reasons"] == ["manual"] and paused["gate"]["details"]["manual"] == (
        "audit")
    assert runner.journal.pause_state() == (True, "audit")
    await wait_until(lambda: any(s["gate"]["reasons"] == ["manual"] for s in feed.of("status")),
                     5, "the paused status on /ws")
    resumed = await conforms(await client.post("/resume", headers=AUTH), "/resume", "POST")
    assert resumed["gate"]["trading_allowed"] is True
    assert runner.journal.pause_state() == (False, None)

    await ws.close()
    await feed.task
    for kind, messages in feed.by_type.items():  # every frame is a documented FeedMessage
        for data in messages:
            FEED_MESSAGE.validate_python({"type": kind, "data": data})
