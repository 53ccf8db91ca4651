"""The control API's answers as rich tables for the daemon commands (cli_daemon.py).

Each function takes the decoded JSON as the API sent it (views in session/views.py; fields a
controller leaves out are shown as "-") and returns a table; :func:`print_table` writes it to
stdout through a rich Console, which uses colour only on a terminal and never with NO_COLOR.
Times are UTC.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from laptop_agents.readable import utc

if TYPE_CHECKING:
    from rich.table import Table

Row = Mapping[str, Any]


def print_table(table: Table) -> None:
    from rich.console import Console

    Console().print(table)


def _new(title: str, columns: Sequence[str] = (), *, header: bool = True) -> Table:
    from rich.table import Table

    table = Table(title=title, title_justify="left", show_header=header)
    for column in columns:
        table.add_column(column, justify="left" if column in _LEFT else "right",
                         overflow="fold")
    return table


_LEFT = frozenset({"time", "closed", "open time", "side", "reason", "setup", ""})


def _text(value: Any) -> str:
    """The value as plain text (square brackets are not rich markup here)."""
    from rich.markup import escape

    return "-" if value is None else escape(str(value))


def _when(ms: Any) -> str:
    return utc(ms)[:-5] if isinstance(ms, int) else "-"  # to the second: a table's resolution


def _signed(value: Any) -> str:
    """Money with its sign coloured: green above zero, red below (rich markup)."""
    try:
        number = Decimal(str(value))
    except (InvalidOperation, ValueError):
        return _text(value)
    colour = "green" if number > 0 else "red" if number < 0 else ""
    return f"[{colour}]{value}[/{colour}]" if colour else str(value)


def _position_line(p: Row | None) -> str:
    if not p:
        return "flat"
    return (f"{p['side']} {p['size']} @ {p['entry']} stop {_text(p.get('stop'))} "
            f"target {_text(p.get('target'))}, unrealized {_signed(p.get('unrealized_pnl'))}")


def _gate_text(gate: Row) -> str:
    if gate.get("trading_allowed"):
        return "[green]trading allowed[/green]"
    details = gate.get("details") or {}
    reasons = [f"{r} ({_text(details[r])})" if r in details else str(r)
               for r in gate["reasons"]]
    return f"[yellow]paused[/yellow]: {', '.join(reasons) or 'no reason given'}"


def status_table(status: Row) -> Table:
    feed, account = status.get("feed") or {}, status.get("account") or {}
    warm, lag = status.get("warmup"), status.get("loop_lag_ms")
    table = _new(f"laptop-agents: {status['mode']} on {status['source']}, {status['symbol']} "
                 f"{status.get('interval', '')}".rstrip(), header=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    rows = [
        ("feed", f"{feed.get('state', '-')}, last tick {_text(feed.get('last_tick_age_s'))} s "
                 f"ago, bid {_text(feed.get('bid'))} ask {_text(feed.get('ask'))}"),
        ("gate", _gate_text(status["gate"])),
        ("position", _position_line(status.get("position"))),
        ("working orders", _text(status.get("working_orders"))),
        ("equity", _text(status["equity"])),
        ("balance", _text(account.get("balance"))),
        ("available", _text(account.get("available"))),
        ("realized today", _signed(status["realized_pnl_today"])),
        ("funding paid", _text(account.get("funding_paid"))),
        ("warm-up", "-" if not warm else f"{warm['candles']}/{warm['needed']} candles"),
        ("loop lag", "-" if not lag else f"{lag['last']} ms (p99 {lag['p99']} ms)"),
        ("uptime", f"{status['uptime_s']} s"),
    ]
    for key, value in rows:
        table.add_row(key, value)
    for name, task in sorted((status.get("tasks") or {}).items()):
        table.add_row(f"task {name}", f"{task['state']} ({task.get('interval', '-')})")
    return table


def symbols_table(status: Row) -> Table | None:
    """Several symbols (LA_SYMBOLS): one row each; None with one symbol."""
    symbols = status.get("symbols") or {}
    if len(symbols) < 2:
        return None
    table = _new("symbols", ("symbol", "feed", "bid", "ask", "gate", "position", "decision"))
    for name, one in symbols.items():
        quote = one.get("last_quote") or {}
        gate = one["gate"]
        table.add_row(name, one["feed"]["state"], _text(quote.get("bid")),
                      _text(quote.get("ask")),
                      "[green]open[/green]" if gate.get("trading_allowed")
                      else f"[yellow]{', '.join(gate['reasons'])}[/yellow]",
                      _position_line(one.get("position")),
                      _text((one.get("strategy") or {}).get("last_reason")))
    return table


def positions_table(positions: Sequence[Row]) -> Table:
    columns = ("symbol", "side", "size", "entry", "stop", "target", "unrealized", "leverage",
               "margin", "liquidation", "funding paid")
    table = _new("open positions" if positions else "open positions: flat", columns)
    for p in positions:
        table.add_row(_text(p.get("symbol")), p["side"], p["size"], p["entry"],
                      _text(p.get("stop")),
                      _text(p.get("target")), _signed(p.get("unrealized_pnl")),
                      _text(p.get("leverage")), _text(p.get("margin")),
                      _text(p.get("liquidation_price")), _text(p.get("funding_paid")))
    return table


def trades_table(trades: Sequence[Row]) -> Table:
    columns = ("closed", "symbol", "side", "qty", "entry", "exit", "pnl", "fees", "reason",
               "setup")
    table = _new(f"closed trades, newest first ({len(trades)}; UTC)", columns)
    for t in trades:
        table.add_row(_when(t.get("closed_ms")), _text(t.get("symbol")), t["side"], t["qty"],
                      t["entry_price"],
                      t["exit_price"], _signed(t["realized_pnl"]), _text(t.get("fees")),
                      _text(t.get("exit_reason")), _text(t.get("setup")))
    return table


def candles_table(candles: Sequence[Row]) -> Table:
    first = candles[0] if candles else {}
    title = f"{first.get('symbol', '')} {first.get('interval', '')} candles, oldest first (UTC)"
    table = _new(title.strip(), ("open time", "open", "high", "low", "close", "volume"))
    for c in candles:
        table.add_row(_when(c["open_time"]), c["open"], c["high"], c["low"], c["close"],
                      c["volume"])
    return table


def equity_table(history: Row) -> Table:
    points = history["points"]
    table = _new(f"equity: {len(points)} of {history['recorded']} snapshots (UTC)",
                 ("time", "equity", "balance", "unrealized", "funding paid"))
    for p in points:
        table.add_row(_when(p["ts"]), p["equity"], _text(p.get("balance")),
                      _signed(p.get("unrealized")), _text(p.get("funding_paid")))
    return table


__all__ = ["candles_table", "equity_table", "positions_table", "print_table", "status_table",
           "trades_table"]
