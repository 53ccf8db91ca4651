"""`make bench` / ``python -m bench [--only a,b] [--reps N] [--quick]``: issue #13's figures.

Every figure is measured beside a bare baseline in the same run, ``--reps`` times (at least
3 for published numbers), and printed in one table (bench/table.py). Benchmarks never run as
tests. docs/performance.md explains each figure and holds the latest published run.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import os
import platform
import sys
import time
import traceback
from collections.abc import Awaitable, Callable

from loguru import logger

from bench import (
    backtest,
    burst,
    ingestion,
    load,
    memory,
    replay,
    startup,
    strategy,
    symbols,
    tick_exit,
    watchdog,
)
from bench.stats import Options
from bench.table import Row, render

Figure = Callable[[Options], Awaitable[list[Row]]]
FIGURES: dict[str, Figure] = {
    "watchdog": watchdog.run,
    "ingestion": ingestion.run,
    "tick_exit": tick_exit.run,
    "load": load.run,
    "burst": burst.run,
    "startup": startup.run,
    "memory": memory.run,
    "replay": replay.run,
    "strategy": strategy.run,
    "backtest": backtest.run,
    "symbols": symbols.run,
}


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default="",
                        help=f"comma-separated subset of: {', '.join(FIGURES)}")
    parser.add_argument("--reps", type=int, default=3, help="repetitions per figure (>= 1)")
    parser.add_argument("--quick", action="store_true",
                        help="smaller loads, to try the harness (not for published numbers)")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()] or list(FIGURES)
    unknown = [name for name in chosen if name not in FIGURES]
    if unknown:
        parser.error(f"unknown figure(s) {', '.join(unknown)}; known: {', '.join(FIGURES)}")
    if args.reps < 1:
        parser.error("--reps must be at least 1")
    args.chosen = chosen
    return args


async def main(argv: list[str]) -> int:
    args = _parse(argv)
    logger.remove()  # the in-process engine's log lines would swamp the table
    options = Options(reps=args.reps, quick=args.quick)
    rows: list[Row] = []
    failed = 0
    started = time.monotonic()
    load_before = os.getloadavg()[0]
    for name in args.chosen:
        began = time.monotonic()
        print(f"bench: {name} ...", file=sys.stderr, flush=True)
        try:
            rows += await FIGURES[name](options)
        except Exception as error:
            failed += 1
            traceback.print_exc()
            rows.append(Row(f"{name} (failed)", "", [], note=repr(error)))
        print(f"bench: {name} done in {time.monotonic() - began:.0f} s", file=sys.stderr,
              flush=True)
    stamp = datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z")
    # Anything else running on the machine moves every figure: the load average says so.
    title = (f"laptop-agents benchmarks, {stamp}: {os.cpu_count()} cores, Python "
             f"{platform.python_version()}, {options.reps} repetitions"
             f"{' (quick)' if options.quick else ''}, {time.monotonic() - started:.0f} s, "
             f"load average {load_before:.2f} before / {os.getloadavg()[0]:.2f} after")
    print(render(rows, title))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main(sys.argv[1:])))
