"""Ledger: what the paper broker holds, and the fills that move money.

The ledger owns one symbol's open position and working limit orders, books its fills into the
account's money totals (:class:`AccountTotals`: realised PnL, fees, funding, liquidation fees,
held by the :class:`~laptop_agents.paper.wallet.Wallet` every symbol shares), the orders seen
(idempotency without a journal) and the last market data. Its rule is the broker's invariant:
every change is written to the journal first, in one transaction, and only then applied in
memory; when the journal refuses (a fill already recorded), memory is left as it was.

* :meth:`Ledger.open` fills an entry order and opens the position (with its isolated margin);
* :meth:`Ledger.close` closes the position at a price and books the trade;
* :meth:`Ledger.liquidate` closes it at the bankruptcy price with the liquidation fee.

Funding settlements, the other money movement, are ``funding.py``'s (through the same totals).
Everything else here moves no money: resting or ending an order, moving a stop, flattening
(cancel, then :meth:`close`). Deciding *when* to fill or exit is not the ledger's job (see
``intake.py`` and ``market.py``).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import replace
from decimal import Decimal
from typing import Literal

from loguru import logger

from laptop_agents import readable
from laptop_agents.config import Settings
from laptop_agents.models import Instrument, MarkPrice, Side, Tick
from laptop_agents.paper.margin import (
    bankruptcy_price,
    initial_margin,
    liquidation_fee,
    liquidation_price,
)
from laptop_agents.paper.marks import MarkInputs
from laptop_agents.paper.models import (
    BrokerEvent,
    Fill,
    Order,
    OrderCanceled,
    OrderExpired,
    OrderStatus,
    Position,
    Trade,
    TradeClosed,
)
from laptop_agents.paper.pricing import closing_side, exit_touch, fee_of, market_price
from laptop_agents.paper.wallet import Wallet
from laptop_agents.storage.journal import AccountRow, Journal
from laptop_agents.storage.rows import AccountTotals

MEMORY_TRADES = 1000  # trades (and orders, for idempotency) kept in memory without a journal


class Ledger(MarkInputs):
    def __init__(self, settings: Settings, instrument: Instrument,
                 journal: Journal | None, wallet: Wallet | None = None) -> None:
        self.settings = settings
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.journal = journal
        # The account this symbol trades in: one wallet, whatever the number of symbols.
        self.wallet = wallet or Wallet(settings.starting_equity)
        MarkInputs.__init__(self)
        self.orders: dict[str, Order] = {}  # working limit orders
        self._known_orders: OrderedDict[str, Order] = OrderedDict()  # memory-only idempotency
        self._trades: deque[Trade] = deque(maxlen=MEMORY_TRADES)
        # Memory-only market data (last_tick, last_close: MarkInputs; the engine supplies
        # them again after a restart).
        self.last_mark: MarkPrice | None = None
        self.wallet.join(self)
        self._last_exit_ms: int | None = None  # this symbol's (the cooldown counts from it)

    @property
    def starting(self) -> Decimal:
        return self.wallet.starting

    @property
    def totals(self) -> AccountTotals:
        """The account's money totals, replaced whole by each transaction (journal first)."""
        return self.wallet.totals

    @totals.setter
    def totals(self, totals: AccountTotals) -> None:
        self.wallet.totals = totals

    def restore(self, account: AccountRow, journal: Journal) -> None:
        """The totals from the account row, then the position and working orders."""
        self.wallet.starting = account.starting_equity
        self.totals = account.totals
        self._last_exit_ms = journal.last_exit_ms(self.symbol)
        self.position = journal.load_position(self.symbol)
        if self.position is not None and self.position.margin == 0 == self.position.funding:
            # Opened before the account had margins (schema 1): margin at today's leverage.
            p, lev = self.position, self.settings.leverage
            self.position = replace(p, leverage=lev,
                                    margin=initial_margin(p.qty, p.entry_price, lev))
            journal.update_position(self.position)
        self.orders = {o.order_id: o for o in journal.working_orders(self.symbol)}

    # --- read side -------------------------------------------------------------------------
    @property
    def balance(self) -> Decimal:
        """Wallet balance: starting equity + realised PnL - fees - funding - liquidation fees
        (the ledger invariant, docs/paper-trading.md)."""
        return self.wallet.balance

    # The totals one by one (gross realised PnL, trading fees, net funding paid: + = paid).
    @property
    def realized(self) -> Decimal:
        return self.totals.realized

    @property
    def fees(self) -> Decimal:
        return self.totals.fees

    @property
    def funding(self) -> Decimal:
        return self.totals.funding

    @property
    def liquidation_fees(self) -> Decimal:
        return self.totals.liquidation_fees

    @property
    def last_exit_ms(self) -> int | None:
        """This symbol's last exit (the account's is ``totals.last_exit_ms``)."""
        return self._last_exit_ms

    @property
    def order_margin(self) -> Decimal:
        """Margin held for working limit orders (their notional / leverage)."""
        lev = self.settings.leverage
        return sum((initial_margin(o.qty, o.price, lev) for o in self.orders.values()),
                   Decimal(0))

    @property
    def own_margin_used(self) -> Decimal:
        """This symbol's position margin plus what its working orders hold."""
        held = self.position.margin if self.position is not None else Decimal(0)
        return held + self.order_margin

    @property
    def margin_used(self) -> Decimal:
        """Every symbol's margins in use: isolated margin is taken from the one balance."""
        return self.wallet.margin_used()

    @property
    def available(self) -> Decimal:
        """Balance free for a new entry: the balance less every margin in use."""
        return self.balance - self.margin_used

    def liquidation_price(self) -> Decimal | None:
        if self.position is None:
            return None
        return liquidation_price(self.position, self.settings.maintenance_margin_rate,
                                 self.instrument.tick_size)

    def _exit_price_now(self, tick: Tick | None) -> Decimal | None:
        """The executable closing price of the position: bid for a long, ask for a short."""
        if self.position is None:
            return None
        tick = tick or self.last_tick
        if tick is not None:
            return exit_touch(self.position.side, tick)
        return self.last_close if self.last_close is not None else self.position.entry_price

    def unrealized_pnl(self, tick: Tick | None = None) -> Decimal:
        """Mark-to-market of the position at the executable side (no exit fee, no slippage).
        Without ``tick``: the last tick seen, else the last candle close, else 0."""
        memo = tick is None or tick is self._last_tick
        if memo and self._upnl_at == self._changes:
            return self._upnl
        price = self._exit_price_now(tick)
        value = Decimal(0) if self.position is None or price is None \
            else self.position.unrealized_pnl(price)
        if memo:
            self._upnl, self._upnl_at = value, self._changes
        return value

    def equity(self, tick: Tick | None = None) -> Decimal:
        """The account's equity: the balance, this symbol's position at ``tick`` (else its
        latest quote) and every other symbol's at its own latest quote."""
        return self.balance + self.unrealized_pnl(tick) + self.wallet.unrealized_besides(self)

    def trades(self, limit: int = 100, since_ms: int | None = None) -> list[Trade]:
        """Closed trades, newest first (from the journal when there is one)."""
        if self.journal is not None:
            return self.journal.trades(limit, since_ms)
        found = [t for t in reversed(self._trades) if since_ms is None or t.closed_ms >= since_ms]
        return found[: max(0, limit)]

    def memory_trades(self) -> list[Trade]:
        """Closed trades kept in memory (only without a journal), oldest first."""
        return list(self._trades)

    def replace_memory_trade(self, trade: Trade) -> None:
        for i, known in enumerate(self._trades):
            if known.trade_id == trade.trade_id:
                self._trades[i] = trade

    def find_order(self, order_id: str) -> Order | None:
        """Any order recorded under ``order_id``: working, or in the journal / memory."""
        if order_id in self.orders:
            return self.orders[order_id]
        if self.journal is not None:
            return self.journal.get_order(order_id)
        return self._known_orders.get(order_id)

    def exit_market_price(self, tick: Tick) -> Decimal:
        """The market price that closes the position now (slippage included)."""
        assert self.position is not None
        return market_price(closing_side(self.position.side), tick,
                            self.settings.slippage_bps, self.instrument.tick_size)

    # --- changes that move no money --------------------------------------------------------
    def _remember(self, order: Order) -> None:
        if self.journal is None:
            self._known_orders[order.order_id] = order
            while len(self._known_orders) > MEMORY_TRADES:
                self._known_orders.popitem(last=False)

    def rest(self, order: Order) -> None:
        """A limit order that did not fill on arrival starts working."""
        if self.journal is not None:
            self.journal.insert_order(order)
        self._remember(order)
        self.orders[order.order_id] = order
        logger.info("limit order working: {} {} {} @ {}", order.order_id, order.side.value,
                    readable.qty(order.symbol, order.qty),
                    readable.price(order.symbol, order.price))

    def end_order(
        self, order: Order, status: OrderStatus, reason: str, ts: int | None
    ) -> list[BrokerEvent]:
        """A working order expires or is canceled."""
        if self.journal is not None:
            self.journal.set_order_status(order.order_id, status, reason, ts)
        self.orders.pop(order.order_id, None)
        self._remember(replace(order, status=status))
        logger.info("order {} {}: {}", order.order_id, status.value, reason)
        if status is OrderStatus.EXPIRED:
            return [OrderExpired(order.order_id, reason, ts or 0)]
        return [OrderCanceled(order.order_id, reason, ts)]

    def move_position(self, moved: Position) -> None:
        """The same position with another (trailing) stop."""
        if self.journal is not None:
            self.journal.update_position(moved)
        self.position = moved

    def cancel_working_orders(self, reason: str) -> list[BrokerEvent]:
        ts = self.last_tick.ts if self.last_tick else None
        events: list[BrokerEvent] = []
        for order in list(self.orders.values()):
            events += self.end_order(order, OrderStatus.CANCELED, reason, ts)
        return events

    def flatten(self, tick: Tick, reason: str) -> list[BrokerEvent]:
        """Cancel working orders and close the position at market."""
        if tick.symbol == self.symbol:
            self.last_tick = tick
        events = self.cancel_working_orders(reason)
        if self.position is not None:
            price = self.exit_market_price(tick)
            events += self.close(price, exit_touch(self.position.side, tick), reason, tick.ts)
        return events

    # --- the two money-moving transitions --------------------------------------------------
    def open(
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
            leverage=s.leverage, margin=initial_margin(order.qty, price, s.leverage),
        )
        filled = replace(order, status=OrderStatus.FILLED)
        totals = replace(self.totals, fees=self.fees + fee)
        if self.journal is not None and not self.journal.apply_fill(
            fill, order=filled, position=position, trade=None, totals=totals,
        ):
            logger.warning("fill {} already journaled; not applied twice", fill.fill_id)
            return []
        self._remember(filled)
        self.orders.pop(order.order_id, None)
        self.totals = totals
        self.position = position
        # No log line here: the fill is reported (logged, published) from the events returned,
        # after the commit, off the path from the tick to the durable fill.
        return [fill]

    def close(
        self, price: Decimal, intended: Decimal, reason: str, ts: int
    ) -> list[BrokerEvent]:
        """Close the position at ``price`` (taker). A price beyond the bankruptcy price would
        lose more than the position's margin: the exchange's liquidation engine takes such a
        position first, so it settles as a liquidation instead."""
        p = self.position
        assert p is not None
        bankrupt = bankruptcy_price(p)
        if price <= bankrupt if p.side is Side.LONG else price >= bankrupt:
            return self.liquidate(ts, f"{reason} beyond the bankruptcy price")
        return self._close(price, intended, reason, ts, self.settings.taker_fee, liquidation=False)

    def liquidate(self, ts: int, why: str) -> list[BrokerEvent]:
        """Liquidation: closed at the bankruptcy price with the liquidation fee (no trading
        fee); the whole isolated margin is lost and nothing more."""
        p = self.position
        assert p is not None
        logger.warning("LIQUIDATION of the {} {} {} at {} ({}): margin {} lost", p.side.value,
                       readable.qty(p.symbol, p.qty), p.symbol, readable.utc(ts), why,
                       readable.money(p.margin))
        at = bankruptcy_price(p)
        return self._close(at, at, "liquidation", ts, Decimal(0), liquidation=True)

    def _close(self, price: Decimal, intended: Decimal, reason: str, ts: int, fee_rate: Decimal,
               *, liquidation: bool) -> list[BrokerEvent]:
        p = self.position
        assert p is not None
        long = p.side is Side.LONG
        fee = fee_of(price, p.qty, fee_rate)
        gross = p.unrealized_pnl(price)
        liq_fee = Decimal(0)
        if liquidation:
            liq_fee = liquidation_fee(p.qty, price, self.settings.liquidation_fee_rate,
                                      self.balance + gross - fee)
        fill = Fill(
            fill_id=f"{p.entry_order_id}:exit", order_id=f"{p.entry_order_id}:exit",
            symbol=self.symbol, side="sell" if long else "buy", kind="exit", qty=p.qty,
            price=price, intended_price=intended,
            slippage=(intended - price) if long else (price - intended), fee=fee,
            liquidity="taker", realized_pnl=gross, reason=reason, ts=ts,
            liquidation_fee=liq_fee,
        )
        trade = Trade(
            trade_id=p.entry_order_id, symbol=self.symbol, side=p.side, qty=p.qty,
            entry_price=p.entry_price, exit_price=price, opened_ms=p.opened_ms, closed_ms=ts,
            gross_pnl=gross, fees=p.entry_fee + fee,
            realized_pnl=gross - p.entry_fee - fee - p.funding - liq_fee,
            exit_reason=reason, setup=p.setup, funding=p.funding, liquidation_fee=liq_fee,
        )
        totals = replace(self.totals, realized=self.realized + gross, fees=self.fees + fee,
                             liquidation_fees=self.liquidation_fees + liq_fee, last_exit_ms=ts)
        if self.journal is not None and not self.journal.apply_fill(
            fill, order=None, position=None, trade=trade, totals=totals,
        ):
            logger.warning("fill {} already journaled; not applied twice", fill.fill_id)
            return []
        self.totals = totals
        self.position = None
        self._last_exit_ms = ts
        if self.journal is None:
            self._trades.append(trade)
        return [fill, TradeClosed(trade)]  # reported (logged, published) by the caller
