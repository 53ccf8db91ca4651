"""Prometheus metrics of one daemon, on a registry of its own (tests run several daemons)."""

from __future__ import annotations

import time
from collections.abc import Iterable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, Metric

# Watchdog reaction times are expected in the sub-millisecond to 100 ms range.
REACTION_BUCKETS = (0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)


class PlainCounter:
    """A counter the hot path bumps as a plain int (``value += 1``); the registry reads it
    when scraped. ``prometheus_client.Counter.inc`` takes a lock and checks its argument on
    every call: for the per-frame count that was a tenth of the cost of handling a frame.
    Everything runs on the event loop (the scrape too), so no lock is needed."""

    def __init__(self, name: str, documentation: str, registry: CollectorRegistry) -> None:
        self.value = 0
        self._name = name
        self._documentation = documentation
        self._created = time.time()
        registry.register(self)

    def inc(self, amount: int = 1) -> None:
        if amount < 0:
            raise ValueError("counters only go up")
        self.value += amount

    def collect(self) -> Iterable[Metric]:
        return [CounterMetricFamily(self._name, self._documentation, value=self.value,
                                    created=self._created)]

    def describe(self) -> Iterable[Metric]:
        return [CounterMetricFamily(self._name, self._documentation)]


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.ticks = PlainCounter("la_ticks", "Best bid/offer updates received", r)
        self.candles = Counter("la_closed_candles", "Closed candles received", registry=r)
        self.reconnects = Counter("la_reconnects", "Market-data reconnects", registry=r)
        self.malformed_frames = Counter(
            "la_malformed_frames", "Malformed or unknown frames skipped", registry=r
        )
        self.frame_errors = Counter(
            "la_frame_errors", "Frames whose handling raised an error (logged, skipped)",
            registry=r,
        )
        self.loop_lag = Gauge("la_loop_lag_seconds", "Event-loop lag, last sample", registry=r)
        self.watchdog_reaction = Histogram(
            "la_watchdog_reaction_seconds",
            "Time from a crossing price's arrival to the exit fill",
            buckets=REACTION_BUCKETS,
            registry=r,
        )
        self.equity = Gauge("la_equity_usdt", "Paper account equity (USDT)", registry=r)
        # Per traded symbol (LA_SYMBOLS): the label ``symbol``.
        self.position_size = Gauge(
            "la_position_size", "Open position size in base coin, signed", ["symbol"], registry=r
        )
        self._account(r)
        self.orders = Counter("la_orders", "Orders submitted to the paper broker", ["symbol"],
                              registry=r)
        self.trades = Counter("la_trades", "Round-trip trades closed", ["symbol"], registry=r)
        self._gate(r)
        # Data health (docs/market-data.md): what the daemon refused to believe, and why.
        self.quotes_rejected = Counter(
            "la_quotes_rejected", "Quotes quarantined by the price guard", ["symbol", "reason"],
            registry=r
        )
        self.candles_confirmed = Counter(
            "la_candles_confirmed",
            "Closed candles by where their values came from (rest, or ws when REST lacked them)",
            ["source"], registry=r,
        )
        self.candle_gaps = Counter(
            "la_candle_gaps", "Closed candles neither REST nor the stream could supply", registry=r
        )
        self.clock_offset = Gauge(
            "la_clock_offset_ms", "Estimated exchange time minus the laptop's wall clock (ms)",
            registry=r,
        )
        self.exchange_clock_rate = Gauge(
            "la_exchange_clock_rate", "Exchange ms per local ms (1 = real time)", registry=r
        )
        self.last_quote_age = Gauge(
            "la_last_quote_age_seconds", "Seconds since the last accepted quote", ["symbol"],
            registry=r)
        self.pauses_detected = Counter(
            "la_pauses_detected", "Laptop sleeps or loop stalls detected", registry=r
        )
        self._notifications(r)

    def _gate(self, r: CollectorRegistry) -> None:
        """Why a symbol's entries are held (the alert rules read these)."""
        self.entries_paused = Gauge(
            "la_entries_paused", "1 while the gate holds this symbol's entries for the reason",
            ["symbol", "reason"], registry=r)
        self.feed_connected = Gauge(
            "la_feed_connected", "1 while this symbol's market-data connection is up",
            ["symbol"], registry=r)

    def _account(self, r: CollectorRegistry) -> None:
        """The perpetual account (docs/paper-trading.md)."""
        self.balance = Gauge("la_balance_usdt", "Paper wallet balance (USDT)", registry=r)
        self.funding_paid = Gauge(
            "la_funding_paid_usdt", "Net funding paid since the journal began (USDT; "
            "negative = received)", registry=r)
        self.funding_settlements = Counter(
            "la_funding_settlements", "Funding settlements applied to a position", ["symbol"],
            registry=r)
        self.margin_used = Gauge(
            "la_margin_used_usdt", "Isolated margin in use (position and working orders)",
            registry=r)
        self.liquidation_price = Gauge(
            "la_liquidation_price", "Liquidation price of the open position (0 when flat)",
            ["symbol"], registry=r)
        self.liquidations = Counter("la_liquidations", "Positions liquidated", ["symbol"],
                                    registry=r)

    def _notifications(self, r: CollectorRegistry) -> None:
        """Webhook and Telegram notifications (docs/notifications.md), per receiver."""
        self.notifications_sent = Counter(
            "la_notifications_sent", "Notifications delivered, by event", ["event"], registry=r)
        self.notifications_failed = Counter(
            "la_notifications_failed", "Notifications given up on (retries and time cap "
            "exhausted, or refused with a 4xx), by event", ["event"], registry=r)
        self.notifications_dropped = Counter(
            "la_notifications_dropped", "Notifications never sent (queue full, or the daemon "
            "stopped first), by event", ["event"], registry=r)

    def render(self) -> bytes:
        return generate_latest(self.registry)
