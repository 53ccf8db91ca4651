"""The `backtest` subcommand: its parser and its handler (docs/backtesting.md). Output goes
through the callbacks cli.py hands over, so print() stays in cli.py.

Exit codes: 0 done; 1 the history could not be fetched, or the range holds no candles;
64 a bad argument (date, range, interval); 70 the journal's ledger does not add up (a bug);
78 a bad strategy or parameters (the loader's ConfigError, raised through cli.py).
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from laptop_agents.cli_account import CommandIO

EXIT_FAILED = 1
EXIT_USAGE = 64  # EX_USAGE
EXIT_LEDGER = 70  # EX_SOFTWARE: the one invariant broke


def _span(args: argparse.Namespace, io: CommandIO) -> tuple[int, int] | None:
    from laptop_agents.data.history.run import parse_when
    from laptop_agents.models import WS_TO_REST_INTERVAL

    if args.start is None or args.end is None:
        io.complain("backtest: --from and --to are required")
        return None
    if args.interval not in WS_TO_REST_INTERVAL:
        io.complain(f"backtest: no stored {args.interval} candles; one of "
                    + ", ".join(WS_TO_REST_INTERVAL))
        return None
    try:
        start, end = parse_when(args.start), parse_when(args.end)
    except ValueError as error:
        io.complain(f"backtest: {error}")
        return None
    if start >= end:
        io.complain("backtest: --from must be before --to")
        return None
    return start, end


def _load(settings: Any, args: argparse.Namespace, span: tuple[int, int], warmup: int,
          io: CommandIO) -> Any:
    import aiohttp

    from laptop_agents.backtest.source import Request, load
    from laptop_agents.data.providers.bitunix_protocol import BitunixApiError

    request = Request(settings.symbol, args.interval, span[0], span[1], warmup)
    try:
        data = asyncio.run(load(settings, request))
    except (BitunixApiError, aiohttp.ClientError, TimeoutError) as error:
        io.complain(f"backtest: fetching the history failed ({error or type(error).__name__});"
                    " what was fetched is stored, run it again to resume")
        return None
    if not data.candles:
        io.complain("backtest: the source has no candles in the range")
        return None
    return data


def _cmd_backtest(args: argparse.Namespace, io: CommandIO) -> int:
    span = _span(args, io)
    if span is None:
        return EXIT_USAGE
    settings = io.settings(args, interval=args.interval, log_level=args.log_level,
                           log_file=None)
    from laptop_agents.strategy.loader import load_strategy

    strategy = load_strategy(settings)  # a bad plug-in or bad params: ConfigError (78)
    from laptop_agents.backtest.output import default_output, dumps
    from laptop_agents.backtest.run import backtest
    from laptop_agents.logging_setup import setup_logging
    from laptop_agents.paper.invariant import LedgerInvariantError

    setup_logging(settings)
    warmup = max(settings.history_candles, strategy.warmup)
    data = _load(settings, args, span, warmup, io)
    if data is None:
        return EXIT_FAILED
    directory = args.data_dir or Path(tempfile.mkdtemp(prefix="laptop-agents-backtest-"))
    try:
        result = backtest(settings, strategy, data, directory)
    except LedgerInvariantError as error:
        io.complain(f"backtest: LEDGER INVARIANT BROKEN: {error} (journal in {directory})")
        return EXIT_LEDGER
    output = default_output()
    if args.json:
        io.say(dumps(output.summary(result)).decode("ascii").rstrip("\n"))
    else:
        output.table(result, io.say)
    if args.report is not None:
        output.write_report(result, args.report)
        if not args.json:
            io.say(f"report written to {args.report}")
    return 0


def add_backtest_parser(sub: Any, settings: Callable[..., Any], say: Callable[[str], None],
                        complain: Callable[[str], None]) -> None:
    io = CommandIO(settings, say, complain)
    p = sub.add_parser("backtest", help="run the engine over stored candles "
                       "(docs/backtesting.md)")
    p.add_argument("--strategy", help="built-in name, package.module:Class or file.py:Class")
    p.add_argument("--params", help='strategy parameters as JSON, e.g. \'{"fast": 9}\'')
    p.add_argument("--symbol", help="contract, e.g. BTCUSDT")
    p.add_argument("--from", dest="start", help="first day (YYYY-MM-DD) or ISO date-time, UTC "
                   "unless it says otherwise")
    p.add_argument("--to", dest="end", help="end (exclusive)")
    p.add_argument("--interval", default="1min", help="candle interval (1min)")
    p.add_argument("--source", choices=["sim", "bitunix"],
                   help="whose history: the simulator's (offline, deterministic) or Bitunix's")
    p.add_argument("--json", action="store_true", help="the summary as JSON (byte-identical "
                   "for identical inputs)")
    p.add_argument("--report", type=Path, default=None, metavar="DIR",
                   help="write report.html, trades.csv and summary.json into DIR")
    p.add_argument("--data-dir", type=Path, default=None,
                   help="where the backtest's journal goes (default: a new temp directory)")
    p.add_argument("--log-level", default="WARNING", help="engine log level (WARNING)")
    p.set_defaults(handler=lambda args: _cmd_backtest(args, io))


__all__ = ["add_backtest_parser"]
