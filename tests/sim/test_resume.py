"""The embedded simulator resumes the journal's market: same seed and origin, later time."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from laptop_agents.config import Settings
from laptop_agents.models import Side
from laptop_agents.paper.models import Order, OrderStatus
from laptop_agents.sim import resume
from laptop_agents.sim.embedded import start_embedded, stop_embedded
from laptop_agents.sim.funding import mark_ticks
from laptop_agents.sim.records import MINUTE_MS
from laptop_agents.storage.journal import Journal
from tests.support.waiting import wait_until

T0 = 1_790_000_040_000  # a whole minute


def _order(created_ms: int, updated: bool = False) -> Order:
    return Order(order_id=f"o{created_ms}", symbol="BTCUSDT", side=Side.LONG,
                 order_type="limit", qty=Decimal("0.01"), price=Decimal("60000"),
                 stop=Decimal("59000"), target=Decimal("62000"), atr=Decimal("10"),
                 setup="test", reason="test", created_ms=created_ms,
                 status=OrderStatus.WORKING if not updated else OrderStatus.EXPIRED)


def test_latest_ms_reads_every_table(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    assert journal.latest_ms() is None
    journal.insert_order(_order(T0))
    assert journal.latest_ms() == T0
    journal.set_order_status(f"o{T0}", OrderStatus.EXPIRED, "test", T0 + 5)
    assert journal.latest_ms() == T0 + 5
    journal.record_equity(T0 + 9, Decimal("10000"))
    assert journal.latest_ms() == T0 + 9
    journal.close()


def test_start_point_new_resumed_and_new_seed(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite3")
    wall = T0 + 12_345
    fresh = resume.start_point(journal, 7, wall)
    assert (fresh.start_ms, fresh.origin_ms, fresh.resumed) == (T0, None, False)
    origin = T0 - 1000 * MINUTE_MS
    resume.remember(journal, 7, origin, T0)
    journal.record_equity(T0 + 90 * MINUTE_MS + 1_500, Decimal("10000"))
    # Same seed: the stored origin, just after the latest journaled time (whole second),
    # whatever the wall clock says.
    again = resume.start_point(journal, 7, wall)
    assert (again.start_ms, again.origin_ms) == (T0 + 90 * MINUTE_MS + 2_000, origin)
    resume.record_time(journal, T0 + 100 * MINUTE_MS)
    resume.record_time(journal, T0)  # never moves back
    assert resume.latest_ms(journal) == T0 + 100 * MINUTE_MS
    # Another seed: a new market, still not before anything journaled.
    other = resume.start_point(journal, 8, wall)
    assert (other.start_ms, other.origin_ms) == (T0 + 101 * MINUTE_MS, None)
    journal.close()


def _settings(tmp_path: Path, seed: int = 7) -> Settings:
    return Settings(data_dir=tmp_path, sim_speed=600.0, sim_seed=seed,
                    sim_funding_interval=600)


async def test_restarted_embedded_sim_meets_the_same_market(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "journal-sim.sqlite3")
    sim, _ = await start_embedded(_settings(tmp_path), journal)
    first_start, origin = sim.start_ms, sim.origin_ms
    # Ten simulated minutes at 600x (a second of wall time).
    await wait_until(lambda: sim.now_ms() > first_start + 10 * MINUTE_MS, 10, "10 sim minutes")
    market = sim.market("BTCUSDT")
    minutes = range(origin, first_start + 10 * MINUTE_MS, MINUTE_MS)
    before = [market.minute(m) for m in minutes]
    marks = [mark_ticks(market, m) for m in minutes[61:]]
    await stop_embedded(sim, journal)
    reached = resume.latest_ms(journal)
    assert reached is not None and reached >= first_start + 10 * MINUTE_MS

    sim2, _ = await start_embedded(_settings(tmp_path), journal)
    try:
        assert sim2.origin_ms == origin
        assert reached < sim2.start_ms <= reached + 1000
        assert sim2.now_ms() >= sim2.start_ms
        market2 = sim2.market("BTCUSDT")
        assert [market2.minute(m) for m in minutes] == before
        assert [mark_ticks(market2, m) for m in minutes[61:]] == marks
    finally:
        await stop_embedded(sim2, journal)
    # A new seed starts another market, after everything journaled.
    sim3, _ = await start_embedded(_settings(tmp_path, seed=8), journal)
    try:
        assert sim3.start_ms > sim2.start_ms
        assert sim3.market("BTCUSDT").minute(minutes[0]) != before[0]
        assert journal.get_meta(resume.META_SEED) == "8"
        assert journal.get_meta(resume.META_ORIGIN) == str(sim3.origin_ms)
    finally:
        await sim3.stop()
    journal.close()
