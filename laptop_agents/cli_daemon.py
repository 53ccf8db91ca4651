"""The commands that talk to a running daemon over its control API (api/client.py):
`status | positions | trades | candles | equity | flatten | pause | resume`.

Each prints a table by default (rich: colour only on a terminal, never with NO_COLOR set) and
the API's JSON, as it came, with ``--json`` (for jq). Exit codes (docs/api.md, "CLI client"):
0 done, 1 the daemon answered with an error (HTTP 4xx/5xx, e.g. a missing token), 69 no daemon
answers at the URL (one line saying so). ``--symbol`` is passed through as the ``symbol`` query
parameter, and only when given.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from laptop_agents.cli_account import CommandIO
from laptop_agents.cli_tables import (
    candles_table,
    equity_table,
    positions_table,
    print_table,
    status_table,
    symbols_table,
    trades_table,
)
from laptop_agents.errors import EXIT_CLIENT, EXIT_NO_DAEMON

TABLE_POINTS = 30  # `equity` without --json: a screenful, not the API's 500


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    """Every option's default in --help; a help text that already says it is left as it is."""

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        return text if "(default:" in text else str(super()._get_help_string(action))


def _print_status(answer: Any) -> None:
    print_table(status_table(answer))
    per_symbol = symbols_table(answer)
    if per_symbol is not None:
        print_table(per_symbol)


@dataclass(frozen=True)
class Ask:
    """One request of a subcommand and how its answer is shown without --json."""

    method: str
    path: str
    show: Callable[[Any], str | None]  # prints a table (None) or returns a line
    params: dict[str, str | int] = field(default_factory=dict)
    body: dict[str, Any] | None = None


def epoch_ms(text: str) -> int:
    """--since: epoch milliseconds, or an ISO 8601 date or date-time (UTC unless it says)."""
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is neither epoch milliseconds nor an ISO date/date-time") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp() * 1000)


def ask_daemon(args: argparse.Namespace, io: CommandIO, ask: Ask) -> int:
    """One request: the JSON (--json) or the table on stdout and 0; else one line on stderr
    and 1 (the daemon answered with an error) or 69 (no daemon answered)."""
    from laptop_agents.api.client import ClientError, DaemonUnreachable, call

    settings = io.settings(argparse.Namespace())  # --symbol is the API's, not the settings'
    params = dict(ask.params)
    if getattr(args, "symbol", None):
        params["symbol"] = args.symbol
    try:
        answer = call(settings, args.url, ask.method, ask.path, ask.body, params)
    except DaemonUnreachable as error:
        io.complain(f"laptop-agents: {error}")
        return EXIT_NO_DAEMON
    except ClientError as error:
        io.complain(f"laptop-agents: {error}")
        return EXIT_CLIENT
    if args.json:
        import orjson

        io.say(orjson.dumps(answer, option=orjson.OPT_INDENT_2).decode())
        return 0
    line = ask.show(answer)
    if line is not None:
        io.say(line)
    return 0


def _gate(prefix: str) -> Callable[[Any], str]:
    from laptop_agents.api.client import gate_line

    return lambda status: f"{prefix}: {gate_line(status)}"


def _flatten_line(answer: Any) -> str:
    if not answer.get("closed"):
        return f"nothing closed: {answer.get('reason') or 'no open position'}"
    trade = answer.get("trade") or {}
    return (f"closed: {trade.get('side')} {trade.get('qty')} {trade.get('entry_price')} -> "
            f"{trade.get('exit_price')}, pnl {trade.get('realized_pnl')}")


def _asks(args: argparse.Namespace) -> Mapping[str, Callable[[], Ask]]:
    since = {} if getattr(args, "since", None) is None else {"since": args.since}
    return {
        "status": lambda: Ask("GET", "/status", _print_status),
        "positions": lambda: Ask("GET", "/positions",
                                 lambda a: print_table(positions_table(a["positions"]))),
        "trades": lambda: Ask("GET", "/trades", lambda a: print_table(trades_table(a["trades"])),
                              {"limit": args.limit, **since}),
        "candles": lambda: Ask("GET", "/candles",
                               lambda a: print_table(candles_table(a["candles"])),
                               {"limit": args.limit}),
        "equity": lambda: Ask("GET", "/equity", lambda a: print_table(equity_table(a)), {
            **since, **({"points": args.points or TABLE_POINTS} if not args.json else
                        {} if args.points is None else {"points": args.points})}),
        "flatten": lambda: Ask("POST", "/flatten", _flatten_line),
        "pause": lambda: Ask("POST", "/pause", _gate("paused"),
                             body={"reason": args.reason} if args.reason else {}),
        "resume": lambda: Ask("POST", "/resume", _gate("resumed")),
    }


def _run(args: argparse.Namespace, io: CommandIO) -> int:
    return ask_daemon(args, io, _asks(args)[args.command]())


_HELP = {
    "status": "show a running daemon's status (feed, gate, position, equity, tasks)",
    "positions": "show the open position(s)",
    "trades": "show closed trades, newest first",
    "candles": "show the last closed candles, oldest first",
    "equity": "show the equity history (balance, unrealized, funding), downsampled",
    "flatten": "close the open position at market (needs the API token)",
    "pause": "pause new entries (needs the API token; persisted across restarts)",
    "resume": "lift the manual pause (needs the API token)",
}
_SYMBOL = ("positions", "trades", "candles", "flatten", "pause", "resume")


def _add_options(name: str, parser: argparse.ArgumentParser) -> None:
    if name in ("trades", "candles"):
        parser.add_argument("--limit", type=int, default=20, help="how many")
    if name in ("trades", "equity"):
        parser.add_argument("--since", type=epoch_ms, default=None, help=(
            "only from this time on: epoch ms or ISO date/date-time, UTC unless it says "
            "(default: all)"))
    if name == "equity":
        parser.add_argument("--points", type=int, default=None, help=(
            f"at most this many points, 2..5000 (default: {TABLE_POINTS} in a table, the "
            "API's 500 with --json)"))
    if name == "pause":
        parser.add_argument("--reason", default=None,
                            help="shown in the status (default: 'paused by operator')")
    if name in _SYMBOL:
        parser.add_argument("--symbol", default=None, help=(
            "contract, e.g. BTCUSDT, passed as ?symbol= (default: the daemon's)"))


def add_daemon_parsers(sub: Any, io: CommandIO) -> None:
    """The subcommands that talk to a running daemon, in cli.py's subparsers."""
    for name, summary in _HELP.items():
        parser = sub.add_parser(name, help=summary, description=summary, formatter_class=_Help)
        parser.add_argument("--url", default=None, help=(
            "daemon API base URL (default: http://LA_API_HOST:LA_API_PORT, "
            "http://127.0.0.1:8080 unless set)"))
        parser.add_argument("--json", action="store_true",
                            help="print the API's JSON answer as it came (for jq)")
        _add_options(name, parser)
        parser.set_defaults(handler=lambda args: _run(args, io))


__all__ = ["TABLE_POINTS", "Ask", "add_daemon_parsers", "ask_daemon", "epoch_ms"]
