"""GET /equity over a real socket, answered from a real journal: an old journal's equity-only
snapshots (schema 2) migrated beside new ones that carry balance, unrealised PnL and funding,
downsampled to ``points`` with the first, the last and every bucket's extremes kept."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from aiohttp.test_utils import TestClient

from laptop_agents.api.app import create_app
from laptop_agents.backtest.downsample import keep_extremes
from laptop_agents.session.equity import equity_history
from laptop_agents.session.views import EquityHistory
from laptop_agents.storage.journal import Journal
from laptop_agents.storage.schema import MIGRATIONS

from .conftest import make_settings
from .memory_controller import MemoryController

T0 = 1_700_000_000_000
MIN = 60_000
D = Decimal


class JournalController(MemoryController):
    """The in-memory controller, but /equity read from a journal like the engine's."""

    def __init__(self, journal: Journal) -> None:
        super().__init__()
        self.journal = journal

    def equity(self, since_ms: int, points: int) -> EquityHistory:
        return equity_history(self.journal, since_ms, points)


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    path = tmp_path / "journal.sqlite3"
    conn = sqlite3.connect(path)  # a journal written before the parts were kept
    conn.executescript(MIGRATIONS[0] + MIGRATIONS[1] + "PRAGMA user_version = 2;")
    conn.executemany("INSERT INTO equity (ts_ms, equity) VALUES (?, ?)",
                     [(T0 + i * MIN, str(10000 + i)) for i in range(10)])
    conn.commit()
    conn.close()
    journal = Journal(path)
    for i in range(10, 1000):  # a dip to 9000 at 500 and a peak at 700
        value = D(9000) if i == 500 else D(11000) if i == 700 else D(10000 + i % 5)
        journal.record_equity(T0 + i * MIN, value, balance=D(10000), unrealized=value - 10000,
                              funding_paid=D("0.25"))
    yield journal
    journal.close()


async def test_equity_over_http_from_a_migrated_journal(aiohttp_client: Any,
                                                        journal: Journal) -> None:
    client: TestClient[Any, Any] = await aiohttp_client(
        create_app(JournalController(journal), make_settings()))
    body = await (await client.get("/equity")).json()
    assert body["recorded"] == 1000 and len(body["points"]) <= 500
    first, last = body["points"][0], body["points"][-1]
    assert first == {"ts": T0, "equity": "10000", "balance": None, "unrealized": None,
                     "funding_paid": None}  # an old row: the equity alone
    assert last == {"ts": T0 + 999 * MIN, "equity": "10004", "balance": "10000",
                    "unrealized": "4", "funding_paid": "0.25"}
    values = [p["equity"] for p in body["points"]]
    assert "9000" in values and "11000" in values  # the extremes survive
    assert [p["ts"] for p in body["points"]] == sorted(p["ts"] for p in body["points"])

    few = await (await client.get("/equity", params={"points": "10",
                                                     "since": str(T0 + 600 * MIN)})).json()
    assert few["recorded"] == 400 and 2 <= len(few["points"]) <= 10
    assert few["points"][0]["ts"] == T0 + 600 * MIN
    assert "11000" in [p["equity"] for p in few["points"]]
    bad = await client.get("/equity", params={"points": "0"})
    assert bad.status == 400 and "points" in (await bad.json())["error"]


def test_keep_extremes_keeps_first_last_and_each_buckets_extremes() -> None:
    series = [(T0 + i * 1000, D(i % 10)) for i in range(100)]
    assert keep_extremes(series, 100) == list(range(100))
    assert keep_extremes(series, 3) == keep_extremes(series, 2) == [0, 99]
    assert keep_extremes(series, 1) == [99] and keep_extremes(series, 0) == []
    kept = keep_extremes(series, 22)  # ten buckets of ten seconds: each one's 0 and 9
    assert len(kept) <= 22 and kept[0] == 0 and kept[-1] == 99 and kept == sorted(kept)
    for bucket in range(1, 9):  # the whole ones: 0 at the start, 9 at the end
        assert {10 * bucket, 10 * bucket + 9} <= set(kept)
    assert {1, 9, 90, 98} <= set(kept)  # the edge buckets' extremes without first and last
