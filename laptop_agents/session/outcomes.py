"""What happens after the broker acts: metrics, log lines and live messages, in one place."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence

from loguru import logger

from laptop_agents.metrics import Metrics
from laptop_agents.notify.notifications import Notifications
from laptop_agents.paper.models import BrokerEvent, FundingSettled, TradeClosed
from laptop_agents.readable import money
from laptop_agents.session.controller import FeedPublisher
from laptop_agents.session.describe import describe_event, describe_trade
from laptop_agents.session.equity import money_moved_at
from laptop_agents.session.render import order_event, trade_view
from laptop_agents.session.views import FeedKind, FeedPayload


class NullPublisher:
    def publish(self, kind: FeedKind, payload: FeedPayload) -> None:
        pass


class Outcomes:
    """Reports broker events; ``publisher`` is the API's feed hub once it is attached."""

    def __init__(self, metrics: Metrics, after: Callable[[], None],
                 notifications: Notifications | None = None) -> None:
        self.metrics = metrics
        self.notifications = notifications or Notifications.disabled()
        self._publisher: FeedPublisher = NullPublisher()
        # Whether a real publisher (the feed hub) is attached: a plain attribute, because
        # the engine reads it on every tick.
        self.attached = False
        self._after = after  # refresh the gauges once the events are reported
        # Called with the exchange time of the last event that moved the balance (Health
        # records an equity snapshot there: session/equity.py).
        self.money_moved: Callable[[int], None] | None = None

    @property
    def publisher(self) -> FeedPublisher:
        return self._publisher

    @publisher.setter
    def publisher(self, publisher: FeedPublisher) -> None:
        self._publisher = publisher
        self.attached = not isinstance(publisher, NullPublisher)

    def report(self, events: Sequence[BrokerEvent], arrived: float | None) -> None:
        """``arrived``: perf_counter of the tick that caused them (times the watchdog).

        The events are already journaled (the broker commits before it returns them), so the
        watchdog's reaction ends here, before any log line or feed message is rendered."""
        if arrived is not None and any(isinstance(e, TradeClosed) for e in events):
            self.metrics.watchdog_reaction.observe(time.perf_counter() - arrived)
        for event in events:
            if isinstance(event, FundingSettled):
                self.metrics.funding_settlements.labels(event.symbol).inc()
            if isinstance(event, TradeClosed):
                trade = event.trade
                self.metrics.trades.labels(trade.symbol).inc()
                if trade.exit_reason == "liquidation":
                    self.metrics.liquidations.labels(trade.symbol).inc()
                logger.info("trade closed pnl={} ({})", money(trade.realized_pnl),
                            describe_trade(trade))
                self.publisher.publish("trade", trade_view(trade))
                continue
            logger.info("{}", describe_event(event))
            self.publisher.publish("order", order_event(event))
        self.notifications.broker_events(events)
        if self.money_moved is not None and (moved := money_moved_at(events)) is not None:
            self.money_moved(moved)
        self._after()


__all__ = ["NullPublisher", "Outcomes"]
