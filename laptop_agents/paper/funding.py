"""FundingBook: applies funding settlements to the position that was open at their instant.

At each settlement a position open at that instant pays ``qty x mark x rate`` (a long pays a
positive rate, a short receives it; docs/paper-trading.md). The payment comes out of the
position's isolated margin (so its liquidation price moves) and is counted in the account's
funding total, in the position's ``funding`` and, when it closes, in its trade.

Exactly once: a settlement is keyed by (symbol, settlement time) in the journal, so the live
path (the ``price`` channel's last settlement) and the restart path (REST history) can both
offer the same one and only the first is applied. A settlement that arrives after the position
it belongs to has closed (the daemon was slow or down) is charged to that closed trade.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

from loguru import logger

from laptop_agents.models import FundingSettlement, Side
from laptop_agents.paper.ledger import Ledger
from laptop_agents.paper.margin import funding_payment
from laptop_agents.paper.models import BrokerEvent, FundingSettled, Position, Trade
from laptop_agents.readable import money, price, stamp
from laptop_agents.storage.rows import AccountTotals

MEMORY_SETTLEMENTS = 1000  # applied settlement times kept without a journal


class FundingBook:
    def __init__(self, ledger: Ledger) -> None:
        self._ledger = ledger
        self._applied: list[int] = []  # memory-only idempotency (no journal)

    def last_applied_ms(self) -> int | None:
        ledger = self._ledger
        if ledger.journal is not None:
            return ledger.journal.last_funding_ms(ledger.symbol)
        return max(self._applied, default=None)

    def apply(self, settlement: FundingSettlement) -> list[BrokerEvent]:
        ledger = self._ledger
        if settlement.symbol != ledger.symbol:
            return []
        p = ledger.position
        if p is not None and p.opened_ms <= settlement.ts:
            return self._charge_position(settlement)
        trade = self._trade_open_at(settlement.ts)
        if trade is not None:
            return self._charge_trade(settlement, trade)
        return []  # nothing was open at that instant: nothing to pay or receive

    def _trade_open_at(self, ts: int) -> Trade | None:
        ledger = self._ledger
        if ledger.journal is not None:
            return ledger.journal.trade_open_at(ledger.symbol, ts)
        return next((t for t in ledger.memory_trades() if t.opened_ms <= ts < t.closed_ms), None)

    def _settled(self, s: FundingSettlement, side: Side, qty: Decimal,
                 trade_id: str) -> FundingSettled:
        amount = funding_payment(side, qty, s.mark, s.rate)
        return FundingSettled(symbol=s.symbol, ts=s.ts, rate=s.rate, mark=s.mark, side=side,
                              qty=qty, amount=amount, trade_id=trade_id)

    def _record(self, event: FundingSettled, *, position: Position | None, trade: Trade | None,
                totals: AccountTotals) -> bool:
        """Journal first (False: this settlement is already recorded); without a journal,
        the memory-only idempotency."""
        journal = self._ledger.journal
        if journal is not None:
            return journal.apply_funding(event, position=position, trade=trade, totals=totals)
        return self._fresh_in_memory(event.ts)

    def _fresh_in_memory(self, ts: int) -> bool:
        if ts in self._applied:
            return False
        self._applied.append(ts)
        del self._applied[:-MEMORY_SETTLEMENTS]
        return True

    def _charge_position(self, s: FundingSettlement) -> list[BrokerEvent]:
        ledger = self._ledger
        p = ledger.position
        assert p is not None
        event = self._settled(s, p.side, p.qty, p.entry_order_id)
        moved = replace(p, margin=p.margin - event.amount, funding=p.funding + event.amount)
        totals = replace(ledger.totals, funding=ledger.funding + event.amount)
        if not self._record(event, position=moved, trade=None, totals=totals):
            return []
        ledger.totals = totals
        ledger.position = moved
        logger.info("funding at {}: rate {} mark {}: the {} position {} {} (margin now {})",
                    stamp(s.ts), s.rate, price(p.symbol, s.mark), p.side.value,
                    "pays" if event.amount >= 0 else "receives", money(abs(event.amount)),
                    money(moved.margin))
        return [event]

    def _charge_trade(self, s: FundingSettlement, trade: Trade) -> list[BrokerEvent]:
        ledger = self._ledger
        event = self._settled(s, trade.side, trade.qty, trade.trade_id)
        charged = replace(trade, funding=trade.funding + event.amount,
                          realized_pnl=trade.realized_pnl - event.amount)
        totals = replace(ledger.totals, funding=ledger.funding + event.amount)
        if not self._record(event, position=None, trade=charged, totals=totals):
            return []
        if ledger.journal is None:
            ledger.replace_memory_trade(charged)
        ledger.totals = totals
        logger.info("funding at {} charged to the closed trade {}: {}", stamp(s.ts),
                    trade.trade_id, money(event.amount))
        return [event]
