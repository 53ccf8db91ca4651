"""Wallet: the one paper account that every traded symbol's ledger shares.

A daemon trading several symbols has one balance. Each symbol has its own
:class:`~laptop_agents.paper.ledger.Ledger` (its position, its working orders, its fills),
and every ledger books its money into the same :class:`AccountTotals` held here, so the
balance, the margin in use, the equity and the daily loss cap are the whole account's. With
one symbol the wallet holds one ledger and everything reads as it always did.

Only the event loop touches a wallet (as every broker part), so it needs no lock.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Protocol

from laptop_agents.models import Tick
from laptop_agents.paper.models import BrokerEvent, Order, Position
from laptop_agents.storage.rows import AccountTotals

ZERO = Decimal(0)


class Ledger(Protocol):
    """What the wallet (and the account's daily risk, flattening every symbol) use of each
    symbol's ledger (paper/ledger.py)."""

    @property
    def symbol(self) -> str: ...

    @property
    def position(self) -> Position | None: ...

    @property
    def orders(self) -> Mapping[str, Order]: ...

    @property
    def own_margin_used(self) -> Decimal: ...

    @property
    def last_tick(self) -> Tick | None: ...

    @property
    def last_close(self) -> Decimal | None: ...

    def unrealized_pnl(self) -> Decimal: ...

    def flatten(self, tick: Tick, reason: str) -> list[BrokerEvent]: ...

    def cancel_working_orders(self, reason: str) -> list[BrokerEvent]: ...


class Wallet:
    def __init__(self, starting: Decimal) -> None:
        self.starting = starting
        # The money totals, replaced whole by each transaction (journal first, then here).
        self.totals = AccountTotals(ZERO, ZERO, ZERO, ZERO, None)
        self.ledgers: list[Ledger] = []  # one per symbol, in the order they joined
        # Bumped by a ledger whenever its unrealised PnL's inputs change (Ledger._changed):
        # the total over every ledger is summed again only after a change.
        self.changes = 0
        self._total_at = -1
        self._total = ZERO

    def join(self, ledger: Ledger) -> None:
        if any(known.symbol == ledger.symbol for known in self.ledgers):
            raise ValueError(f"{ledger.symbol} already has a ledger in this wallet")
        self.ledgers.append(ledger)

    @property
    def balance(self) -> Decimal:
        """Wallet balance: starting equity + realised PnL - fees - funding - liquidation fees
        (the ledger invariant, docs/paper-trading.md)."""
        t = self.totals
        return self.starting + t.realized - t.fees - t.funding - t.liquidation_fees

    def unrealized_besides(self, ledger: Ledger) -> Decimal:
        """The other symbols' positions marked at their own latest quotes."""
        if len(self.ledgers) == 1:
            return ZERO
        # Exact: the PnLs are Decimals far below the context's 28 digits, so the total less
        # this symbol's is the other symbols' sum.
        return self.unrealized_total() - ledger.unrealized_pnl()

    def unrealized_total(self) -> Decimal:
        """Every position's unrealised PnL at its latest quote (summed again after a change)."""
        if self._total_at != self.changes:
            self._total = sum((ledger.unrealized_pnl() for ledger in self.ledgers), ZERO)
            self._total_at = self.changes
        return self._total

    def equity(self) -> Decimal:
        """Balance plus every position's unrealised PnL at its latest quote."""
        return self.balance + self.unrealized_total()

    def margin_used(self) -> Decimal:
        """Every position's isolated margin plus what every working order holds."""
        return sum((ledger.own_margin_used for ledger in self.ledgers), ZERO)

    def positions_besides(self, ledger: Ledger) -> int:
        """Symbols other than ``ledger``'s with a position open or an entry order working."""
        return sum(1 for other in self.ledgers
                   if other is not ledger and (other.position is not None or other.orders))

    def committed_notional(self) -> Decimal:
        """Notional of every open position (at entry) and every working order (at its limit)."""
        total = ZERO
        for ledger in self.ledgers:
            if ledger.position is not None:
                total += ledger.position.qty * ledger.position.entry_price
            total += sum((o.qty * o.price for o in ledger.orders.values()), ZERO)
        return total


__all__ = ["Wallet"]
