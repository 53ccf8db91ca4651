"""Delivery over real HTTP to a receiver on 127.0.0.1: retries, refusals, a dead receiver,
a full queue, the shutdown flush, the event filter, Telegram text, and no secret in a log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from decimal import Decimal
from typing import Any

import aiohttp

from laptop_agents.metrics import Metrics
from laptop_agents.notify.delivery import Delivery, DeliveryPolicy
from laptop_agents.notify.events import EVENTS, parse_events
from laptop_agents.notify.notifications import Notifications
from laptop_agents.notify.targets import parse_targets
from tests.notify.receiver import closed_port, receiving
from tests.support.logs import captured_logs
from tests.support.waiting import wait_until

FAST = DeliveryPolicy(backoff_initial=0.01, backoff_max=0.05, message_cap=1.0,
                      flush_deadline=0.5)
TOKEN = "987654:SecretBotToken-abcdefghijklmnop"
TS = 1_714_564_800_123  # 2024-05-01T12:00:00.123Z


@asynccontextmanager
async def notifying(urls: str, policy: DeliveryPolicy = FAST, events: str = "all",
                    ) -> AsyncIterator[tuple[Notifications, Metrics]]:
    metrics = Metrics()
    async with aiohttp.ClientSession() as session:
        delivery = Delivery(parse_targets(urls), session, metrics, "test-host:/data", policy)
        notifications = Notifications(delivery, events=parse_events(events), symbol="BTCUSDT",
                                      now_ms=lambda: TS)
        try:
            yield notifications, metrics
        finally:
            await notifications.aclose()


def count(metrics: Metrics, kind: str, event: str) -> float:
    counter = getattr(metrics, f"notifications_{kind}")
    value: float = counter.labels(event)._value.get()
    return value


async def test_payload_fields_and_decimals_as_strings() -> None:
    async with receiving() as receiver, notifying(receiver.url()) as (notify, metrics):
        notify.publish("entry", ts=TS, side="buy", qty=Decimal("0.010"),
                       price=Decimal("65000.1"), fee=Decimal("0.39"))
        (request,) = await receiver.wait_for(1)
        await wait_until(lambda: count(metrics, "sent", "entry") == 1, 2, "sent counted")
    assert request.body == {"event": "entry", "ts": TS, "time": "2024-05-01T12:00:00.123Z",
                            "symbol": "BTCUSDT", "daemon": "test-host:/data", "side": "buy",
                            "qty": "0.010", "price": "65000.1", "fee": "0.39"}


async def test_retries_a_500_then_delivers() -> None:
    async with receiving(statuses=[500, 503]) as receiver, \
            notifying(receiver.url()) as (notify, metrics):
        notify.publish("feed_lost", reason="socket died")
        await receiver.wait_for(3)
        await wait_until(lambda: count(metrics, "sent", "feed_lost") == 1, 2, "sent counted")
    assert [r.body["event"] for r in receiver.requests] == ["feed_lost"] * 3
    assert count(metrics, "failed", "feed_lost") == 0


async def test_a_4xx_is_not_retried() -> None:
    async with receiving(statuses=[404]) as receiver, \
            notifying(receiver.url()) as (notify, metrics):
        notify.publish("paused", reason="operator")
        notify.publish("resumed")
        await receiver.wait_for(2)
        await wait_until(lambda: count(metrics, "sent", "resumed") == 1, 2, "second sent")
    assert count(metrics, "failed", "paused") == 1 and receiver.events() == ["paused", "resumed"]


async def test_a_dead_receiver_costs_counted_failures_and_one_log_line() -> None:
    url = f"http://127.0.0.1:{closed_port()}/hook"
    policy = DeliveryPolicy(backoff_initial=0.01, backoff_max=0.02, message_cap=0.1)
    with captured_logs("WARNING") as logs:
        async with notifying(url, policy) as (notify, metrics):
            started = time.perf_counter()
            for _ in range(5):
                notify.publish("exit", pnl=Decimal("-1.5"))
            assert time.perf_counter() - started < 0.01  # queued, not sent, by publish
            await wait_until(lambda: count(metrics, "failed", "exit") == 5, 5, "5 failures")
    warnings = [message for level, message in logs if "notification" in message]
    assert len(warnings) == 1, warnings
    assert f"to http://127.0.0.1:{url.split(':')[2].split('/')[0]}/… failed" in warnings[0]
    assert "connection refused" in warnings[0]
    assert "/hook" not in warnings[0]


async def test_a_full_queue_drops_the_oldest_and_counts_it() -> None:
    policy = DeliveryPolicy(queue_size=2, backoff_initial=0.01, flush_deadline=2.0)
    async with receiving(release=asyncio.Event()) as receiver, \
            notifying(receiver.url(), policy) as (notify, metrics):
        notify.publish("started")
        await receiver.wait_for(1)  # in flight, held by the receiver
        for event in ("entry", "funding", "exit", "feed_lost"):
            notify.publish(event)
        assert receiver.release is not None
        receiver.release.set()
        await receiver.wait_for(3)
    assert receiver.events() == ["started", "exit", "feed_lost"]
    assert count(metrics, "dropped", "entry") == count(metrics, "dropped", "funding") == 1


async def test_the_shutdown_flush_has_a_deadline() -> None:
    policy = DeliveryPolicy(backoff_initial=0.01, flush_deadline=0.3)
    async with receiving(release=asyncio.Event()) as receiver:
        async with notifying(receiver.url(), policy) as (notify, metrics):
            notify.started("sim", "supervisor")
            await receiver.wait_for(1)  # held: never answered
            notify.publish("exit")
            closing = time.perf_counter()
        took = time.perf_counter() - closing
    assert took < 1.0
    assert count(metrics, "dropped", "started") == 1  # the one in flight
    assert count(metrics, "dropped", "exit") == count(metrics, "dropped", "stopped") == 1


async def test_the_event_filter() -> None:
    async with receiving() as receiver, \
            notifying(receiver.url(), events="exit,stopped") as (notify, _):
        notify.started("sim", "supervisor")
        for event in EVENTS[:-2]:  # all but started and stopped, which the facade sends
            notify.publish(event)
    assert receiver.events() == ["exit", "stopped"]


async def test_telegram_text_and_no_secret_in_the_logs() -> None:
    with captured_logs("DEBUG") as logs:
        async with receiving(statuses=[400]) as receiver:
            url = receiver.url(f"/bot{TOKEN}/sendMessage?chat_id=4242")
            async with notifying(f"{url},http://127.0.0.1:{closed_port()}/{TOKEN}?k={TOKEN}",
                                 DeliveryPolicy(backoff_initial=0.01, message_cap=0.2),
                                 ) as (notify, metrics):
                notify.publish("exit", symbol="ETHUSDT", side="long", qty=Decimal("0.5"),
                               entry_price=Decimal("3000"), price=Decimal("3030.5"),
                               pnl=Decimal("14.2"), fee=Decimal("1.8"), reason="target")
                notify.publish("feed_lost", reason="socket died")
                await wait_until(lambda: count(metrics, "sent", "feed_lost") == 1, 5, "sent")
    first: dict[str, Any] = receiver.requests[0].body
    assert receiver.requests[0].path == f"/bot{TOKEN}/sendMessage"
    assert first["chat_id"] == 4242
    assert first["text"].splitlines()[:2] == [
        "Position closed ETHUSDT", "long 0.5 3000 -> 3030.5: PnL 14.2 (target, fees 1.8)"]
    assert receiver.requests[1].body["text"].startswith("Market data lost: entries paused "
                                                         "BTCUSDT\nsocket died\n")
    text = "\n".join(message for _, message in logs)
    assert "failed after 1 attempt(s): HTTP 400" in text and "connection refused" in text
    assert TOKEN not in text and "987654" not in text and "sendMessage" not in text
