"""`laptop-agents` / `python -m laptop_agents`: the daemon, the simulator and the API client.

Each subcommand parses its flags here and hands over to the module that owns the work, imported
lazily so `laptop-agents status` does not pay for the engine's imports. Errors that carry an exit
code (see errors.py) end the process with that code and a one-line message, without a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from laptop_agents import __version__
from laptop_agents.cli_account import CommandIO, add_account_and_strategy_parsers
from laptop_agents.cli_backtest import add_backtest_parser
from laptop_agents.cli_daemon import add_daemon_parsers
from laptop_agents.errors import EXIT_INTERNAL, LaptopAgentsError


def _settings(args: argparse.Namespace, **extra: Any) -> Any:
    from laptop_agents.config import load_settings

    overrides: dict[str, Any] = {
        "source": getattr(args, "source", None),
        "symbol": getattr(args, "symbol", None),
        "symbols": getattr(args, "symbols", None) if getattr(args, "command", None) == "run"
        else None,
        "sim_speed": getattr(args, "speed", None),
        "sim_seed": getattr(args, "seed", None),
        "strategy": getattr(args, "strategy", None),
        "strategy_params": getattr(args, "params", None),
    }
    overrides.update(extra)
    return load_settings(**overrides)


def _cmd_run(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from laptop_agents.strategy.per_symbol import load_strategies

    # A bad plug-in or override fails here, before anything starts (each symbol's strategy
    # is built again by the engine; the first one is handed over).
    strategy = load_strategies(settings)[settings.trade_symbols[0]]
    from laptop_agents.session.daemon import run_daemon

    return run_daemon(settings, duration=args.duration, strategy=strategy)


def _cmd_sim(args: argparse.Namespace) -> int:
    from laptop_agents.config import load_settings
    from laptop_agents.logging_setup import setup_logging
    from laptop_agents.sim.options import SimOptions
    from laptop_agents.sim.standalone import run_standalone

    # The daemon's log format and level (run, sim and probe write the same lines); never its
    # log file: that belongs to the daemon.
    setup_logging(_settings(args).model_copy(update={"log_file": None}))
    # --symbols, else LA_SIM_SYMBOLS, else BTCUSDT; checked as the setting (exit 78).
    symbols = load_settings(sim_symbols=args.symbols).sim_symbols
    return run_standalone(SimOptions(
        host=args.host, port=args.port, speed=args.speed, seed=args.seed, admin=args.admin,
        symbols=tuple(symbols.split(",")) if symbols else ("BTCUSDT",),
    ))


def _say(line: str) -> None:
    """Command output on stdout (JSON for jq, or a report); logs go through loguru."""
    print(line, flush=True)


def _complain(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _cmd_probe(args: argparse.Namespace) -> int:
    settings = _settings(args)
    from laptop_agents.data.probe import run_probe

    return run_probe(settings, seconds=args.seconds, out=_say, err=_complain)


def _cmd_history(args: argparse.Namespace) -> int:
    from laptop_agents.data.history.command import history_fetch, history_list

    if args.action == "list":
        return history_list(_settings(args), out=_say)
    settings = _settings(args, interval=args.interval)
    return history_fetch(settings, args.start, args.end, out=_say, err=_complain)


def _cmd_replay(args: argparse.Namespace) -> int:
    from laptop_agents.logging_setup import setup_logging
    from laptop_agents.record.replay import load, run_replay_command

    recording = load(args.file)  # a damaged recording: exit 65 before anything starts
    setup_logging(_settings(args, log_level=args.log_level, log_file=None))
    return run_replay_command(recording, args.data_dir, args.compare, _say)


def _cmd_install_service(args: argparse.Namespace) -> int:
    from laptop_agents.service_install import install_service

    return install_service(_settings(args), user=args.user, print_only=args.print_only)


def _add_market_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--source", choices=["sim", "bitunix"], help="market data source")
    parser.add_argument("--symbol", help="contract, e.g. BTCUSDT")
    parser.add_argument("--speed", type=float, help="simulator speed (simulated s per wall s)")
    parser.add_argument("--seed", type=int, help="simulator seed")


def _add_history_parser(sub: Any) -> None:
    history = sub.add_parser("history", help="fetch closed candles into the candle store, or "
                             "list what it holds (no daemon needed)")
    history.add_argument("action", choices=["fetch", "list"])
    history.add_argument("--source", choices=["sim", "bitunix"], help="market data source")
    history.add_argument("--symbol", help="contract, e.g. BTCUSDT")
    history.add_argument("--interval", help="candle interval, e.g. 1min (default LA_INTERVAL)")
    history.add_argument("--from", dest="start", help="fetch: first day (YYYY-MM-DD) or ISO "
                         "date-time, UTC unless it says otherwise")
    history.add_argument("--to", dest="end", help="fetch: end (exclusive; default now)")
    history.set_defaults(handler=_cmd_history)


def _add_replay(sub: Any) -> None:
    replay = sub.add_parser("replay", help="run the engine over a recording (docs/replay.md)")
    replay.add_argument("file", type=Path, help="the recording's first file (.rec)")
    replay.add_argument("--data-dir", type=Path, default=None,
                        help="where the replay's journal goes (default: a new temp directory)")
    replay.add_argument("--compare", type=Path, default=None, metavar="JOURNAL",
                        help="the recorded session's journal: exit 0 only when equal")
    replay.add_argument("--log-level", default="WARNING", help="engine log level (WARNING)")
    replay.set_defaults(handler=_cmd_replay)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="laptop-agents",
        description="Paper-trade BTC perpetual futures from Bitunix market data.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser("run", help="run the trading daemon (default: built-in simulator)")
    _add_market_flags(run)
    run.add_argument("--symbols", help="several contracts in one process, comma-separated "
                     "(LA_SYMBOLS), e.g. BTCUSDT,ETHUSDT")
    run.add_argument("--duration", type=float, help="stop after this many wall seconds")
    run.add_argument("--strategy", help="built-in name, package.module:Class or file.py:Class")
    run.add_argument("--params", help='strategy parameters as JSON, e.g. \'{"fast": 9}\'')
    run.set_defaults(handler=_cmd_run)

    sim = sub.add_parser("sim", help="run the Bitunix simulator standalone")
    sim.add_argument("--host", default="127.0.0.1")
    sim.add_argument("--port", type=int, default=9000)
    sim.add_argument("--speed", type=float, default=1.0)
    sim.add_argument("--seed", type=int, default=42)
    sim.add_argument("--admin", action="store_true", help="enable the loopback fault admin API")
    sim.add_argument("--symbols", help="contracts to serve, comma-separated (LA_SIM_SYMBOLS; "
                     "default BTCUSDT)")
    sim.set_defaults(handler=_cmd_sim)

    probe = sub.add_parser("probe", help="check that market data flows, then exit")
    _add_market_flags(probe)
    probe.add_argument("--seconds", type=float, default=60.0)
    probe.set_defaults(handler=_cmd_probe)

    add_daemon_parsers(sub, CommandIO(_settings, _say, _complain))
    _add_history_parser(sub)
    add_account_and_strategy_parsers(sub, _settings, _say, _complain)

    _add_replay(sub)
    add_backtest_parser(sub, _settings, _say, _complain)
    install = sub.add_parser("install-service", help="write a systemd unit or launchd plist")
    install.add_argument("--user", action="store_true", help="per-user service")
    install.add_argument("--print", dest="print_only", action="store_true",
                         help="print instead of writing")
    install.set_defaults(handler=_cmd_install_service)
    return parser


COMMANDS = ("run", "sim", "probe", "status", "positions", "trades", "candles", "equity",
            "flatten", "pause", "resume", "account", "history", "strategies", "install-service",
            "replay", "backtest")


def translate_legacy(argv: Sequence[str]) -> list[str]:
    """The original plan's `--mode live-session [--async] [run flags]` is `run [run flags]`.

    Async is the only engine, so `--async` is accepted and ignored. Every other flag is left for
    the `run` parser, so `--source`, `--symbol`, `--speed` and `--duration` mean what they mean
    there and an unknown one is an error rather than silently ignored.
    """
    args = list(argv)
    if not any(a == "--mode" or a.startswith("--mode=") for a in args):
        return args
    out: list[str] = []
    i = 0
    while i < len(args):
        arg = args[i]
        if arg == "--mode" or arg.startswith("--mode="):
            mode = arg.partition("=")[2] if "=" in arg else (args[i + 1] if i + 1 < len(args)
                                                             else "")
            if mode != "live-session":
                raise SystemExit(f"laptop-agents: --mode {mode or '(missing)'}: only "
                                 "live-session exists (it is `laptop-agents run`)")
            i += 1 if "=" in arg else 2
            continue
        if arg != "--async":
            out.append(arg)
        i += 1
    if not out or out[0] not in COMMANDS:
        out.insert(0, "run")
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(translate_legacy(sys.argv[1:] if argv is None else argv))
    handler: Callable[[argparse.Namespace], int] | None = getattr(args, "handler", None)
    if handler is None:
        parser.print_help()
        return 0
    try:
        return handler(args)
    except LaptopAgentsError as error:
        if not error.logged:
            print(f"{_error_prefix()}laptop-agents: {error}", file=sys.stderr)
        return error.exit_code
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `laptop-agents account show --json | head`: the reader left
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except Exception as error:  # the last line of defence: log, then a distinct code
        import traceback

        traceback.print_exc()
        print(f"laptop-agents: internal error: {error!r}", file=sys.stderr)
        return EXIT_INTERNAL


def _error_prefix() -> str:
    """journald stores a line at the priority of its `<N>` prefix; errors are `<3>`."""
    from laptop_agents.logging_setup import stream_is_journal

    try:
        return "<3>" if stream_is_journal(sys.stderr) else ""
    except (OSError, ValueError):
        return ""


def entrypoint() -> None:
    sys.exit(main())
