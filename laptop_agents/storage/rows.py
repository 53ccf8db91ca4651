"""Rows of the journal as engine values and back: Decimals stored as TEXT, read back exactly.

SQL never does arithmetic on money; these functions are the only place that turns a row into a
value (or a value into the parameters of its INSERT).
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from decimal import Decimal

from laptop_agents.models import Side
from laptop_agents.paper.models import Fill, FundingSettled, Order, OrderStatus, Position, Trade

INSERT_FILL = (
    "INSERT INTO fills (fill_id, order_id, symbol, side, kind, qty, price,"
    " intended_price, slippage, fee, liquidity, realized_pnl, reason, ts, liquidation_fee)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    # A fill already journaled (a replayed step) is refused by its UNIQUE fill_id: no row,
    # rowcount 0. Only that conflict is ignored; any other constraint still raises.
    " ON CONFLICT(fill_id) DO NOTHING"
)
UPSERT_FILLED_ORDER = (
    "INSERT INTO orders (order_id, symbol, side, order_type, qty, price, stop,"
    " target, atr, setup, reason, created_ms, status, updated_ms)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT(order_id) DO UPDATE SET status = excluded.status,"
    " status_reason = 'filled', updated_ms = ?"
)
INSERT_TRADE = (
    "INSERT INTO trades (trade_id, symbol, side, qty, entry_price, exit_price,"
    " opened_ms, closed_ms, gross_pnl, fees, realized_pnl, exit_reason, setup, funding,"
    " liquidation_fee) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
REPLACE_POSITION = (
    "INSERT OR REPLACE INTO positions (symbol, side, qty, entry_price, stop, target,"
    " trailing_stop, opened_ms, entry_order_id, entry_fee, atr, setup, leverage, margin,"
    " funding) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
INSERT_FUNDING = (
    "INSERT OR IGNORE INTO funding (symbol, ts, rate, mark, side, qty, amount, trade_id)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?)"
)
Param = str | int | None


@dataclass(frozen=True, slots=True)
class AccountTotals:
    """The money totals of the account row, written with every transaction that moves them.
    balance = starting equity + realized - fees - funding - liquidation_fees."""

    realized: Decimal  # gross realised PnL of every exit fill
    fees: Decimal  # trading fees
    funding: Decimal  # net funding paid (+ = paid, - = received)
    liquidation_fees: Decimal
    last_exit_ms: int | None


@dataclass(frozen=True, slots=True)
class EquityRow:
    """One equity snapshot. ``balance`` (realised: starting equity + realised PnL - fees -
    funding - liquidation fees), ``unrealized`` and ``funding_paid`` are None on rows written
    before schema version 3, which recorded the equity alone."""

    ts_ms: int
    equity: Decimal
    balance: Decimal | None = None
    unrealized: Decimal | None = None
    funding_paid: Decimal | None = None


@dataclass(frozen=True, slots=True)
class AccountRow:
    starting_equity: Decimal
    realized_total: Decimal  # gross realised PnL of every exit fill
    fees_total: Decimal
    last_exit_ms: int | None
    risk_day: str | None  # UTC date (YYYY-MM-DD) the daily-loss figures belong to
    day_start_equity: Decimal | None
    day_start_balance: Decimal | None
    risk_pause_reason: str | None
    funding_total: Decimal = Decimal(0)
    liquidation_fees_total: Decimal = Decimal(0)

    @property
    def totals(self) -> AccountTotals:
        return AccountTotals(self.realized_total, self.fees_total, self.funding_total,
                             self.liquidation_fees_total, self.last_exit_ms)


def decimal_or_none(value: str | None) -> Decimal | None:
    return None if value is None else Decimal(value)


def text_or_none(value: Decimal | None) -> str | None:
    return None if value is None else str(value)


def order_from_row(row: sqlite3.Row) -> Order:
    return Order(
        order_id=row["order_id"], symbol=row["symbol"], side=Side(row["side"]),
        order_type=row["order_type"], qty=Decimal(row["qty"]), price=Decimal(row["price"]),
        stop=Decimal(row["stop"]), target=Decimal(row["target"]), atr=Decimal(row["atr"]),
        setup=row["setup"], reason=row["reason"], created_ms=row["created_ms"],
        status=OrderStatus(row["status"]),
    )


def fill_from_row(row: sqlite3.Row) -> Fill:
    return Fill(
        fill_id=row["fill_id"], order_id=row["order_id"], symbol=row["symbol"],
        side=row["side"], kind=row["kind"], qty=Decimal(row["qty"]),
        price=Decimal(row["price"]), intended_price=Decimal(row["intended_price"]),
        slippage=Decimal(row["slippage"]), fee=Decimal(row["fee"]),
        liquidity=row["liquidity"], realized_pnl=Decimal(row["realized_pnl"]),
        reason=row["reason"], ts=row["ts"], liquidation_fee=Decimal(row["liquidation_fee"]),
    )


def trade_from_row(row: sqlite3.Row) -> Trade:
    return Trade(
        trade_id=row["trade_id"], symbol=row["symbol"], side=Side(row["side"]),
        qty=Decimal(row["qty"]), entry_price=Decimal(row["entry_price"]),
        exit_price=Decimal(row["exit_price"]), opened_ms=row["opened_ms"],
        closed_ms=row["closed_ms"], gross_pnl=Decimal(row["gross_pnl"]),
        fees=Decimal(row["fees"]), realized_pnl=Decimal(row["realized_pnl"]),
        exit_reason=row["exit_reason"], setup=row["setup"], funding=Decimal(row["funding"]),
        liquidation_fee=Decimal(row["liquidation_fee"]),
    )


def position_from_row(row: sqlite3.Row) -> Position:
    return Position(
        symbol=row["symbol"], side=Side(row["side"]), qty=Decimal(row["qty"]),
        entry_price=Decimal(row["entry_price"]), stop=decimal_or_none(row["stop"]),
        target=decimal_or_none(row["target"]),
        trailing_stop=decimal_or_none(row["trailing_stop"]), opened_ms=row["opened_ms"],
        entry_order_id=row["entry_order_id"], entry_fee=Decimal(row["entry_fee"]),
        atr=Decimal(row["atr"]), setup=row["setup"], leverage=Decimal(row["leverage"]),
        margin=Decimal(row["margin"]), funding=Decimal(row["funding"]),
    )


def order_params(order: Order) -> tuple[Param, ...]:
    return (
        order.order_id, order.symbol, order.side.value, order.order_type, str(order.qty),
        str(order.price), str(order.stop), str(order.target), str(order.atr), order.setup,
        order.reason, order.created_ms, order.status.value, order.created_ms,
    )


def fill_params(fill: Fill) -> tuple[Param, ...]:
    return (
        fill.fill_id, fill.order_id, fill.symbol, fill.side, fill.kind,
        str(fill.qty), str(fill.price), str(fill.intended_price),
        str(fill.slippage), str(fill.fee), fill.liquidity, str(fill.realized_pnl),
        fill.reason, fill.ts, str(fill.liquidation_fee),
    )


def trade_params(trade: Trade) -> tuple[Param, ...]:
    return (
        trade.trade_id, trade.symbol, trade.side.value, str(trade.qty),
        str(trade.entry_price), str(trade.exit_price), trade.opened_ms,
        trade.closed_ms, str(trade.gross_pnl), str(trade.fees),
        str(trade.realized_pnl), trade.exit_reason, trade.setup, str(trade.funding),
        str(trade.liquidation_fee),
    )


def position_params(p: Position) -> tuple[Param, ...]:
    return (
        p.symbol, p.side.value, str(p.qty), str(p.entry_price), text_or_none(p.stop),
        text_or_none(p.target), text_or_none(p.trailing_stop), p.opened_ms, p.entry_order_id,
        str(p.entry_fee), str(p.atr), p.setup, str(p.leverage), str(p.margin), str(p.funding),
    )


def funding_params(f: FundingSettled) -> tuple[Param, ...]:
    return (f.symbol, f.ts, str(f.rate), str(f.mark), f.side.value, str(f.qty), str(f.amount),
            f.trade_id)


def funding_from_row(row: sqlite3.Row) -> FundingSettled:
    return FundingSettled(
        symbol=row["symbol"], ts=row["ts"], rate=Decimal(row["rate"]), mark=Decimal(row["mark"]),
        side=Side(row["side"]), qty=Decimal(row["qty"]), amount=Decimal(row["amount"]),
        trade_id=row["trade_id"],
    )


def account_from_row(row: sqlite3.Row) -> AccountRow:
    return AccountRow(
        starting_equity=Decimal(row["starting_equity"]),
        realized_total=Decimal(row["realized_total"]),
        fees_total=Decimal(row["fees_total"]),
        last_exit_ms=row["last_exit_ms"],
        risk_day=row["risk_day"],
        day_start_equity=decimal_or_none(row["day_start_equity"]),
        day_start_balance=decimal_or_none(row["day_start_balance"]),
        risk_pause_reason=row["risk_pause_reason"],
        funding_total=Decimal(row["funding_total"]),
        liquidation_fees_total=Decimal(row["liquidation_fees_total"]),
    )


def equity_from_row(row: sqlite3.Row) -> EquityRow:
    return EquityRow(
        ts_ms=int(row["ts_ms"]), equity=Decimal(row["equity"]),
        balance=decimal_or_none(row["balance"]), unrealized=decimal_or_none(row["unrealized"]),
        funding_paid=decimal_or_none(row["funding_paid"]),
    )
