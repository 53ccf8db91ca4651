"""Record and replay (docs/replay.md): a simulator session recorded with LA_RECORD=true is
replayed through the real engine on a virtual clock and reproduces its fills, trades, fees,
funding and final balance exactly; a damaged recording is refused with exit code 65."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from laptop_agents.cli import main
from laptop_agents.record.replay import differences, load, quotes, replay, summarize
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


async def test_a_damaged_recording_is_refused_with_exit_code_65(
        sim: Any, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    async with running(sim, tmp_path, busy_strategy(), record=True) as runner:
        await wait_until(lambda: runner.engine.history[-1].open_time > 0, 5, "a candle")
    [good] = (tmp_path / "data" / "recordings").glob("*.rec")
    data = good.read_bytes()
    truncated = tmp_path / "truncated.rec"
    truncated.write_bytes(data[:len(data) - 40])
    cut_clean = tmp_path / "no-end.rec"  # whole gzip members, but the end record missing
    cut_clean.write_bytes(gzip.compress(gzip.decompress(data)[:-5]))
    garbage = tmp_path / "garbage.rec"
    garbage.write_bytes(b"not a recording at all")
    for path in (truncated, cut_clean, garbage):
        code = main(["replay", str(path), "--data-dir", str(tmp_path / f"out-{path.stem}")])
        assert code == 65, path
        err = capsys.readouterr().err
        assert str(path) in err and ("truncated" in err or "corrupt" in err
                                     or "end record" in err or "not a" in err), err
