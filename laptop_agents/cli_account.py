"""The `account` and `strategies` subcommands: their parsers, and tables (rich, which honours
NO_COLOR and a stdout that is not a terminal) or JSON. Command output goes through the
callbacks cli.py hands over, so print() stays in cli.py."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class CommandIO:
    settings: Callable[..., Any]
    say: Callable[[str], None]
    complain: Callable[[str], None]


def _account_table(summary: dict[str, Any]) -> None:
    """The account as a two-column table (rich honours NO_COLOR and a non-terminal stdout)."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"paper account ({summary['source']})", show_header=False)
    table.add_column(style="bold")
    table.add_column(justify="right", overflow="fold")
    for key in ("starting_equity", "balance", "equity", "realized_pnl", "fees_paid",
                "funding_paid", "liquidation_fees", "margin_used", "available", "trades",
                "working_orders"):
        table.add_row(key.replace("_", " "), str(summary[key]))
    for position in summary["positions"]:
        table.add_row("position", str(position["description"]))
    if not summary["positions"]:
        table.add_row("position", "flat")
    table.add_row("journal", str(summary["journal"]) + ("" if summary["exists"] else
                                                         " (not created yet)"))
    Console().print(table)


def _cmd_account(args: argparse.Namespace, io: CommandIO) -> int:
    settings = io.settings(args)
    from decimal import Decimal, InvalidOperation

    from laptop_agents.account import account_summary, reset_account

    if args.action == "show":
        summary = account_summary(settings)
        if args.json:
            import orjson

            io.say(orjson.dumps(summary, option=orjson.OPT_INDENT_2).decode())
        else:
            _account_table(summary)
        return 0
    try:
        equity = None if args.starting_equity is None else Decimal(args.starting_equity)
    except InvalidOperation:
        io.complain(f"invalid --starting-equity {args.starting_equity!r}: not a number")
        return 64
    archive, equity = reset_account(settings, equity)
    kept = f"the old journal is kept as {archive}" if archive else "there was no journal yet"
    io.say(f"account reset: starting equity {equity}; {kept}")
    return 0


def _strategy_tables(infos: list[Any]) -> None:
    """One table per strategy: its parameters with type, default and meaning."""
    from rich.console import Console
    from rich.table import Table

    console = Console()
    for info in infos:
        warmup = "" if info.warmup is None else f" (warm-up: {info.warmup} closed candles)"
        table = Table(title=f"{info.spec}: {info.summary}{warmup}", title_justify="left")
        for column in ("parameter", "type", "default", "description"):
            table.add_column(column, overflow="fold")
        for p in info.params:
            table.add_row(p.name, p.type, p.default, p.description)
        if not info.params:
            table.add_row("(none)", "", "", "")
        console.print(table)


def _cmd_strategies(args: argparse.Namespace, io: CommandIO) -> int:
    settings = io.settings(args)
    from dataclasses import asdict

    from laptop_agents.strategy.loader import available_builtins, describe

    infos = [describe(spec, settings) for spec in (args.spec or list(available_builtins()))]
    if args.json:
        import orjson

        io.say(orjson.dumps([asdict(i) for i in infos], option=orjson.OPT_INDENT_2).decode())
    else:
        _strategy_tables(infos)
    return 0


def add_account_and_strategy_parsers(sub: Any, settings: Callable[..., Any],
                                     say: Callable[[str], None],
                                     complain: Callable[[str], None]) -> None:
    io = CommandIO(settings, say, complain)
    account = sub.add_parser("account", help="show or reset the paper account (no daemon needed)")
    account.add_argument("action", choices=["show", "reset"])
    account.add_argument("--source", choices=["sim", "bitunix"], help="whose journal")
    account.add_argument("--json", action="store_true", help="the same as JSON data")
    account.add_argument("--starting-equity", help="reset: the new account's USDT balance")
    account.set_defaults(handler=lambda args: _cmd_account(args, io))

    strategies = sub.add_parser("strategies", help="list the strategies and their parameters")
    strategies.add_argument("spec", nargs="*",
                            help="describe these instead (a built-in, module:Class, file.py:Class)")
    strategies.add_argument("--json", action="store_true", help="the same as JSON data")
    strategies.set_defaults(handler=lambda args: _cmd_strategies(args, io))
