"""The one ledger invariant, checked from the journal alone (docs/paper-trading.md):

    balance = starting equity + realised PnL - fees - net funding - liquidation fees

exactly, to the smallest unit, after every journal transaction. :func:`check_ledger` also
checks that each total equals the sum of the rows it summarises (fills, funding settlements),
that closed trades and the open position account for every one of them, that the position's
margin is its initial margin less the funding it paid, and that the balance is not negative.
The broker tests, the crash (SIGKILL) tests and the replay tests all call it; the CLI's
``account show`` reports what it finds.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from laptop_agents.paper.margin import initial_margin
from laptop_agents.storage.journal import Journal


class LedgerInvariantError(AssertionError):
    """The journal's money does not add up: a bug, never a market condition."""


@dataclass(frozen=True, slots=True)
class LedgerTotals:
    starting_equity: Decimal
    realized_pnl: Decimal
    fees: Decimal
    funding: Decimal
    liquidation_fees: Decimal

    @property
    def balance(self) -> Decimal:
        return (self.starting_equity + self.realized_pnl - self.fees - self.funding
                - self.liquidation_fees)


def _require(ok: bool, what: str) -> None:
    if not ok:
        raise LedgerInvariantError(what)


def check_ledger(journal: Journal, balance: Decimal | None = None) -> LedgerTotals:
    """Raise :class:`LedgerInvariantError` unless the journal's money adds up; ``balance``
    (a broker's in-memory balance) must then equal the journal's. An empty journal holds."""
    account = journal.read_account()
    if account is None:
        return LedgerTotals(Decimal(0), Decimal(0), Decimal(0), Decimal(0), Decimal(0))
    fills = journal.fills()
    settlements = journal.funding_events()
    totals = LedgerTotals(account.starting_equity, account.realized_total, account.fees_total,
                          account.funding_total, account.liquidation_fees_total)
    sums = LedgerTotals(account.starting_equity, sum((f.realized_pnl for f in fills), Decimal(0)),
                        sum((f.fee for f in fills), Decimal(0)),
                        sum((s.amount for s in settlements), Decimal(0)),
                        sum((f.liquidation_fee for f in fills), Decimal(0)))
    _require(totals == sums, f"account totals {totals} differ from the rows' sums {sums}")
    # Every fee, settlement and liquidation fee belongs to a closed trade or the open position.
    trades = journal.trades(limit=10**9)
    net = sum((t.realized_pnl for t in trades), Decimal(0))
    for position in journal.positions():
        net -= position.entry_fee + position.funding
        _require(position.margin + position.funding == initial_margin(
            position.qty, position.entry_price, position.leverage),
            f"position margin {position.margin} is not its initial margin less funding "
            f"{position.funding}")
    _require(net == totals.balance - totals.starting_equity,
             f"trades and position net {net}, the balance moved "
             f"{totals.balance - totals.starting_equity}")
    _require(totals.balance >= 0, f"balance {totals.balance} is below zero")
    if balance is not None:
        _require(balance == totals.balance,
                 f"the broker's balance {balance} differs from the journal's {totals.balance}")
    return totals
