"""The trading gate: every pause reason blocks entries; exits only need fresh prices."""

from __future__ import annotations

from pathlib import Path

from laptop_agents.session.gate import PauseReason, TradingGate


class Store:
    def __init__(self) -> None:
        self.calls: list[tuple[bool, str | None]] = []

    def set_pause(self, paused: bool, reason: str | None) -> None:
        self.calls.append((paused, reason))


class FakeTime:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def open_gate(tmp_path: Path, **kw: object) -> tuple[TradingGate, FakeTime, Store]:
    clock, store = FakeTime(), Store()
    gate = TradingGate(stale_after=5.0, kill_file=tmp_path / "KILL", store=store,
                       monotonic=clock, **kw)  # type: ignore[arg-type]
    gate.feed_up()
    gate.tick_arrived()
    gate.set_warm(True)
    return gate, clock, store


def test_fresh_gate_has_every_startup_reason(tmp_path: Path) -> None:
    gate = TradingGate(stale_after=5.0)
    assert set(gate.reasons()) == {PauseReason.FEED_DISCONNECTED, PauseReason.STALE_PRICES,
                                   PauseReason.WARMUP}
    assert not gate.entries_allowed()
    assert not gate.exits_allowed()


def test_open_gate_allows_entries_and_exits(tmp_path: Path) -> None:
    gate, _, _ = open_gate(tmp_path)
    assert gate.reasons() == {}
    assert gate.entries_allowed() and gate.exits_allowed()
    assert gate.snapshot() == {"trading_allowed": True, "exits_allowed": True,
                               "reasons": [], "details": {}}


def test_manual_pause_is_persisted_and_blocks_entries_only(tmp_path: Path) -> None:
    gate, _, store = open_gate(tmp_path)
    gate.pause("maintenance")
    assert store.calls == [(True, "maintenance")]
    assert gate.reasons() == {PauseReason.MANUAL: "maintenance"}
    assert not gate.entries_allowed()
    assert gate.exits_allowed()
    gate.resume()
    assert store.calls[-1] == (False, None)
    assert gate.entries_allowed()


def test_manual_pause_restored_from_store(tmp_path: Path) -> None:
    gate, _, _ = open_gate(tmp_path, manual_pause=(True, "from journal"))
    assert gate.snapshot()["reasons"] == ["manual"]
    assert gate.snapshot()["details"]["manual"] == "from journal"


def test_stale_prices_block_entries_and_exits(tmp_path: Path) -> None:
    gate, clock, _ = open_gate(tmp_path)
    clock.now += 5.5
    assert PauseReason.STALE_PRICES in gate.reasons()
    assert not gate.exits_allowed()
    gate.tick_arrived()
    assert gate.entries_allowed()


def test_feed_down_warmup_risk_kill_and_shutdown(tmp_path: Path) -> None:
    risk: list[str | None] = [None]
    gate, _, _ = open_gate(tmp_path, risk_reason=lambda: risk[0])
    gate.feed_down("socket closed")
    assert gate.reasons() == {PauseReason.FEED_DISCONNECTED: "socket closed"}
    gate.feed_up()
    gate.set_warm(False, "50/100")
    assert gate.reasons() == {PauseReason.WARMUP: "50/100"}
    gate.set_warm(True)
    risk[0] = "daily loss cap hit"
    assert list(gate.reasons()) == [PauseReason.DAILY_LOSS_CAP]
    risk[0] = None
    (tmp_path / "KILL").touch()
    assert list(gate.reasons()) == [PauseReason.KILL_SWITCH]
    (tmp_path / "KILL").unlink()
    gate.shutting_down()
    assert list(gate.reasons()) == [PauseReason.SHUTTING_DOWN]
    assert gate.exits_allowed()


def test_refresh_reports_transitions(tmp_path: Path) -> None:
    from loguru import logger

    lines: list[str] = []
    sink = logger.add(lambda m: lines.append(str(m)), format="{message}")
    try:
        gate, _, _ = open_gate(tmp_path)
        gate.refresh()
        gate.refresh()
        gate.feed_down("lost")
        gate.refresh()
        gate.feed_up()
        gate.refresh()
    finally:
        logger.remove(sink)
    gate_lines = [line.strip() for line in lines if "trading gate" in line]
    assert gate_lines == ["trading gate: entries allowed",
                          "trading gate: entries paused: feed_disconnected (lost)",
                          "trading gate: entries allowed"]


def test_quotes_quarantined_longer_than_stale_after_pause_entries(tmp_path: Path) -> None:
    suspect = [0.0]
    gate, _, _ = open_gate(tmp_path, suspect_for=lambda: suspect[0])
    assert gate.entries_allowed()
    suspect[0] = 4.0  # quarantined, but not yet for longer than stale_after (5 s)
    assert gate.entries_allowed()
    suspect[0] = 5.5
    assert PauseReason.PRICE_SUSPECT in gate.reasons()
    assert not gate.entries_allowed()
    assert gate.exits_allowed() == gate.prices_fresh()
