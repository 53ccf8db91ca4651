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

The broker is the public face; each job is a small collaborator it composes:

* ``ledger.py`` — :class:`Ledger`: the position, working orders and cash, and the only two
  transitions that move money (open, close);
* ``intake.py`` — :class:`OrderIntake`: ``submit``: tick grid, idempotency, risk checks;
* ``market.py`` — :class:`MarketEvents`: what ticks and closed candles do (limit fills, exits,
  trailing stop, expiry);
* ``risk.py`` — :class:`DailyRisk`: the UTC risk day (only moves forward) and the loss cap;
* ``pricing.py``: pure fee and fill-price arithmetic.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.models import Candle, FundingSettlement, Instrument, MarkPrice, Tick
from laptop_agents.paper.funding import FundingBook
from laptop_agents.paper.intake import OrderIntake
from laptop_agents.paper.ledger import Ledger
from laptop_agents.paper.market import MarketEvents
from laptop_agents.paper.models import BrokerEvent, Order, OrderResult, Position, Trade
from laptop_agents.paper.risk import DAY_MS, DailyRisk
from laptop_agents.paper.wallet import Wallet
from laptop_agents.readable import register_steps
from laptop_agents.storage.journal import Journal
from laptop_agents.strategy.base import OrderIntent, PositionView


class PaperBroker:
    def __init__(
        self,
        settings: Settings,
        instrument: Instrument,
        journal: Journal | None = None,
        *,
        clock_speed: float | Callable[[], float] = 1.0,
        account: PaperBroker | None = None,
    ) -> None:
        """``clock_speed``: exchange ms per wall ms (1 for the real exchange, ~20 for the
        default simulator), or a function giving the current estimate. Quote freshness is
        judged in exchange time, so ``stale_after`` (wall seconds) is scaled by it.

        ``account``: another symbol's broker whose account (wallet, daily risk, journal) this
        one trades in; None: a new account (the one-symbol case)."""
        self.settings = settings
        # log lines show its prices and sizes at the contract's precision (readable.py)
        register_steps(instrument.symbol, instrument.tick_size, instrument.lot_step)
        speed: Callable[[], float] = (
            clock_speed if callable(clock_speed) else (lambda: float(clock_speed))
        )
        self.instrument = instrument
        self.symbol = instrument.symbol
        self.journal = journal
        self._ledger: Ledger = Ledger(settings, instrument, journal,
                                      account.wallet if account is not None else None)
        self._risk: DailyRisk = (account.daily_risk if account is not None
                                 else DailyRisk(settings, self._ledger, journal))
        self._intake = OrderIntake(settings, instrument, self._ledger, self._risk)
        self._market = MarketEvents(settings, instrument, self._ledger, speed)
        self._funding = FundingBook(self._ledger)
        if journal is not None:
            self._rebuild(journal)

    def _rebuild(self, journal: Journal) -> None:
        account = journal.load_account(self.settings.starting_equity)
        self._ledger.restore(account, journal)
        self._risk.restore(account)  # shared by the account's symbols: the same row each time
        self._intake.restore(journal)
        ledger = self._ledger
        if ledger.position or ledger.orders or ledger.realized or ledger.fees:
            logger.info(
                "broker rebuilt from {}: position={} working_orders={} balance={}",
                journal.path, ledger.position, len(ledger.orders), self.balance,
            )

    # --- read side -------------------------------------------------------------------------
    @property
    def wallet(self) -> Wallet:
        """The account this symbol trades in (shared by every symbol of the daemon)."""
        return self._ledger.wallet

    @property
    def daily_risk(self) -> DailyRisk:
        """The account's risk day and loss cap (shared by every symbol of the account)."""
        return self._risk

    @property
    def position(self) -> Position | None:
        return self._ledger.position

    @property
    def working_orders(self) -> list[Order]:
        return list(self._ledger.orders.values())

    @property
    def starting_equity(self) -> Decimal:
        return self._ledger.starting

    @property
    def balance(self) -> Decimal:
        """Wallet balance: starting equity + realised PnL - fees - funding - liquidation fees."""
        return self._ledger.balance

    @property
    def funding_paid(self) -> Decimal:
        """Net funding paid since the journal began (negative: received)."""
        return self._ledger.funding

    @property
    def liquidation_fees(self) -> Decimal:
        return self._ledger.liquidation_fees

    @property
    def margin_used(self) -> Decimal:
        return self._ledger.margin_used

    @property
    def available(self) -> Decimal:
        """Balance free for a new entry (balance less the margins in use)."""
        return self._ledger.available

    @property
    def last_mark(self) -> MarkPrice | None:
        return self._ledger.last_mark

    def liquidation_price(self) -> Decimal | None:
        return self._ledger.liquidation_price()

    def exposed_at(self, ts: int) -> bool:
        """Whether a position of this account was open at instant ``ts``."""
        p = self._ledger.position
        if p is not None and p.opened_ms <= ts:
            return True
        if self.journal is not None:
            return self.journal.trade_open_at(self.symbol, ts) is not None
        return any(t.opened_ms <= ts < t.closed_ms for t in self._ledger.memory_trades())

    def last_funding_ms(self) -> int | None:
        """The newest settlement applied (None: none yet)."""
        return self._funding.last_applied_ms()

    @property
    def realized_pnl(self) -> Decimal:
        """Gross realised PnL since the journal began (fees not deducted)."""
        return self._ledger.realized

    @property
    def fees_paid(self) -> Decimal:
        return self._ledger.fees

    @property
    def realized_pnl_today(self) -> Decimal:
        """Change of the balance since the UTC day began: realised PnL minus fees today."""
        return self.balance - self._risk.day_start_balance

    @property
    def day_start_equity(self) -> Decimal:
        return self._risk.day_start_equity

    @property
    def entries_paused_reason(self) -> str | None:
        """Set while the daily loss cap holds entries; cleared on the next UTC day."""
        return self._risk.pause_reason

    @property
    def last_exit_ms(self) -> int | None:
        return self._ledger.last_exit_ms

    @property
    def last_tick(self) -> Tick | None:
        return self._ledger.last_tick

    def unrealized_pnl(self, tick: Tick | None = None) -> Decimal:
        """Mark-to-market of the position at the executable side (no exit fee, no slippage).
        Without ``tick``: the last tick seen, else the last candle close, else 0."""
        return self._ledger.unrealized_pnl(tick)

    def equity(self, tick: Tick | None = None) -> Decimal:
        return self._ledger.equity(tick)

    def position_view(self) -> PositionView | None:
        p = self._ledger.position
        if p is None:
            return None
        return PositionView(p.side, p.qty, p.entry_price, p.effective_stop(), p.target)

    def trades(self, limit: int = 100, since_ms: int | None = None) -> list[Trade]:
        """Closed trades, newest first (from the journal when there is one)."""
        return self._ledger.trades(limit, since_ms)

    def observe(self, tick: Tick | None = None, candle: Candle | None = None) -> None:
        """Record market data WITHOUT evaluating orders or exits: e.g. the warm-up candles at
        start-up, so ``equity()`` has a mark before the first tick arrives."""
        if tick is not None and tick.symbol == self.symbol:
            self._ledger.last_tick = tick
        if candle is not None and candle.symbol == self.symbol and candle.closed:
            self._ledger.last_close = candle.close

    # --- orders ----------------------------------------------------------------------------
    def client_order_id(self, intent: OrderIntent, now_ms: int) -> str:
        """Deterministic: the same intent at the same instant is the same order."""
        return self._intake.client_order_id(intent, now_ms)

    def submit(
        self,
        intent: OrderIntent,
        tick: Tick | None,
        now_ms: int,
        client_order_id: str | None = None,
    ) -> OrderResult:
        """Validate ``intent`` against the risk limits and place it; see docs for the codes."""
        if tick is not None and tick.symbol == self.symbol:
            self._ledger.last_tick = tick
        self._risk.roll(now_ms, tick, self._ledger)
        return self._intake.submit(intent, tick, now_ms, client_order_id)

    def cancel_working_orders(self, reason: str) -> list[BrokerEvent]:
        return self._ledger.cancel_working_orders(reason)

    def flatten(self, tick: Tick, reason: str) -> list[BrokerEvent]:
        """Cancel working orders and close the position at market."""
        return self._ledger.flatten(tick, reason)

    # --- market events ---------------------------------------------------------------------
    def on_tick(self, tick: Tick) -> list[BrokerEvent]:
        """Limit fills, then stop / trailing / target exits, then the daily loss cap."""
        if tick.symbol != self.symbol:
            return []
        ledger = self._ledger
        ledger.last_tick = tick
        if tick.ts // DAY_MS > self._risk.day_index:  # roll()'s own test, without the call
            self._risk.roll(tick.ts, tick, ledger)
        if ledger.position is None and not ledger.orders:
            # Flat with nothing working (most ticks): no fill, no exit, and equity is the
            # balance, which only a fill moves, so the cap cannot have been newly reached.
            return []
        events = self._market.on_tick(tick)
        if not events and ledger.position is None:
            return events  # working orders, none filled: still flat, as above
        return events + self._risk.check_cap(tick.ts, tick, ledger)

    def on_mark(self, mark: MarkPrice) -> list[BrokerEvent]:
        """An accepted mark price: liquidation, and stops/targets when they trigger on mark."""
        if mark.symbol != self.symbol:
            return []
        events = self._market.on_mark(mark)
        if not events:
            return events
        return events + self._risk.check_cap(mark.ts, self._ledger.last_tick, self._ledger)

    def apply_funding(self, settlement: FundingSettlement) -> list[BrokerEvent]:
        """One settlement, exactly once; then liquidation if the margin it took was the last."""
        events = self._funding.apply(settlement)
        mark = self._ledger.last_mark
        if events and mark is not None:
            events += self._market.check_liquidation(mark.mark, max(mark.ts, settlement.ts))
        return events

    def on_candle(self, candle: Candle) -> list[BrokerEvent]:
        """Range fills and exits when no quote is fresh, limit expiry, trailing update, then
        the daily loss cap."""
        if candle.symbol != self.symbol or not candle.closed:
            return []
        ts = candle.close_time
        self._ledger.last_close = candle.close  # before the roll: the day-start mark uses it
        self._risk.roll(ts, None, self._ledger)
        events = self._market.on_candle(candle)
        return events + self._risk.check_cap(ts, None, self._ledger)
