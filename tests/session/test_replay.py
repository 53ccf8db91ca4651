"""Record and replay (docs/replay.md): a simulator session recorded with LA_RECORD=true is
replayed through the real engine on a virtual clock and reproduces its fills, trades, fees,
funding and final balance exactly; a damaged recording is refused with exit code 65."""

from __future__ import annotations

import asyncio
import gzip
import os
from pathlib import Path
from typing import Any

import pytest

from laptop_agents.cli import main
from laptop_agents.record.files import FORMAT_VERSION, SegmentWriter
from laptop_agents.record.replay import (
    differences,
    load,
    quotes,
    replay,
    run_replay_command,
    summarize,
)
from laptop_agents.session.wiring import journal_path
from tests.session.helpers import AlwaysEnter
from tests.session.test_engine_sim import running
from tests.support.waiting import wait_until

MINUTE = 60_000


@pytest.fixture
def sim_options() -> dict[str, Any]:
    # At 60x a settlement every simulated minute is one a wall second.
    return {"funding_interval_ms": MINUTE, "price_push_ms": 50}


def busy_strategy() -> AlwaysEnter:
    # Stops and targets close to the market: a trade every few simulated minutes (a few wall
    # seconds), long enough to be open across settlements.
    return AlwaysEnter(stop_pct="0.001", target_pct="0.001")


async def test_a_replay_reproduces_the_recorded_session_exactly(
        sim: Any, tmp_path: Path) -> None:
    async with running(sim, tmp_path, busy_strategy(), record=True) as runner:
        await wait_until(lambda: len(runner.journal.trades(100)) >= 4
                         and len(runner.journal.funding_events()) >= 2, 60,
                         "trades and funding settlements")
        recorded_journal = journal_path(runner.settings)
    files = sorted((tmp_path / "data" / "recordings").glob("*.rec"))
    assert len(files) == 1
    recording = load(files[0])
    assert quotes(recording) > 100
    recorded = summarize(recorded_journal)
    replayed_runner = await replay(recording, tmp_path / "replay", strategy=busy_strategy())
    replayed = summarize(journal_path(replayed_runner.settings))
    assert differences(replayed, recorded) == []
    assert replayed.fills == recorded.fills and replayed.trades == recorded.trades
    assert replayed.funding == recorded.funding and replayed.totals == recorded.totals
    assert len(replayed.trades) >= 4 and len(replayed.funding) >= 2
    assert replayed.totals.fees > 0 and replayed.totals.funding != 0


async def test_rotated_segments_replay_as_one_through_the_cli(
        sim: Any, tmp_path: Path) -> None:
    # The daemon's own strategy (from settings), so the CLI replays it without help.
    async with running(sim, tmp_path, record=True, record_segment_mb=0.002) as runner:
        await wait_until(lambda: runner.engine.history[-1].open_time >= sim.now_ms() - 3 * MINUTE
                         and runner.journal is not None, 5, "candles")
        await asyncio.sleep(2.5)  # a wall-clock session of several flushes (not a sync point)
        recorded_journal = journal_path(runner.settings)
    files = sorted((tmp_path / "data" / "recordings").glob("*.rec"))
    assert len(files) >= 2  # rotated by size
    first = next(f for f in files if f.name.count(".") == 1)
    recording = load(first)
    assert recording.files[0] == first and len(recording.files) == len(files)
    said: list[str] = []
    code = await asyncio.to_thread(run_replay_command, recording, tmp_path / "replay",
                                   recorded_journal, said.append)
    assert code == 0, said
    assert said[-1] == "equal to the recorded journal"
    assert any(line.startswith("final balance") for line in said)


def test_retention_keeps_the_newest_files(tmp_path: Path) -> None:
    header = {"version": FORMAT_VERSION, "journal": None}
    for n in range(4):
        writer = SegmentWriter(tmp_path, f"sim-BTCUSDT-{n}", header, max_bytes=10**9,
                               max_seconds=10**9, keep=3)
        writer.open()
        writer.close([])
        os.utime(writer.path, (n, n))  # oldest first, whatever the file system's resolution
    assert sorted(p.name for p in tmp_path.glob("*.rec")) == [
        "sim-BTCUSDT-1.rec", "sim-BTCUSDT-2.rec", "sim-BTCUSDT-3.rec"]


async def test_a_damaged_recording_is_refused_with_exit_code_65(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with running(sim, tmp_path, busy_strategy(), record=True):
        pass
    [good] = (tmp_path / "data" / "recordings").glob("*.rec")
    data = good.read_bytes()
    truncated = tmp_path / "truncated.rec"
    truncated.write_bytes(data[:len(data) - 40])
    no_end = tmp_path / "no-end.rec"  # intact, but its last frame (END: 4 + 2 bytes) cut off
    no_end.write_bytes(gzip.compress(gzip.decompress(data)[:-6]))
    garbage = tmp_path / "garbage.rec"
    garbage.write_bytes(b"not a recording at all")
    for path, why in ((truncated, "truncated"), (no_end, "end record"), (garbage, "corrupt")):
        code = main(["replay", str(path), "--data-dir", str(tmp_path / f"out-{path.stem}")])
        assert code == 65, path
        err = capsys.readouterr().err
        assert str(path) in err and why in err, err
