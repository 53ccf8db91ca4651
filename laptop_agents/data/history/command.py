"""`laptop-agents history fetch|list`: the commands' output, written through the CLI's ``out``
and ``err`` (the probe's pattern), plus a rich progress bar on a terminal.

Exit codes: 0 done (gaps the exchange lacks are reported, not an error); 1 when REST failed
part-way (every finished window is kept: run the same command again to resume); 64 for a bad
date; 130 on Ctrl-C (also resumable).
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import aiohttp

from laptop_agents.config import Settings
from laptop_agents.data.history.fetch import Progress
from laptop_agents.data.history.ranges import Range
from laptop_agents.data.history.run import fetch_history, list_history, parse_when
from laptop_agents.data.providers.bitunix_protocol import BitunixApiError
from laptop_agents.models import WS_TO_REST_INTERVAL

Say = Callable[[str], None]
EXIT_FAILED = 1
EXIT_BAD_DATE = 64  # EX_USAGE, as `account reset` answers a bad number
EXIT_INTERRUPTED = 130
MAX_GAPS_SHOWN = 20  # a fetch from before a listing has one long gap; a bad feed, many short


def fmt_ms(ms: int | None) -> str:
    if ms is None:
        return "-"
    return time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime(ms / 1000))


def fmt_range(span: Range) -> str:
    return f"{fmt_ms(span[0])} .. {fmt_ms(span[1])}"


@contextmanager
def progress_bar(enabled: bool) -> Iterator[Progress | None]:
    """A rich bar over the windows to fetch on a terminal; nothing when output is piped."""
    if not enabled:
        yield None
        return
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeRemainingColumn,
    )

    with Progress(TextColumn("fetching"), BarColumn(), MofNCompleteColumn(),
                  TextColumn("{task.fields[stored]} candles"), TimeRemainingColumn()) as bar:
        task = bar.add_task("fetch", total=None, stored=0)

        def update(done: int, total: int, stored: int) -> None:
            bar.update(task, completed=done, total=total, stored=stored)

        yield update


def history_fetch(settings: Settings, start: str | None, end: str | None, out: Say,
                  err: Say) -> int:
    if start is None:
        err("history fetch: --from is required")
        return EXIT_BAD_DATE
    if settings.interval not in WS_TO_REST_INTERVAL:
        err(f"history fetch: REST has no {settings.interval} candles; one of "
            + ", ".join(WS_TO_REST_INTERVAL))
        return EXIT_BAD_DATE
    try:
        span = (parse_when(start), time.time_ns() // 1_000_000 if end is None else parse_when(end))
    except ValueError as error:
        err(f"history fetch: {error}")
        return EXIT_BAD_DATE
    if span[0] >= span[1]:
        err("history fetch: --from must be before --to")
        return EXIT_BAD_DATE
    try:
        with progress_bar(sys.stdout.isatty()) as progress:
            outcome = asyncio.run(fetch_history(settings, span, progress))
    except KeyboardInterrupt:
        err("history fetch: interrupted; what was fetched is stored, run it again to resume")
        return EXIT_INTERRUPTED
    except (BitunixApiError, aiohttp.ClientError, TimeoutError) as error:
        err(f"history fetch: REST failed ({error or type(error).__name__}); what was fetched "
            "is stored, run it again to resume")
        return EXIT_FAILED
    key, report = outcome.key, outcome.report
    out(f"{key.source} {key.symbol} {key.interval} {fmt_range(report.span)}: "
        f"{report.stored} candles stored in {report.requests} requests"
        + (f" ({report.skipped_ms // key.step} open times already stored)"
           if report.skipped_ms else ""))
    for gap in report.gaps[:MAX_GAPS_SHOWN]:
        out(f"gap (the exchange had no candles): {fmt_range(gap)}")
    if len(report.gaps) > MAX_GAPS_SHOWN:
        out(f"... and {len(report.gaps) - MAX_GAPS_SHOWN} more gaps")
    return 0


def history_list(settings: Settings, out: Say) -> int:
    series = list_history(settings)
    if not series:
        out("no stored candles")
        return 0
    out("source symbol interval first last count gaps")
    for s in series:
        gap_ms = sum(high - low for low, high in s.gaps)
        out(f"{s.key.source} {s.key.symbol} {s.key.interval} {fmt_ms(s.first)} "
            f"{fmt_ms(s.last)} {s.count} {len(s.gaps)}"
            + (f" ({gap_ms // s.key.step} missing open times)" if s.gaps else ""))
        for gap in s.gaps[:MAX_GAPS_SHOWN]:
            out(f"  gap {fmt_range(gap)}")
    return 0


__all__ = ["history_fetch", "history_list"]
