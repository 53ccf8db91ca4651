"""``laptop-agents replay FILE``: the real engine over a recording, as fast as it can run.

An :class:`AsyncRunner` is assembled with the replay's feed, REST, clock and timeline
(replay_source.py) over a fresh journal that starts as the recorded session's did (the image in
the recording's header). The same tasks, broker and journal code run; only the sources of data
and time differ. The summary (fills, trades, fees, funding, final balance) comes from the
journal, checked by the ledger invariant; ``--compare JOURNAL`` sets it beside the recorded
session's journal. Exit codes: 0 replayed (and equal), 1 the replay differs (or diverged),
65 the recording cannot be read, 78 the data directory already holds a journal.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from laptop_agents.config import Settings
from laptop_agents.errors import ConfigError, LaptopAgentsError
from laptop_agents.metrics import Metrics
from laptop_agents.models import Instrument
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.invariant import LedgerTotals, check_ledger
from laptop_agents.paper.models import Fill, FundingSettled, Trade
from laptop_agents.record.codec import Item, RecordingError
from laptop_agents.record.files import Recording, read_recording
from laptop_agents.record.replay_source import (
    ReplayDivergedError,
    ReplayFeed,
    ReplayRest,
    ReplayTimeline,
)
from laptop_agents.session.async_session import AsyncRunner
from laptop_agents.session.ports import NullNotifier
from laptop_agents.session.wiring import EngineParts, journal_path, open_journal
from laptop_agents.storage.journal import Journal
from laptop_agents.strategy.base import Strategy

EXIT_DIFFERS = 1
EXIT_BAD_RECORDING = 65  # EX_DATAERR


class UnreadableRecording(LaptopAgentsError):
    exit_code = EXIT_BAD_RECORDING


@dataclass(frozen=True)
class Summary:
    fills: list[Fill]
    trades: list[Trade]  # oldest first
    funding: list[FundingSettled]
    totals: LedgerTotals

    def lines(self) -> list[str]:
        t = self.totals
        return [f"fills          {len(self.fills)}",
                f"trades         {len(self.trades)}",
                f"realised pnl   {t.realized_pnl}",
                f"fees           {t.fees}",
                f"funding        {t.funding} ({len(self.funding)} settlements)",
                f"final balance  {t.balance}"]


def summarize(path: Path) -> Summary:
    """A journal's money, after checking the ledger invariant over it."""
    if not path.is_file():
        raise ConfigError(f"no journal at {path}")
    journal = Journal(path)
    try:
        totals = check_ledger(journal)
        trades = list(reversed(journal.trades(limit=10**9)))
        return Summary(journal.fills(), trades, journal.funding_events(), totals)
    finally:
        journal.close()


def differences(replayed: Summary, recorded: Summary) -> list[str]:
    """What differs, one line each (empty: equal to the smallest unit)."""
    out: list[str] = []
    for name in ("fills", "trades", "funding"):
        a, b = getattr(replayed, name), getattr(recorded, name)
        if a != b:
            at = next((i for i, (x, y) in enumerate(zip(a, b, strict=False)) if x != y),
                      min(len(a), len(b)))
            out.append(f"{name}: {len(a)} replayed, {len(b)} recorded; first difference at "
                       f"#{at}: {a[at] if at < len(a) else '-'} vs {b[at] if at < len(b) else '-'}")
    if replayed.totals != recorded.totals:
        out.append(f"totals: {replayed.totals} replayed, {recorded.totals} recorded")
    return out


def replay_settings(recording: Recording, data_dir: Path) -> Settings:
    values: dict[str, Any] = json.loads(recording.header["settings"])
    # The replay writes only its own journal: no recording of the replay, no API, no kill file.
    values.update(data_dir=data_dir, record=False, api_enabled=False, kill_file=None,
                  log_file=None)
    return Settings(**values)


def load(path: Path) -> Recording:
    try:
        return read_recording(path)
    except RecordingError as error:
        raise UnreadableRecording(str(error)) from None


async def replay(recording: Recording, data_dir: Path,
                 strategy: Strategy | None = None) -> AsyncRunner:
    """Run the engine over ``recording`` with its journal in ``data_dir`` (must hold none)."""
    settings = replay_settings(recording, data_dir)
    path = journal_path(settings)
    if path.exists():
        raise ConfigError(f"invalid setting LA_DATA_DIR: {path} exists; a replay starts from "
                          "the recorded journal, in a directory of its own")
    path.parent.mkdir(parents=True, exist_ok=True)
    image = recording.header.get("journal")
    if image:
        path.write_bytes(image)
    timeline = ReplayTimeline(recording.records)
    instrument = msgspec.msgpack.decode(recording.header["instrument"], type=Instrument)
    journal = open_journal(settings)
    clock = timeline.clock
    broker = PaperBroker(settings, instrument, journal, clock_speed=lambda: clock.speed)
    if strategy is None:
        from laptop_agents.strategy import Supervisor

        strategy = Supervisor(settings)
    parts = EngineParts(rest=ReplayRest(timeline), provider=ReplayFeed(timeline),
                        instrument=instrument, journal=journal, broker=broker,
                        strategy=strategy, clock=clock, metrics=Metrics(),
                        notifier=NullNotifier(), timeline=timeline)
    runner = AsyncRunner(settings, parts)
    runner.api_ready.set()
    await runner.run()
    return runner


def quotes(recording: Recording) -> int:
    return sum(1 for r in recording.records if isinstance(r, Item))


def run_replay_command(recording: Recording, data_dir: Path | None, compare: Path | None,
                       say: Callable[[str], None]) -> int:
    """The CLI's ``replay``: prints through ``say``; returns the exit code."""
    directory = data_dir or Path(tempfile.mkdtemp(prefix="laptop-agents-replay-"))
    started = time.perf_counter()
    try:
        runner = asyncio.run(replay(recording, directory))
    except ReplayDivergedError as error:
        say(f"DIFFERS the replay diverged: {error}")
        return EXIT_DIFFERS
    elapsed = time.perf_counter() - started
    replayed = summarize(journal_path(runner.settings))
    say(f"replayed {len(recording.files)} file(s), {quotes(recording)} items in "
        f"{elapsed:.2f} s; journal {journal_path(runner.settings)}")
    for line in replayed.lines():
        say(line)
    if compare is None:
        return 0
    found = differences(replayed, summarize(compare))
    for line in found:
        say(f"DIFFERS {line}")
    say("equal to the recorded journal" if not found else "the replay differs")
    return EXIT_DIFFERS if found else 0


__all__ = ["EXIT_BAD_RECORDING", "EXIT_DIFFERS", "Summary", "UnreadableRecording",
           "differences", "load", "quotes", "replay", "replay_settings", "run_replay_command",
           "summarize"]
