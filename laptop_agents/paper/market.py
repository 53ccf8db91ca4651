"""MarketEvents: what a tick or a closed candle does to the working orders and the position.

* A tick fills a limit the quote crosses (maker, at the limit), then checks the stop (the
  tighter of the fixed and the trailing stop), the target and the trailing stop on the
  executable side (bid for a long, ask for a short). Every exit is a market order at that
  side plus slippage, so a price that gaps through the stop fills where it is.
* A closed candle, when no quote is fresh, lets its range decide: limit fills at the limit,
  and exits of a position held since before the candle (stop before target; at the open when
  the candle opened through the level). It also expires limits and ratchets the trailing stop.

The daily loss cap and the day roll around these are ``risk.py``'s; fills go through the ledger.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import replace
from decimal import Decimal

from laptop_agents.config import Settings
from laptop_agents.models import Candle, Instrument, MarkPrice, Side, Tick, interval_ms
from laptop_agents.paper.ledger import Ledger
from laptop_agents.paper.margin import liquidation_price
from laptop_agents.paper.models import BrokerEvent, OrderStatus, Position
from laptop_agents.paper.pricing import exit_touch, level_exit_price, marketable
from laptop_agents.strategy.sizing import round_to_tick


def _stop_reason(p: Position, stop: Decimal) -> str:
    return "trailing_stop" if stop == p.trailing_stop and stop != p.stop else "stop"


class MarketEvents:
    def __init__(self, settings: Settings, instrument: Instrument, ledger: Ledger,
                 speed: Callable[[], float]) -> None:
        self.settings = settings
        self.instrument = instrument
        self._ledger = ledger
        self._speed = speed  # exchange ms per wall ms: scales ``stale_after``
        self._liquidation: tuple[Position, Decimal] | None = None  # see _liquidation_level

    # --- ticks -----------------------------------------------------------------------------
    def on_tick(self, tick: Tick) -> list[BrokerEvent]:
        """Limit fills, then stop / trailing / target exits (``trigger_price=last``), then the
        liquidation check on the mid when no fresh mark price is known."""
        ledger = self._ledger
        events: list[BrokerEvent] = []
        for order in list(ledger.orders.values()):
            if ledger.position is None and marketable(order, tick):
                events += ledger.open(order, order.price, order.price, "maker", tick.ts,
                                      "limit crossed by the quote")
        p = ledger.position
        if p is not None and self.settings.trigger_price == "last":
            events += self._check_exits(exit_touch(p.side, tick), tick, tick.ts)
        if ledger.position is not None and not self.mark_fresh(tick.ts):
            # Without the exchange's mark (not subscribed, or silent) the quote's mid stands
            # in for it, so a position can never outlive its margin.
            events += self.check_liquidation((tick.bid + tick.ask) / 2, tick.ts)
        return events

    # --- mark price ------------------------------------------------------------------------
    def mark_fresh(self, ts: int) -> bool:
        mark = self._ledger.last_mark
        stale_ms = self.settings.stale_after * 1000 * self._speed()
        return mark is not None and ts - mark.ts <= stale_ms

    def on_mark(self, mark: MarkPrice) -> list[BrokerEvent]:
        """Liquidation on the mark price, then stops and targets when they trigger on it."""
        ledger = self._ledger
        ledger.last_mark = mark
        events = self.check_liquidation(mark.mark, mark.ts)
        tick = ledger.last_tick
        if (ledger.position is not None and self.settings.trigger_price == "mark"
                and tick is not None):
            events += self._check_exits(mark.mark, tick, max(tick.ts, mark.ts))
        return events

    def check_liquidation(self, mark: Decimal, ts: int) -> list[BrokerEvent]:
        p = self._ledger.position
        if p is None:
            return []
        level = self._liquidation_level(p)
        if not (mark <= level if p.side is Side.LONG else mark >= level):
            return []
        return self._ledger.liquidate(ts, f"mark {mark} reached the liquidation price "
                                          f"{self._ledger.liquidation_price()}")

    def _liquidation_level(self, p: Position) -> Decimal:
        """The liquidation price of ``p``, worked out once per position state: a Position is
        immutable (every fill and settlement replaces it), and marks arrive every second."""
        cached = self._liquidation
        if cached is not None and cached[0] is p:
            return cached[1]
        level = liquidation_price(p, self.settings.maintenance_margin_rate,
                                  self.instrument.tick_size)
        self._liquidation = (p, level)
        return level

    def _check_exits(self, price: Decimal, tick: Tick, ts: int) -> list[BrokerEvent]:
        """Stop (the tighter of fixed and trailing), target and trailing stop against the
        trigger ``price``; every exit fills at the executable side of ``tick``, at ``ts``."""
        p = self._ledger.position
        if p is None:
            return []
        long = p.side is Side.LONG
        stop = p.effective_stop()
        if stop is not None and (price <= stop if long else price >= stop):
            return self._ledger.close(self._ledger.exit_market_price(tick), stop,
                                      _stop_reason(p, stop), ts)
        if p.target is not None and (price >= p.target if long else price <= p.target):
            return self._ledger.close(self._ledger.exit_market_price(tick), p.target, "target",
                                      ts)
        self._trail(price)
        return []

    def _trail(self, price: Decimal) -> None:
        """Ratchet the ATR trailing stop toward ``price``; persisted when it moves a tick."""
        p = self._ledger.position
        distance = self.settings.trailing_stop_atr * (p.atr if p else 0)
        if p is None or distance <= 0:
            return
        long = p.side is Side.LONG
        # On the tick grid, rounded away from the price (the looser side).
        candidate = round_to_tick(price - distance if long else price + distance,
                                  self.instrument.tick_size, up=not long)
        current = p.trailing_stop
        if current is not None and (candidate <= current if long else candidate >= current):
            return
        self._ledger.move_position(replace(p, trailing_stop=candidate))

    # --- closed candles --------------------------------------------------------------------
    def on_candle(self, candle: Candle) -> list[BrokerEvent]:
        """Range fills and exits when no quote is fresh, limit expiry, trailing update."""
        ledger, ts = self._ledger, candle.close_time
        stale_ms = int(self.settings.stale_after * 1000 * self._speed())
        last_tick = ledger.last_tick
        events: list[BrokerEvent] = []
        if last_tick is None or last_tick.ts < ts - stale_ms:
            events += self._range_fills(candle)
            p = ledger.position
            if p is not None and p.opened_ms <= candle.open_time and not self.mark_fresh(ts):
                # No quote and no mark: the range is all that is known of the price.
                worst = candle.low if p.side is Side.LONG else candle.high
                events += self.check_liquidation(worst, ts)
        events += self._expire(candle)
        if ledger.position is not None:
            self._trail(candle.close)
        return events

    def _range_fills(self, candle: Candle) -> list[BrokerEvent]:
        """No fresh quote: the candle's range fills limits and exits an older position."""
        ledger, ts = self._ledger, candle.close_time
        p = ledger.position
        held_before = p is not None and p.opened_ms <= candle.open_time
        events: list[BrokerEvent] = []
        for order in list(ledger.orders.values()):
            touched = candle.low <= order.price if order.side is Side.LONG else (
                candle.high >= order.price)
            if ledger.position is None and order.created_ms < ts and touched:
                events += ledger.open(order, order.price, order.price, "maker", ts,
                                      "limit touched by the candle range (no fresh quote)")
        if held_before:
            events += self._range_exit(candle)
        return events

    def _range_exit(self, candle: Candle) -> list[BrokerEvent]:
        """Exit on a candle's range (no fresh quote): stop before target; a candle that opens
        through a level fills at its open, otherwise at the level; then slippage."""
        p = self._ledger.position
        assert p is not None
        long = p.side is Side.LONG
        stop = p.effective_stop()

        def exit_at(level: Decimal) -> Decimal:
            return level_exit_price(p.side, level, self.settings.slippage_bps,
                                    self.instrument.tick_size)

        ts = candle.close_time
        if stop is not None and (candle.low <= stop if long else candle.high >= stop):
            first = min(stop, candle.open) if long else max(stop, candle.open)
            return self._ledger.close(exit_at(first), stop, _stop_reason(p, stop), ts)
        if p.target is not None and (candle.high >= p.target if long else candle.low <= p.target):
            first = max(p.target, candle.open) if long else min(p.target, candle.open)
            return self._ledger.close(exit_at(first), p.target, "target", ts)
        return []

    def _expire(self, candle: Candle) -> list[BrokerEvent]:
        """A limit expires once ``limit_expiry_candles`` candles closed after it was placed."""
        ts, period = candle.close_time, interval_ms(candle.interval)
        events: list[BrokerEvent] = []
        for order in list(self._ledger.orders.values()):
            if ts <= order.created_ms:
                continue
            seen = math.ceil((ts - order.created_ms) / period)
            if seen >= self.settings.limit_expiry_candles:
                events += self._ledger.end_order(order, OrderStatus.EXPIRED,
                                                 f"unfilled after {seen} candles", ts)
        return events
