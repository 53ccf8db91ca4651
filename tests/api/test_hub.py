"""FeedHub: coalescing, bounded buffers, overflow notices, dropping clients that stay behind."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson

from laptop_agents.api.hub import FeedClient, FeedHub
from tests.support.waiting import wait_until


class GatedSocket:
    """A stand-in socket whose sends complete only while its gate is open (a slow reader)."""

    def __init__(self) -> None:
        self.gate = asyncio.Event()
        self.sent: list[dict[str, Any]] = []
        self.aborted = False
        self.entered = asyncio.Event()

    async def send(self, data: bytes) -> None:
        self.entered.set()
        await self.gate.wait()
        self.sent.append(orjson.loads(data))

    def abort(self) -> None:
        self.aborted = True


def connect(hub: FeedHub, sock: GatedSocket, types: Any = ("tick", "candle", "trade", "status")
            ) -> FeedClient:
    client = hub.add_client(sock.send, sock.abort, types)
    client.start()
    return client


async def test_ticks_coalesce_latest_wins() -> None:
    hub = FeedHub(buffer_size=4, stall_timeout=60)
    sock = GatedSocket()
    client = connect(hub, sock)
    hub.publish("tick", {"bid": 1})
    await sock.entered.wait()  # the writer holds tick 1 in a blocked send
    for bid in range(2, 101):
        hub.publish("tick", {"bid": bid})
    hub.publish("trade", {"id": 1})
    assert client.buffered == 2  # one pending tick + the trade
    sock.gate.set()
    await wait_until(lambda: len(sock.sent) == 3)
    assert sock.sent == [{"type": "tick", "data": {"bid": 1}},
                         {"type": "tick", "data": {"bid": 100}},
                         {"type": "trade", "data": {"id": 1}}]
    await client.stop()


async def test_full_buffer_drops_and_reports_overflow() -> None:
    hub = FeedHub(buffer_size=3, stall_timeout=60)
    sock = GatedSocket()
    client = connect(hub, sock)
    hub.publish("trade", {"id": 0})
    await sock.entered.wait()
    for i in range(1, 6):
        hub.publish("trade", {"id": i})
    hub.publish("tick", {"bid": 7})  # a fresh price still gets a slot
    assert client.buffered == 4 and client.dropped == 2
    sock.gate.set()
    await wait_until(lambda: len(sock.sent) == 6)
    assert [m["type"] for m in sock.sent] == ["trade", "trade", "trade", "trade", "tick",
                                              "overflow"]
    assert [m["data"].get("id") for m in sock.sent[:4]] == [0, 1, 2, 3]
    assert sock.sent[-1]["data"] == {"dropped": 2}
    assert client.full_since is None and hub.clients == [client]
    await client.stop()


async def test_client_stuck_in_a_send_is_dropped_without_blocking_publish() -> None:
    hub = FeedHub(buffer_size=8, stall_timeout=0.05)
    sock = GatedSocket()  # the gate never opens: a reader that never reads
    client = connect(hub, sock)
    hub.publish("tick", {"bid": 1})
    await sock.entered.wait()
    await asyncio.sleep(0.1)  # longer than stall_timeout: the point of the test
    hub.publish("tick", {"bid": 2})  # noticed on the next publish
    assert client.closed.is_set() and sock.aborted
    assert "behind" in (client.close_reason or "")
    assert hub.clients == [] and hub.dropped_clients == 1
    await wait_until(lambda: client._task is not None and client._task.done())


async def test_client_with_full_buffer_is_dropped_after_the_stall_timeout() -> None:
    hub = FeedHub(buffer_size=2, stall_timeout=0.05)
    sock = GatedSocket()
    client = connect(hub, sock, types=("trade",))
    hub.publish("trade", {"id": 0})
    await sock.entered.wait()
    hub.publish("trade", {"id": 1})
    hub.publish("trade", {"id": 2})
    hub.publish("trade", {"id": 3})
    assert client.full_since is not None and not client.closed.is_set()
    await asyncio.sleep(0.1)
    hub.publish("tick", {"bid": 1})  # not subscribed, still checks the client
    assert client.closed.is_set() and hub.clients == []


async def test_subscription_and_control_messages() -> None:
    hub = FeedHub(buffer_size=8)
    sock = GatedSocket()
    sock.gate.set()
    client = connect(hub, sock, types=("status",))
    hub.publish("tick", {"bid": 1})
    hub.publish("status", {"ok": True})
    client.offer("subscribed", b'{"type":"subscribed","data":{}}', 0.0, control=True)
    await wait_until(lambda: len(sock.sent) == 2)
    assert [m["type"] for m in sock.sent] == ["status", "subscribed"]
    await client.stop()
    assert hub.clients == []


async def test_publish_without_clients_and_with_bad_payload_never_raises() -> None:
    hub = FeedHub()
    hub.publish("tick", {"bid": object()})  # no client: not even encoded
    sock = GatedSocket()
    sock.gate.set()
    client = connect(hub, sock)
    hub.publish("tick", {"bid": object()})  # unserialisable: logged, skipped
    hub.publish("tick", {"bid": 3})
    await wait_until(lambda: len(sock.sent) == 1)
    assert sock.sent == [{"type": "tick", "data": {"bid": 3}}]
    assert hub.published == 3
    await client.stop()


async def test_writer_failure_drops_the_client() -> None:
    hub = FeedHub()
    aborted: list[bool] = []

    async def broken(data: bytes) -> None:
        raise ConnectionResetError("peer went away")

    client = hub.add_client(broken, lambda: aborted.append(True))
    client.start()
    hub.publish("tick", {"bid": 1})
    await wait_until(client.closed.is_set)
    assert "send failed" in (client.close_reason or "") and aborted == [True]
    assert hub.clients == []


async def test_symbols_filter_and_ticks_coalesce_per_symbol() -> None:
    hub = FeedHub(buffer_size=8, stall_timeout=60)
    everything, only_eth = GatedSocket(), GatedSocket()
    all_client = connect(hub, everything)
    eth_client = connect(hub, only_eth)
    eth_client.symbols = frozenset({"ETHUSDT"})
    hub.publish("status", {"equity": "1"})  # no symbol: every client
    await everything.entered.wait()
    await only_eth.entered.wait()
    for bid in (1, 2, 3):  # a burst on two symbols while both writers are busy
        hub.publish("tick", {"symbol": "BTCUSDT", "bid": bid})
        hub.publish("tick", {"symbol": "ETHUSDT", "bid": bid * 10})
    hub.publish("trade", {"symbol": "BTCUSDT", "id": 7})
    everything.gate.set()
    only_eth.gate.set()
    await wait_until(lambda: len(everything.sent) == 4 and len(only_eth.sent) == 2)
    # Each symbol's latest tick survives the coalescing; the filter keeps ETH's alone.
    assert everything.sent[1:] == [{"type": "tick", "data": {"symbol": "BTCUSDT", "bid": 3}},
                                   {"type": "tick", "data": {"symbol": "ETHUSDT", "bid": 30}},
                                   {"type": "trade", "data": {"symbol": "BTCUSDT", "id": 7}}]
    assert only_eth.sent == [{"type": "status", "data": {"equity": "1"}},
                             {"type": "tick", "data": {"symbol": "ETHUSDT", "bid": 30}}]
    await all_client.stop()
    await eth_client.stop()
