"""PaperBroker: one position per symbol, exact Decimal accounting, risk limits, journaled.

Rules (written out in docs/paper-trading.md):

* Market orders fill at the ask (buy) / bid (sell) moved ``slippage_bps`` against us and
  rounded to the tick against us; taker fee.
* Limit orders rest until the best bid/offer crosses them (buy: ask <= limit; sell:
  bid >= limit), or, when no quote is fresh, until a closed candle's range touches them; they
  fill at the limit price with the maker fee, and expire after ``limit_expiry_candles``
  candles. A limit that is marketable on arrival fills at once at the touch as a taker.
* Stop, target and trailing stop are checked on every tick on the executable side (bid for
  a long, ask for a short). Every exit is a market order at that side (plus slippage): a price
  that gaps through the stop fills where it is, not at the stop, and ``Fill.slippage`` records
  the difference from the trigger.
* Every state change is written to the journal first, in one transaction, and only then
  applied in memory; a broker built on a journal with state resumes exactly where it stopped.
"""

from __future__ import annotations

import math
from collections import OrderedDict, deque
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from decimal import ROUND_HALF_EVEN, Decimal
from typing import Literal

from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.models import Candle, Instrument, Side, Tick, interval_ms
from laptop_agents.paper.models import (
    BrokerEvent,
    EntriesPaused,
    Fill,
    Order,
    OrderCanceled,
    OrderExpired,
    OrderRejected,
    OrderResult,
    OrderStatus,
    Position,
    Trade,
    TradeClosed,
)
from laptop_agents.storage.journal import Journal
from laptop_agents.strategy.base import OrderIntent, PositionView
from laptop_agents.strategy.sizing import round_to_tick

FEE_QUANTUM = Decimal("0.00000001")  # fees are rounded to 1e-8 USDT (half-even)
BPS = Decimal("10000")
MINUTE_MS = 60_000
MEMORY_TRADES = 1000  # trades kept in memory when there is no journal


DAY_MS = 86_400_000


def utc_day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms // DAY_MS * 86_400, tz=UTC).strftime("%Y-%m-%d")


def fee_of(price: Decimal, qty: Decimal, rate: Decimal) -> Decimal:
    return (price * qty * rate).quantize(FEE_QUANTUM, rounding=ROUND_HALF_EVEN)


class PaperBroker:
    def __init__(
        self,
        settings: Settings,
        instrument: Instrument,
        journal: Journal | None = None,
        *,
        clock_speed: float | Callable[[], float] = 1.0,
    ) -> None:
        """``clock_speed``: exchange ms per wall ms (1 for the real exchange, ~20 for the
        default simulator), or a function giving the current estimate. Quote freshness is
        judged in exchange time, so ``stale_after`` (wall seconds) is scaled by it."""
        self.settings = settings
        self._speed: Callable[[], float] = (
            clock_speed if callable(clock_speed) else (lambda: float(clock_speed))
        )
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.journal = journal
        self._position: Position | None = None
        self._orders: dict[str, Order] = {}  # working limit orders
        self._order_times: deque[int] = deque(maxlen=settings.max_orders_per_minute)
        self._known_orders: OrderedDict[str, Order] = OrderedDict()  # memory-only idempotency
        self._trades: deque[Trade] = deque(maxlen=MEMORY_TRADES)
        self._last_tick: Tick | None = None
        self._last_close: Decimal | None = None
        self._starting = settings.starting_equity
        self._realized = Decimal(0)
        self._fees = Decimal(0)
        self._last_exit_ms: int | None = None
        self._day: str | None = None
        self._day_index = -1  # ts // DAY_MS of self._day: the day test costs one division
        self._day_start_equity = settings.starting_equity
        self._day_start_balance = settings.starting_equity
        self._pause_reason: str | None = None
        if journal is not None:
            self._rebuild(journal)

    def _rebuild(self, journal: Journal) -> None:
        account = journal.load_account(self.settings.starting_equity)
        self._starting = account.starting_equity
        self._realized = account.realized_total
        self._fees = account.fees_total
        self._last_exit_ms = account.last_exit_ms
        self._day = account.risk_day
        if self._day:
            self._day_index = int(datetime.strptime(self._day, "%Y-%m-%d").replace(
                tzinfo=UTC).timestamp()) * 1000 // DAY_MS
        self._day_start_equity = account.day_start_equity or self.balance
        self._day_start_balance = account.day_start_balance or self.balance
        self._pause_reason = account.risk_pause_reason
        self._position = journal.load_position(self.symbol)
        self._orders = {o.order_id: o for o in journal.working_orders(self.symbol)}
        self._order_times.extend(journal.recent_order_times(self.settings.max_orders_per_minute))
        if self._position or self._orders or self._realized or self._fees:
            logger.info(
                "broker rebuilt from {}: position={} working_orders={} balance={}",
                journal.path, self._position, len(self._orders), self.balance,
            )

    # --- read side -------------------------------------------------------------------------
    @property
    def position(self) -> Position | None:
        return self._position

    @property
    def working_orders(self) -> list[Order]:
        return list(self._orders.values())

    @property
    def starting_equity(self) -> Decimal:
        return self._starting

    @property
    def balance(self) -> Decimal:
        """Cash: starting equity + realised PnL - fees."""
        return self._starting + self._realized - self._fees

    @property
    def realized_pnl(self) -> Decimal:
        """Gross realised PnL since the journal began (fees not deducted)."""
        return self._realized

    @property
    def fees_paid(self) -> Decimal:
        return self._fees

    @property
    def realized_pnl_today(self) -> Decimal:
        """Change of the balance since the UTC day began: realised PnL minus fees today."""
        return self.balance - self._day_start_balance

    @property
    def day_start_equity(self) -> Decimal:
        return self._day_start_equity

    @property
    def entries_paused_reason(self) -> str | None:
        """Set while the daily loss cap holds entries; cleared on the next UTC day."""
        return self._pause_reason

    @property
    def last_exit_ms(self) -> int | None:
        return self._last_exit_ms

    @property
    def last_tick(self) -> Tick | None:
        return self._last_tick

    def _exit_price_now(self, tick: Tick | None) -> Decimal | None:
        """The executable closing price of the position: bid for a long, ask for a short."""
        if self._position is None:
            return None
        tick = tick or self._last_tick
        if tick is not None:
            return tick.bid if self._position.side is Side.LONG else tick.ask
        return self._last_close if self._last_close is not None else self._position.entry_price

    def unrealized_pnl(self, tick: Tick | None = None) -> Decimal:
        """Mark-to-market of the position at the executable side (no exit fee, no slippage).
        Without ``tick``: the last tick seen, else the last candle close, else 0."""
        price = self._exit_price_now(tick)
        if self._position is None or price is None:
            return Decimal(0)
        return self._position.unrealized_pnl(price)

    def equity(self, tick: Tick | None = None) -> Decimal:
        return self.balance + self.unrealized_pnl(tick)

    def position_view(self) -> PositionView | None:
        p = self._position
        if p is None:
            return None
        return PositionView(p.side, p.qty, p.entry_price, p.effective_stop(), p.target)

    def trades(self, limit: int = 100, since_ms: int | None = None) -> list[Trade]:
        """Closed trades, newest first (from the journal when there is one)."""
        if self.journal is not None:
            return self.journal.trades(limit, since_ms)
        found = [t for t in reversed(self._trades) if since_ms is None or t.closed_ms >= since_ms]
        return found[: max(0, limit)]

    def observe(self, tick: Tick | None = None, candle: Candle | None = None) -> None:
        """Record market data WITHOUT evaluating orders or exits: e.g. the warm-up candles at
        start-up, so ``equity()`` has a mark before the first tick arrives."""
        if tick is not None and tick.symbol == self.symbol:
            self._last_tick = tick
        if candle is not None and candle.symbol == self.symbol and candle.closed:
            self._last_close = candle.close

    # --- orders ----------------------------------------------------------------------------
    def client_order_id(self, intent: OrderIntent, now_ms: int) -> str:
        """Deterministic: the same intent at the same instant is the same order."""
        return f"{self.symbol}-{intent.setup}-{intent.side.value}-{now_ms}"

    def submit(
        self,
        intent: OrderIntent,
        tick: Tick | None,
        now_ms: int,
        client_order_id: str | None = None,
    ) -> OrderResult:
        """Validate ``intent`` against the risk limits and place it; see docs for the codes."""
        if tick is not None and tick.symbol == self.symbol:
            self._last_tick = tick
        events: list[BrokerEvent] = list(self._roll_day(now_ms, tick))
        order_id = client_order_id or self.client_order_id(intent, now_ms)
        intent = self._on_grid(intent)
        known = self._find_order(order_id)
        if known is not None:
            return OrderResult(
                True, f"duplicate: order {order_id} already recorded ({known.status.value})",
                order_id, code="duplicate", events=events,
            )
        code, reason = self._check(intent, tick, now_ms)
        if code:
            logger.info("order rejected ({}): {}", code, reason)
            rejected = OrderRejected(reason, code, intent.setup, now_ms)
            return OrderResult(False, reason, None, code=code, events=[*events, rejected])

        price = intent.entry
        order = Order(
            order_id=order_id, symbol=self.symbol, side=intent.side,
            order_type=intent.order_type, qty=intent.qty, price=price, stop=intent.stop,
            target=intent.target, atr=intent.atr, setup=intent.setup, reason=intent.reason,
            created_ms=now_ms,
        )
        self._order_times.append(now_ms)
        if intent.order_type == "market":
            assert tick is not None  # _check rejects a market order without a quote
            fill_price = self._market_price(intent.side, tick)
            new = self._open(order, fill_price, intent.entry, "taker", now_ms, "market entry")
        elif tick is not None and self._marketable(order, tick):
            touch = tick.ask if order.side is Side.LONG else tick.bid
            new = self._open(order, touch, order.price, "taker", now_ms, "marketable limit")
        else:
            if self.journal is not None:
                self.journal.insert_order(order)
            self._remember(order)
            self._orders[order_id] = order
            logger.info("limit order working: {} {} {} @ {}", order_id, order.side.value,
                        order.qty, order.price)
            return OrderResult(True, "limit order working", order_id, events=events)
        fills = [e for e in new if isinstance(e, Fill)]
        return OrderResult(True, "filled", order_id, fills=fills, events=[*events, *new])

    def _on_grid(self, intent: OrderIntent) -> OrderIntent:
        """Stop, target (and a limit price) on the tick grid. Down for a long, up for a short:
        the stop moves away from the entry, the target toward it, a limit to the passive side.
        Already-rounded prices (the Supervisor's) are unchanged."""
        tick, up = self.instrument.tick_size, intent.side is Side.SHORT
        entry = intent.entry
        if intent.order_type == "limit":
            entry = round_to_tick(entry, tick, up=up)
        return replace(intent, entry=entry, stop=round_to_tick(intent.stop, tick, up=up),
                       target=round_to_tick(intent.target, tick, up=up))

    def _find_order(self, order_id: str) -> Order | None:
        if order_id in self._orders:
            return self._orders[order_id]
        if self.journal is not None:
            return self.journal.get_order(order_id)
        return self._known_orders.get(order_id)

    def _remember(self, order: Order) -> None:
        if self.journal is None:
            self._known_orders[order.order_id] = order
            while len(self._known_orders) > MEMORY_TRADES:
                self._known_orders.popitem(last=False)

    def _check(self, intent: OrderIntent, tick: Tick | None, now_ms: int) -> tuple[str, str]:
        """(code, reason) of the first failed check, or ("", "")."""
        s, inst = self.settings, self.instrument
        if self._pause_reason:
            return "entries_paused", f"entries paused: {self._pause_reason}"
        if self._position is not None:
            return "position_open", f"a {self._position.side.value} position is already open"
        if self._orders:
            return "order_working", "an entry order is already working"
        if intent.qty <= 0 or intent.entry <= 0:
            return "invalid", f"invalid qty {intent.qty} or price {intent.entry}"
        long = intent.side is Side.LONG
        if (long and not intent.stop < intent.entry < intent.target) or (
            not long and not intent.target < intent.entry < intent.stop
        ):
            return "invalid", (
                f"stop {intent.stop} / entry {intent.entry} / target {intent.target} are not "
                f"ordered for a {intent.side.value}"
            )
        if intent.qty % inst.lot_step != 0 or intent.qty < inst.min_qty:
            return "lot_step", (
                f"qty {intent.qty} is not a multiple of the lot step {inst.lot_step} "
                f"(minimum {inst.min_qty})"
            )
        if intent.qty > s.max_position_qty:
            return "max_position_qty", (
                f"qty {intent.qty} exceeds max_position_qty {s.max_position_qty}"
            )
        if intent.order_type == "market" and tick is None:
            return "no_quote", "no fresh quote to fill a market order"
        recent = [t for t in self._order_times if t > now_ms - MINUTE_MS]
        if len(recent) >= s.max_orders_per_minute:
            return "rate_limit", (
                f"{len(recent)} orders in the last minute (max_orders_per_minute "
                f"{s.max_orders_per_minute})"
            )
        # The caps hold at the price the order would fill at now: a market order's ask/bid
        # plus slippage, a marketable limit's touch, otherwise the limit price.
        price = intent.entry
        if intent.order_type == "market" and tick is not None:
            price = self._market_price(intent.side, tick)
        elif tick is not None and (tick.ask <= price if long else tick.bid >= price):
            price = tick.ask if long else tick.bid
        notional = intent.qty * price
        if notional < s.min_notional:
            return "min_notional", f"notional {notional:.2f} below min_notional {s.min_notional}"
        if notional > s.max_notional:
            return "max_notional", f"notional {notional:.2f} exceeds max_notional {s.max_notional}"
        equity = self.equity(tick)
        leverage = min(s.max_leverage, Decimal(inst.max_leverage))
        if equity <= 0 or notional > equity * leverage:
            return "max_leverage", (
                f"notional {notional:.2f} exceeds {leverage}x equity {equity:.2f}"
            )
        return "", ""

    def _market_price(self, side: Side, tick: Tick) -> Decimal:
        """Touch price moved ``slippage_bps`` against us, on the tick grid (rounded against us)."""
        slip = self.settings.slippage_bps / BPS
        if side is Side.LONG:
            return round_to_tick(tick.ask * (1 + slip), self.instrument.tick_size, up=True)
        return round_to_tick(tick.bid * (1 - slip), self.instrument.tick_size, up=False)

    def _exit_market_price(self, tick: Tick) -> Decimal:
        assert self._position is not None
        closing = Side.SHORT if self._position.side is Side.LONG else Side.LONG
        return self._market_price(closing, tick)

    @staticmethod
    def _marketable(order: Order, tick: Tick) -> bool:
        return tick.ask <= order.price if order.side is Side.LONG else tick.bid >= order.price

    # --- the two money-moving transitions --------------------------------------------------
    def _open(
        self,
        order: Order,
        price: Decimal,
        intended: Decimal,
        liquidity: Literal["maker", "taker"],
        ts: int,
        reason: str,
    ) -> list[BrokerEvent]:
        s = self.settings
        rate = s.maker_fee if liquidity == "maker" else s.taker_fee
        fee = fee_of(price, order.qty, rate)
        long = order.side is Side.LONG
        fill = Fill(
            fill_id=f"{order.order_id}:entry", order_id=order.order_id, symbol=self.symbol,
            side="buy" if long else "sell", kind="entry", qty=order.qty, price=price,
            intended_price=intended, slippage=(price - intended) if long else (intended - price),
            fee=fee, liquidity=liquidity, realized_pnl=Decimal(0), reason=reason, ts=ts,
        )
        position = Position(
            symbol=self.symbol, side=order.side, qty=order.qty, entry_price=price,
            stop=order.stop, target=order.target, trailing_stop=None, opened_ms=ts,
            entry_order_id=order.order_id, entry_fee=fee, atr=order.atr, setup=order.setup,
        )
        filled = replace(order, status=OrderStatus.FILLED)
        fees = self._fees + fee
        if self.journal is not None and not self.journal.apply_fill(
            fill, order=filled, position=position, trade=None, realized_total=self._realized,
            fees_total=fees, last_exit_ms=self._last_exit_ms,
        ):
            logger.warning("fill {} already journaled; not applied twice", fill.fill_id)
            return []
        self._remember(filled)
        self._orders.pop(order.order_id, None)
        self._fees = fees
        self._position = position
        logger.info("entry fill {} {} {} @ {} fee {}", fill.fill_id, fill.side, fill.qty,
                    price, fee)
        return [fill]

    def _close(
        self, price: Decimal, intended: Decimal, reason: str, ts: int
    ) -> list[BrokerEvent]:
        p = self._position
        assert p is not None
        long = p.side is Side.LONG
        fee = fee_of(price, p.qty, self.settings.taker_fee)
        gross = p.unrealized_pnl(price)
        fill = Fill(
            fill_id=f"{p.entry_order_id}:exit", order_id=f"{p.entry_order_id}:exit",
            symbol=self.symbol, side="sell" if long else "buy", kind="exit", qty=p.qty,
            price=price, intended_price=intended,
            slippage=(intended - price) if long else (price - intended), fee=fee,
            liquidity="taker", realized_pnl=gross, reason=reason, ts=ts,
        )
        trade = Trade(
            trade_id=p.entry_order_id, symbol=self.symbol, side=p.side, qty=p.qty,
            entry_price=p.entry_price, exit_price=price, opened_ms=p.opened_ms, closed_ms=ts,
            gross_pnl=gross, fees=p.entry_fee + fee, realized_pnl=gross - p.entry_fee - fee,
            exit_reason=reason, setup=p.setup,
        )
        realized, fees = self._realized + gross, self._fees + fee
        if self.journal is not None and not self.journal.apply_fill(
            fill, order=None, position=None, trade=trade, realized_total=realized,
            fees_total=fees, last_exit_ms=ts,
        ):
            logger.warning("fill {} already journaled; not applied twice", fill.fill_id)
            return []
        self._realized, self._fees = realized, fees
        self._position = None
        self._last_exit_ms = ts
        if self.journal is None:
            self._trades.append(trade)
        logger.info("exit fill ({}) {} {} @ {} pnl {} fee {}", reason, fill.side, fill.qty,
                    price, gross, fee)
        return [fill, TradeClosed(trade)]

    # --- market events ---------------------------------------------------------------------
    def on_tick(self, tick: Tick) -> list[BrokerEvent]:
        """Limit fills, then stop / trailing / target exits, then the daily loss cap."""
        if tick.symbol != self.symbol:
            return []
        self._last_tick = tick
        events: list[BrokerEvent] = list(self._roll_day(tick.ts, tick))
        for order in list(self._orders.values()):
            if self._position is None and self._marketable(order, tick):
                events += self._open(order, order.price, order.price, "maker", tick.ts,
                                     "limit crossed by the quote")
        events += self._check_exits(tick)
        events += self._check_daily_cap(tick.ts, tick)
        return events

    def _check_exits(self, tick: Tick) -> list[BrokerEvent]:
        p = self._position
        if p is None:
            return []
        long = p.side is Side.LONG
        price = tick.bid if long else tick.ask
        stop = p.effective_stop()
        if stop is not None and (price <= stop if long else price >= stop):
            why = "trailing_stop" if stop == p.trailing_stop and stop != p.stop else "stop"
            return self._close(self._exit_market_price(tick), stop, why, tick.ts)
        if p.target is not None and (price >= p.target if long else price <= p.target):
            return self._close(self._exit_market_price(tick), p.target, "target", tick.ts)
        self._trail(price)
        return []

    def _trail(self, price: Decimal) -> None:
        """Ratchet the ATR trailing stop toward ``price``; persisted when it moves a tick."""
        p = self._position
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
        moved = replace(p, trailing_stop=candidate)
        if self.journal is not None:
            self.journal.update_position(moved)
        self._position = moved

    def on_candle(self, candle: Candle) -> list[BrokerEvent]:
        """Range fills and exits when no quote is fresh, limit expiry, trailing update."""
        if candle.symbol != self.symbol or not candle.closed:
            return []
        ts = candle.close_time
        self._last_close = candle.close
        events: list[BrokerEvent] = list(self._roll_day(ts, None))
        stale_ms = int(self.settings.stale_after * 1000 * self._speed())
        fresh = self._last_tick is not None and self._last_tick.ts >= ts - stale_ms
        if not fresh:
            p = self._position
            held_before = p is not None and p.opened_ms <= candle.open_time
            for order in list(self._orders.values()):
                touched = candle.low <= order.price if order.side is Side.LONG else (
                    candle.high >= order.price)
                if self._position is None and order.created_ms < ts and touched:
                    events += self._open(order, order.price, order.price, "maker", ts,
                                         "limit touched by the candle range (no fresh quote)")
            if held_before:
                events += self._range_exit(candle)
        period = interval_ms(candle.interval)
        for order in list(self._orders.values()):
            if ts <= order.created_ms:
                continue
            seen = math.ceil((ts - order.created_ms) / period)
            if seen >= self.settings.limit_expiry_candles:
                events += self._end_order(order, OrderStatus.EXPIRED,
                                          f"unfilled after {seen} candles", ts)
        if self._position is not None:
            self._trail(candle.close)
        events += self._check_daily_cap(ts, None)
        return events

    def _range_exit(self, candle: Candle) -> list[BrokerEvent]:
        """Exit on a candle's range (no fresh quote): stop before target; a candle that opens
        through a level fills at its open, otherwise at the level; then slippage."""
        p = self._position
        assert p is not None
        long = p.side is Side.LONG
        stop = p.effective_stop()
        slip = self.settings.slippage_bps / BPS
        tick_size = self.instrument.tick_size

        def exit_at(level: Decimal) -> Decimal:
            moved = level * (1 - slip) if long else level * (1 + slip)
            return round_to_tick(moved, tick_size, up=not long)

        ts = candle.close_time
        if stop is not None and (candle.low <= stop if long else candle.high >= stop):
            first = min(stop, candle.open) if long else max(stop, candle.open)
            why = "trailing_stop" if stop == p.trailing_stop and stop != p.stop else "stop"
            return self._close(exit_at(first), stop, why, ts)
        if p.target is not None and (candle.high >= p.target if long else candle.low <= p.target):
            first = max(p.target, candle.open) if long else min(p.target, candle.open)
            return self._close(exit_at(first), p.target, "target", ts)
        return []

    def _end_order(
        self, order: Order, status: OrderStatus, reason: str, ts: int | None
    ) -> list[BrokerEvent]:
        if self.journal is not None:
            self.journal.set_order_status(order.order_id, status, reason, ts)
        self._orders.pop(order.order_id, None)
        self._remember(replace(order, status=status))
        logger.info("order {} {}: {}", order.order_id, status.value, reason)
        if status is OrderStatus.EXPIRED:
            return [OrderExpired(order.order_id, reason, ts or 0)]
        return [OrderCanceled(order.order_id, reason, ts)]

    def cancel_working_orders(self, reason: str) -> list[BrokerEvent]:
        ts = self._last_tick.ts if self._last_tick else None
        events: list[BrokerEvent] = []
        for order in list(self._orders.values()):
            events += self._end_order(order, OrderStatus.CANCELED, reason, ts)
        return events

    def flatten(self, tick: Tick, reason: str) -> list[BrokerEvent]:
        """Cancel working orders and close the position at market."""
        if tick.symbol == self.symbol:
            self._last_tick = tick
        events = self.cancel_working_orders(reason)
        if self._position is not None:
            price = self._exit_market_price(tick)
            touch = tick.bid if self._position.side is Side.LONG else tick.ask
            events += self._close(price, touch, reason, tick.ts)
        return events

    # --- daily loss cap --------------------------------------------------------------------
    def _roll_day(self, ts: int, tick: Tick | None) -> list[BrokerEvent]:
        """On the first event of a new UTC day: new day-start equity, clear the cap pause.

        The day only moves forward: an event stamped in an earlier day (a late or forged
        timestamp) must never bring back an old day's budget and lift the cap."""
        index = ts // DAY_MS
        if index <= self._day_index:
            return []
        day = utc_day(ts)
        self._day_index = index
        if self._pause_reason:
            logger.info("new UTC day {}: daily loss cap pause lifted", day)
        equity, balance = self.equity(tick), self.balance
        if self.journal is not None:
            self.journal.save_risk_day(day, equity, balance, None)
        self._day, self._day_start_equity, self._day_start_balance = day, equity, balance
        self._pause_reason = None
        return []

    def _check_daily_cap(self, ts: int, tick: Tick | None) -> list[BrokerEvent]:
        if self._pause_reason is not None or self._day is None:
            return []
        start = self._day_start_equity
        equity = self.equity(tick)
        loss = start - equity
        limit = self.settings.daily_loss_cap_pct * start
        if loss < limit:
            return []
        reason = (
            f"daily loss cap: equity {equity:.2f} is {loss:.2f} below the day-start "
            f"{start:.2f} (cap {self.settings.daily_loss_cap_pct * 100}%)"
        )
        logger.warning("{}; closing and pausing entries until the next UTC day", reason)
        events: list[BrokerEvent] = []
        close_tick = tick or self._last_tick or self._synthetic_tick(ts)
        if close_tick is not None:
            events += self.flatten(close_tick, "daily_loss_cap")
        else:
            events += self.cancel_working_orders("daily_loss_cap")
        if self.journal is not None:
            self.journal.save_risk_day(self._day, start, self._day_start_balance, reason)
        self._pause_reason = reason
        return [*events, EntriesPaused(reason, ts)]

    def _synthetic_tick(self, ts: int) -> Tick | None:
        if self._last_close is None:
            return None
        c = self._last_close
        return Tick(self.symbol, c, c, Decimal(0), Decimal(0), c, ts)
