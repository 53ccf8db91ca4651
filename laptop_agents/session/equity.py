"""The equity history: snapshots written to the journal, and GET /equity's downsampled read.

A snapshot holds the equity and its parts: the wallet balance (realised: starting equity +
realised PnL - fees - funding - liquidation fees), the unrealised PnL (equity - balance) and
the net funding paid. The engine writes one every ``LA_POSITION_SYNC_INTERVAL`` (30 s, with
the position sync), after every fill and funding settlement (at the event's exchange time, so a
replay writes the same ones), and at shutdown; the journal prunes those older than 30 days
(EQUITY_RETENTION_MS), so the table stays bounded.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal

from laptop_agents.backtest.downsample import keep_extremes
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.models import BrokerEvent, Fill, FundingSettled, TradeClosed
from laptop_agents.session.views import EquityHistory, EquityPoint
from laptop_agents.storage.journal import Journal
from laptop_agents.storage.rows import EquityRow

DEFAULT_POINTS = 500
MAX_POINTS = 5000
MIN_POINTS = 2  # the first and the last


def record_snapshot(journal: Journal, broker: PaperBroker, equity: Decimal, ts_ms: int) -> None:
    """Write the equity at ``ts_ms`` with its parts."""
    balance = broker.balance
    unrealized = equity - balance
    journal.record_equity(ts_ms, equity, balance=balance,
                          unrealized=unrealized if unrealized else Decimal(0),  # not 0E-8
                          funding_paid=broker.funding_paid)


def money_moved_at(events: Sequence[BrokerEvent]) -> int | None:
    """The exchange time of the last event that moved the balance (a fill, a funding
    settlement, a closed trade), None when none did."""
    moved: int | None = None
    for event in events:
        if isinstance(event, Fill | FundingSettled):
            moved = event.ts
        elif isinstance(event, TradeClosed):
            moved = event.trade.closed_ms
    return moved


def point_view(row: EquityRow) -> EquityPoint:
    return EquityPoint(ts=row.ts_ms, equity=row.equity, balance=row.balance,
                       unrealized=row.unrealized, funding_paid=row.funding_paid)


def equity_history(journal: Journal, since_ms: int, points: int) -> EquityHistory:
    """The snapshots at or after ``since_ms``, at most ``points`` of them: the first, the
    last and each time bucket's lowest and highest equity (backtest/downsample.py)."""
    series = journal.equity_since(since_ms)
    kept = keep_extremes(series, points)
    rows = journal.equity_rows([series[i][0] for i in kept])
    return EquityHistory(recorded=len(series), points=[point_view(r) for r in rows])


__all__ = ["DEFAULT_POINTS", "MAX_POINTS", "MIN_POINTS", "equity_history", "money_moved_at",
           "point_view", "record_snapshot"]
