"""OrderIntake: what ``PaperBroker.submit`` does with an entry intent.

In order: put stop, target and a limit price on the tick grid; answer a known client order id
as a duplicate (idempotency); run the risk checks (first failure rejects, codes in
docs/paper-trading.md); then fill a market order or a marketable limit at once through the
ledger, or leave the limit working. The only state here is the recent order times for the
``max_orders_per_minute`` limit.
"""

from __future__ import annotations

from collections import deque
from dataclasses import replace
from decimal import Decimal

from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.models import Instrument, Side, Tick
from laptop_agents.paper.ledger import Ledger
from laptop_agents.paper.margin import initial_margin
from laptop_agents.paper.models import Fill, Order, OrderRejected, OrderResult
from laptop_agents.paper.pricing import fee_of, market_price, marketable
from laptop_agents.paper.risk import DailyRisk
from laptop_agents.storage.journal import Journal
from laptop_agents.strategy.base import OrderIntent
from laptop_agents.strategy.sizing import round_to_tick

MINUTE_MS = 60_000


class OrderIntake:
    def __init__(self, settings: Settings, instrument: Instrument, ledger: Ledger,
                 risk: DailyRisk) -> None:
        self.settings = settings
        self.instrument = instrument
        self._ledger = ledger
        self._risk = risk
        self._order_times: deque[int] = deque(maxlen=settings.max_orders_per_minute)

    def restore(self, journal: Journal) -> None:
        self._order_times.extend(journal.recent_order_times(self.settings.max_orders_per_minute))

    def client_order_id(self, intent: OrderIntent, now_ms: int) -> str:
        """Deterministic: the same intent at the same instant is the same order."""
        return f"{self.instrument.symbol}-{intent.setup}-{intent.side.value}-{now_ms}"

    def submit(self, intent: OrderIntent, tick: Tick | None, now_ms: int,
               client_order_id: str | None) -> OrderResult:
        order_id = client_order_id or self.client_order_id(intent, now_ms)
        intent = self._on_grid(intent)
        known = self._ledger.find_order(order_id)
        if known is not None:
            return OrderResult(
                True, f"duplicate: order {order_id} already recorded ({known.status.value})",
                order_id, code="duplicate", events=[],
            )
        code, reason = self._check(intent, tick, now_ms)
        if code:
            logger.info("order rejected ({}): {}", code, reason)
            rejected = OrderRejected(reason, code, intent.setup, now_ms)
            return OrderResult(False, reason, None, code=code, events=[rejected])

        order = Order(
            order_id=order_id, symbol=self.instrument.symbol, side=intent.side,
            order_type=intent.order_type, qty=intent.qty, price=intent.entry, stop=intent.stop,
            target=intent.target, atr=intent.atr, setup=intent.setup, reason=intent.reason,
            created_ms=now_ms,
        )
        self._order_times.append(now_ms)
        if intent.order_type == "market":
            assert tick is not None  # _check rejects a market order without a quote
            fill_price = self._market_price(intent.side, tick)
            new = self._ledger.open(order, fill_price, intent.entry, "taker", now_ms,
                                    "market entry")
        elif tick is not None and marketable(order, tick):
            touch = tick.ask if order.side is Side.LONG else tick.bid
            new = self._ledger.open(order, touch, order.price, "taker", now_ms,
                                    "marketable limit")
        else:
            self._ledger.rest(order)
            return OrderResult(True, "limit order working", order_id, events=[])
        fills = [e for e in new if isinstance(e, Fill)]
        return OrderResult(True, "filled", order_id, fills=fills, events=new)

    def _market_price(self, side: Side, tick: Tick) -> Decimal:
        return market_price(side, tick, self.settings.slippage_bps, self.instrument.tick_size)

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

    def _check(self, intent: OrderIntent, tick: Tick | None, now_ms: int) -> tuple[str, str]:
        """(code, reason) of the first failed check, or ("", ""). The order of the checks is
        the documented one: state, then the order itself, then the limits."""
        return (self._check_state() or self._check_order(intent, tick)
                or self._check_limits(intent, tick, now_ms) or ("", ""))

    def _check_state(self) -> tuple[str, str] | None:
        """One position per symbol, no pyramiding: nothing paused, open or working."""
        if self._risk.pause_reason:
            return "entries_paused", f"entries paused: {self._risk.pause_reason}"
        position = self._ledger.position
        if position is not None:
            return "position_open", f"a {position.side.value} position is already open"
        if self._ledger.orders:
            return "order_working", "an entry order is already working"
        return None

    def _check_order(self, intent: OrderIntent, tick: Tick | None) -> tuple[str, str] | None:
        s, inst = self.settings, self.instrument
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
        return None

    def _check_limits(self, intent: OrderIntent, tick: Tick | None,
                      now_ms: int) -> tuple[str, str] | None:
        s = self.settings
        recent = [t for t in self._order_times if t > now_ms - MINUTE_MS]
        if len(recent) >= s.max_orders_per_minute:
            return "rate_limit", (
                f"{len(recent)} orders in the last minute (max_orders_per_minute "
                f"{s.max_orders_per_minute})"
            )
        # The caps hold at the price the order would fill at now: a market order's ask/bid
        # plus slippage, a marketable limit's touch, otherwise the limit price.
        price, long = intent.entry, intent.side is Side.LONG
        if intent.order_type == "market" and tick is not None:
            price = self._market_price(intent.side, tick)
        elif tick is not None and (tick.ask <= price if long else tick.bid >= price):
            price = tick.ask if long else tick.bid
        notional = intent.qty * price
        if notional < s.min_notional:
            return "min_notional", f"notional {notional:.2f} below min_notional {s.min_notional}"
        if notional > s.max_notional:
            return "max_notional", f"notional {notional:.2f} exceeds max_notional {s.max_notional}"
        portfolio = self._check_portfolio(notional)
        if portfolio is not None:
            return portfolio
        equity = self._ledger.equity(tick)
        leverage = min(s.max_leverage, Decimal(self.instrument.max_leverage))
        if equity <= 0 or notional > equity * leverage:
            return "max_leverage", (
                f"notional {notional:.2f} exceeds {leverage}x equity {equity:.2f}"
            )
        return self._check_margin(intent, price, tick)

    def _check_portfolio(self, notional: Decimal) -> tuple[str, str] | None:
        """The account-wide limits over every symbol: positions (or entry orders) at once,
        and the notional open and working together."""
        s, wallet = self.settings, self._ledger.wallet
        others = wallet.positions_besides(self._ledger)
        if s.max_open_positions and others >= s.max_open_positions:
            return "max_open_positions", (
                f"{others} symbols already have a position or an entry order "
                f"(max_open_positions {s.max_open_positions})")
        committed = wallet.committed_notional()
        if s.max_total_notional and committed + notional > s.max_total_notional:
            return "max_total_notional", (
                f"notional {notional:.2f} on top of {committed:.2f} open and working exceeds "
                f"max_total_notional {s.max_total_notional}")
        return None

    def _check_margin(self, intent: OrderIntent, price: Decimal,
                      tick: Tick | None) -> tuple[str, str] | None:
        """Isolated margin (notional / leverage) plus the entry fee must fit the available
        balance; a limit priced beyond ``priceProtectScope`` of the mark is refused, as the
        exchange refuses it."""
        s, ledger = self.settings, self._ledger
        rests = intent.order_type == "limit" and (tick is None or not (
            tick.ask <= price if intent.side is Side.LONG else tick.bid >= price))
        fee = fee_of(price, intent.qty, s.maker_fee if rests else s.taker_fee)
        margin = initial_margin(intent.qty, price, s.leverage)
        available = ledger.available
        if margin + fee > available:
            return "insufficient_margin", (
                f"margin {margin:.2f} + fee {fee:.2f} at {s.leverage}x exceeds the available "
                f"balance {available:.2f}")
        if intent.order_type == "limit":
            mark = ledger.last_mark.mark if ledger.last_mark is not None else (
                (tick.bid + tick.ask) / 2 if tick is not None else None)
            scope = self.instrument.price_protect_scope
            if mark is not None and abs(intent.entry - mark) > mark * scope:
                return "price_protect", (
                    f"limit {intent.entry} is more than {scope * 100}% from the mark {mark}")
        return None
