"""A backtest's summary statistics, computed from its trades and its equity curve. Pure.

Every formula, and the rule for each undefined case, is in docs/backtesting.md ("Output").
All arithmetic is Decimal under one fixed context (:data:`CONTEXT`), never float: the same
inputs give the same digits on every machine, which ``--json`` (byte-identical output) needs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Context, Decimal, localcontext
from typing import TYPE_CHECKING

from laptop_agents.paper.models import Trade

if TYPE_CHECKING:
    from rich.table import Table

DAY_MS = 86_400_000
# The caller's decimal context may have been changed; ours never is.
CONTEXT = Context(prec=28, rounding=ROUND_HALF_EVEN)
# Ratios and percentages are rounded to 4 places (half-even); money is left exact except
# the average trade, a quotient, rounded to the same 4 places.
PLACES = Decimal("0.0001")
HUNDRED = Decimal(100)
# Crypto trades every day of the year: daily ratios are annualised with sqrt(365).
DAYS_PER_YEAR = 365
JSON_VERSION = 1

EquityPoint = tuple[int, Decimal]  # (ms since the epoch, equity in USDT)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(frozen=True, slots=True)
class Summary:
    """What a backtest made, lost and risked. ``*_pct`` fields are percentages (12.5 = 12.5%);
    None marks a statistic that is undefined for these inputs (see docs/backtesting.md)."""

    start_ms: int
    end_ms: int
    days: int  # UTC calendar days the period touches: the number of daily returns
    starting_equity: Decimal
    ending_equity: Decimal
    net_pnl: Decimal  # ending - starting equity (includes any position still open)
    return_pct: Decimal
    realized_pnl: Decimal  # sum of the closed trades' net PnL
    fees: Decimal
    funding: Decimal  # + = paid
    liquidations: int
    trades: int
    wins: int
    losses: int
    win_rate_pct: Decimal | None
    gross_profit: Decimal
    gross_loss: Decimal  # a positive amount
    profit_factor: Decimal | None
    avg_trade: Decimal | None
    max_drawdown: Decimal  # USDT below the running peak
    max_drawdown_pct: Decimal  # % below the running peak (its own maximum)
    sharpe: Decimal | None
    sortino: Decimal | None
    exposure_pct: Decimal | None


def iso_utc(ms: int) -> str:
    """``ms`` as a fixed-width UTC ISO-8601 time, e.g. ``2024-01-02T03:04:05.678Z``."""
    moment = _EPOCH + timedelta(milliseconds=ms)  # exact: no float seconds
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def plain(value: Decimal) -> str:
    """A Decimal as a plain string: never exponent notation (``0E-8`` becomes ``0.00000000``)."""
    return format(value, "f")


def _round(value: Decimal) -> Decimal:
    return value.quantize(PLACES, context=CONTEXT)


def summarize(trades: Sequence[Trade], equity: Sequence[EquityPoint], *,
              starting_equity: Decimal, start_ms: int, end_ms: int, fees: Decimal,
              funding: Decimal, liquidations: int) -> Summary:
    """The statistics of one backtest over ``[start_ms, end_ms)``.

    ``equity`` is the equity curve, ascending by time (the value before its first point is
    ``starting_equity``); ``fees``, ``funding`` and ``liquidations`` are the engine's totals
    (they include an open position's entry fee, which no closed trade carries yet).
    """
    if end_ms < start_ms:
        raise ValueError(f"end_ms {end_ms} is before start_ms {start_ms}")
    if starting_equity <= 0:
        raise ValueError(f"starting equity must be positive, not {starting_equity}")
    points = sorted(equity, key=lambda p: p[0])  # stable: equal times keep their order
    with localcontext(CONTEXT):
        ending = points[-1][1] if points else starting_equity
        closes = daily_closes(points, starting_equity, start_ms, end_ms)
        returns = daily_returns(closes, starting_equity)
        max_dd, max_dd_pct = max_drawdown(points, starting_equity)
        wins = [t.realized_pnl for t in trades if t.realized_pnl > 0]
        losses = [t.realized_pnl for t in trades if t.realized_pnl < 0]
        gross_profit, gross_loss = sum(wins, Decimal(0)), -sum(losses, Decimal(0))
        realized = sum((t.realized_pnl for t in trades), Decimal(0))
        n = len(trades)
        return Summary(
            start_ms=start_ms, end_ms=end_ms, days=len(closes),
            starting_equity=starting_equity, ending_equity=ending,
            net_pnl=ending - starting_equity,
            return_pct=_round((ending - starting_equity) / starting_equity * HUNDRED),
            realized_pnl=realized, fees=fees, funding=funding, liquidations=liquidations,
            trades=n, wins=len(wins), losses=len(losses),
            win_rate_pct=_round(len(wins) * HUNDRED / n) if n else None,
            gross_profit=gross_profit, gross_loss=gross_loss,
            profit_factor=_round(gross_profit / gross_loss) if gross_loss else None,
            avg_trade=_round(realized / n) if n else None,
            max_drawdown=max_dd, max_drawdown_pct=_round(max_dd_pct),
            sharpe=sharpe_ratio(returns), sortino=sortino_ratio(returns),
            exposure_pct=exposure_pct(trades, start_ms, end_ms),
        )


def daily_closes(equity: Sequence[EquityPoint], starting_equity: Decimal, start_ms: int,
                 end_ms: int) -> list[Decimal]:
    """The equity at the end of each UTC day of ``[start_ms, end_ms)``: the last point before
    the next midnight (the last day also takes a point at ``end_ms`` itself), carried forward
    over days without points. No days when the period is empty."""
    if end_ms <= start_ms:
        return []
    first_day, last_day = start_ms // DAY_MS, (end_ms - 1) // DAY_MS
    closes: list[Decimal] = []
    value, i = starting_equity, 0
    for day in range(first_day, last_day + 1):
        boundary = (day + 1) * DAY_MS if day < last_day else end_ms + 1
        while i < len(equity) and equity[i][0] < boundary:
            value = equity[i][1]
            i += 1
        closes.append(value)
    return closes


def daily_returns(closes: Sequence[Decimal], starting_equity: Decimal) -> list[Decimal]:
    """Simple returns day over day, the first against ``starting_equity``. A day that starts
    at equity <= 0 (a blown account) has no defined return and counts as 0."""
    with localcontext(CONTEXT):
        returns: list[Decimal] = []
        previous = starting_equity
        for close in closes:
            returns.append(close / previous - 1 if previous > 0 else Decimal(0))
            previous = close
        return returns


def _annualised(mean: Decimal, deviation: Decimal) -> Decimal | None:
    if deviation == 0:
        return None
    with localcontext(CONTEXT):
        return _round(mean / deviation * Decimal(DAYS_PER_YEAR).sqrt())


def sharpe_ratio(returns: Sequence[Decimal]) -> Decimal | None:
    """mean / sample standard deviation (n - 1) of the daily returns x sqrt(365); risk-free
    rate 0. None with fewer than 2 days or when every day returned the same."""
    n = len(returns)
    if n < 2:
        return None
    with localcontext(CONTEXT):
        mean = sum(returns, Decimal(0)) / n
        variance = sum(((r - mean) ** 2 for r in returns), Decimal(0)) / (n - 1)
        return _annualised(mean, variance.sqrt())


def sortino_ratio(returns: Sequence[Decimal]) -> Decimal | None:
    """mean / downside deviation of the daily returns x sqrt(365); the downside deviation is
    sqrt(sum(min(r, 0)^2) / n) over all n days (target 0). None with fewer than 2 days or
    without a losing day."""
    n = len(returns)
    if n < 2:
        return None
    with localcontext(CONTEXT):
        mean = sum(returns, Decimal(0)) / n
        downside = sum((min(r, Decimal(0)) ** 2 for r in returns), Decimal(0)) / n
        return _annualised(mean, downside.sqrt())


def drawdown_curve(equity: Sequence[EquityPoint],
                   starting_equity: Decimal) -> list[tuple[int, Decimal, Decimal]]:
    """(time, USDT below the running peak, % below it) at each point; the peak starts at
    ``starting_equity``, so a curve that only falls is in drawdown from its first point."""
    with localcontext(CONTEXT):
        peak = starting_equity
        curve: list[tuple[int, Decimal, Decimal]] = []
        for ts, value in equity:
            peak = max(peak, value)
            below = peak - value
            curve.append((ts, below, below / peak * HUNDRED if peak > 0 else Decimal(0)))
        return curve


def max_drawdown(equity: Sequence[EquityPoint], starting_equity: Decimal) -> tuple[Decimal,
                                                                                  Decimal]:
    """The deepest drawdown in USDT and, separately, in % (they may be different troughs)."""
    curve = drawdown_curve(equity, starting_equity)
    return (max((c[1] for c in curve), default=Decimal(0)),
            max((c[2] for c in curve), default=Decimal(0)))


def exposure_pct(trades: Sequence[Trade], start_ms: int, end_ms: int) -> Decimal | None:
    """% of ``[start_ms, end_ms)`` with a position open: the union of the trades'
    ``[opened_ms, closed_ms)`` clipped to the period (overlaps count once). None for an empty
    period."""
    if end_ms <= start_ms:
        return None
    spans = sorted((max(t.opened_ms, start_ms), min(t.closed_ms, end_ms)) for t in trades)
    covered, reach = 0, start_ms
    for opened, closed in spans:
        opened = max(opened, reach)
        if closed > opened:
            covered += closed - opened
            reach = closed
    with localcontext(CONTEXT):
        return _round(Decimal(covered) * HUNDRED / (end_ms - start_ms))


def summary_dict(summary: Summary) -> dict[str, object]:
    """The summary as JSON-ready values: Decimals as plain strings, None as null, and the
    period's ends also as UTC ISO times."""
    values: dict[str, object] = {"version": JSON_VERSION, "start": iso_utc(summary.start_ms),
                                 "end": iso_utc(summary.end_ms)}
    for field in fields(summary):
        value = getattr(summary, field.name)
        values[field.name] = plain(value) if isinstance(value, Decimal) else value
    return values


def summary_json(summary: Summary) -> bytes:
    """Deterministic JSON: sorted keys, two-space indent, ASCII, one trailing newline."""
    text = json.dumps(summary_dict(summary), sort_keys=True, indent=2, ensure_ascii=True)
    return (text + "\n").encode("ascii")


def _show(value: Decimal | None, suffix: str = "") -> str:
    return "n/a" if value is None else plain(value) + suffix


def summary_rows(summary: Summary) -> list[tuple[str, str]]:
    """(label, value) rows shared by the terminal table and report.html."""
    s = summary
    profit_factor = _show(s.profit_factor)
    if s.profit_factor is None and s.gross_profit > 0:
        profit_factor = "inf (no losing trade)"
    return [
        ("Period", f"{iso_utc(s.start_ms)} → {iso_utc(s.end_ms)} ({s.days} UTC days)"),
        ("Starting equity", plain(s.starting_equity)),
        ("Ending equity", plain(s.ending_equity)),
        ("Net PnL", f"{plain(s.net_pnl)} ({plain(s.return_pct)}%)"),
        ("Realised PnL (closed trades)", plain(s.realized_pnl)),
        ("Fees", plain(s.fees)),
        ("Funding paid", plain(s.funding)),
        ("Trades", f"{s.trades} ({s.wins} won, {s.losses} lost)"),
        ("Win rate", _show(s.win_rate_pct, "%")),
        ("Profit factor", profit_factor),
        ("Average trade", _show(s.avg_trade)),
        ("Max drawdown", f"{plain(s.max_drawdown)} ({plain(s.max_drawdown_pct)}%)"),
        ("Sharpe (daily, annualised)", _show(s.sharpe)),
        ("Sortino (daily, annualised)", _show(s.sortino)),
        ("Exposure", _show(s.exposure_pct, "%")),
        ("Liquidations", str(s.liquidations)),
    ]


def summary_table(summary: Summary, title: str = "Backtest") -> Table:
    """The summary as a two-column rich table."""
    from rich.table import Table  # only the terminal needs rich

    table = Table(title=title, show_header=False)
    table.add_column("statistic", style="bold")
    table.add_column("value", justify="right")
    for label, value in summary_rows(summary):
        table.add_row(label, value)
    return table


__all__ = ["EquityPoint", "Summary", "daily_closes", "daily_returns", "drawdown_curve",
           "exposure_pct", "iso_utc", "max_drawdown", "plain", "sharpe_ratio", "sortino_ratio",
           "summarize", "summary_dict", "summary_json", "summary_rows", "summary_table"]
