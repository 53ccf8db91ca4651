"""The facade the engine holds: one call per hook, never blocking, never raising.

Every method runs on the event loop. With no LA_WEBHOOK_URL (or in a backtest or replay,
which build their parts without one) each call returns at once.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import aiohttp
from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.metrics import Metrics
from laptop_agents.models import ConnectionEvent
from laptop_agents.notify.delivery import Delivery, DeliveryPolicy
from laptop_agents.notify.events import EVENTS, Notice, parse_events
from laptop_agents.notify.sources import (
    Change,
    GateWatch,
    broker_notices,
    connection_notice,
)
from laptop_agents.notify.targets import parse_targets
from laptop_agents.paper.models import BrokerEvent
from laptop_agents.session.gate import PauseReason


class Notifications:
    def __init__(self, delivery: Delivery | None, *, events: frozenset[str] = frozenset(EVENTS),
                 symbol: str | None = None, now_ms: Callable[[], int] | None = None) -> None:
        self.delivery = delivery
        self.events = events
        self.enabled = delivery is not None and bool(delivery.targets) and bool(events)
        self._symbol = symbol
        self._now_ms = now_ms
        self._gates: dict[str | None, GateWatch] = {}  # one per symbol (None: the only one)
        self._started = False

    @classmethod
    def disabled(cls) -> Notifications:
        return cls(None, events=frozenset())

    def publish(self, event: str, symbol: str | None = None, ts: int | None = None,
                **fields: Any) -> None:
        """Queue one notice (dropped at once when its event is filtered out)."""
        if not self.enabled or event not in self.events:
            return
        assert self.delivery is not None
        try:
            when = ts if ts is not None else self._now()
            self.delivery.put(Notice(event, when, symbol or self._symbol, fields))
        except Exception:  # a notification must never stop trading
            logger.exception("queueing the {} notification failed", event)

    def _now(self) -> int:
        return self._now_ms() if self._now_ms is not None else int(time.time() * 1000)

    def _publish(self, changes: Iterable[Change]) -> None:
        for event, symbol, ts, fields in changes:
            self.publish(event, symbol, ts, **fields)

    # --- the hooks --------------------------------------------------------------------------
    def broker_events(self, events: Sequence[BrokerEvent]) -> None:
        """session/outcomes.py: entry fills, exits, liquidations, funding settlements."""
        if self.enabled:
            self._publish(broker_notices(events))

    def gate(self, active: Mapping[PauseReason, str], symbol: str | None = None) -> None:
        """A gate's reasons after each refresh: pause/resume, daily cap, price suspect;
        ``symbol``: whose gate, when several symbols trade (each has its own)."""
        if self.enabled:
            watch = self._gates.setdefault(symbol, GateWatch())
            self._publish((event, symbol or who, ts, fields)
                          for event, who, ts, fields in watch.changes(active))

    def connection(self, event: ConnectionEvent) -> None:
        """A market-data connection event: feed lost / recovered."""
        if self.enabled:
            change = connection_notice(event)
            if change is not None:
                self._publish([change])

    def started(self, source: str, strategy: str) -> None:
        self._started = True
        self.publish("started", source=source, strategy=strategy)

    async def aclose(self) -> None:
        """``stopped`` (when ``started`` was sent), then flush within the deadline."""
        if self.delivery is None:
            return
        if self._started:
            self._started = False
            self.publish("stopped")
        await self.delivery.aclose()


def daemon_name(settings: Settings) -> str:
    """Which daemon sent it: the host name and the data directory."""
    return f"{socket.gethostname()}:{settings.data_dir.expanduser()}"


def build_notifications(settings: Settings, *, session: aiohttp.ClientSession,
                        metrics: Metrics, now_ms: Callable[[], int],
                        policy: DeliveryPolicy | None = None) -> Notifications:
    """From LA_WEBHOOK_URL and LA_NOTIFY_EVENTS (already checked by the settings)."""
    secret = settings.webhook_url
    targets = parse_targets(None if secret is None else secret.get_secret_value())
    if not targets:
        return Notifications.disabled()
    events = parse_events(settings.notify_events)
    delivery = Delivery(targets, session, metrics, daemon_name(settings), policy)
    logger.info("notifications: {} to {}", "all events" if events == frozenset(EVENTS)
                else ", ".join(e for e in EVENTS if e in events),
                ", ".join(t.redacted + (" (telegram)" if t.kind == "telegram" else "")
                          for t in targets))
    return Notifications(delivery, events=events, symbol=settings.symbol, now_ms=now_ms)


__all__ = ["Notifications", "build_notifications", "daemon_name"]
