"""A simulator restart with a resting order: the real daemon, stopped and started again on the
same data directory, resumes the market its journaled limit order was placed in (no instant
fill at a foreign price) and every timestamp it journals stays after the previous run's."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Awaitable, Callable
from decimal import Decimal
from pathlib import Path

import pytest

from laptop_agents.models import Side
from laptop_agents.paper.models import Order, OrderStatus
from laptop_agents.sim import resume
from laptop_agents.sim.contracts import SPECS
from laptop_agents.sim.market import SymbolMarket
from laptop_agents.storage.journal import Journal
from tests.support.daemon import DaemonProcess
from tests.support.waiting import wait_until_async

TOKEN = "resume-test-token-0123"
ORDER_ID = "resting-limit"
WATCH_MS = 30 * 60_000  # the order rests below the market's low over this much time


async def _run(data_dir: Path, done: Callable[[], bool] | None = None) -> str:
    """One daemon from start to SIGTERM (once ``done()`` holds, if given); its log."""
    with DaemonProcess(data_dir, TOKEN, env={"LA_HISTORY_CANDLES": "120"}) as daemon:
        await asyncio.to_thread(daemon.wait_for, r"ready: API listening", 30)
        if done is not None:
            await wait_until_async(_off_loop(done), 30, "the second run's condition")
        code = await asyncio.to_thread(daemon.stop)
    log = "".join(daemon.lines)
    assert code == 0, log[-3000:]
    return log


def _off_loop(check: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def run() -> bool:
        return await asyncio.to_thread(check)

    return run


def _resting_order(origin: int, at_ms: int) -> Order:
    """A buy limit just under the resumed market's lowest bid in the next half hour: it
    cannot fill there (it expires first), while a foreign market would meet it anywhere."""
    market = SymbolMarket(SPECS["BTCUSDT"], 7, origin)
    low = None
    for t in range(at_ms, at_ms + WATCH_MS, 1000):
        market.advance(t)
        bid = market.bbo(t).bid
        low = bid if low is None else min(low, bid)
    assert low is not None
    price = Decimal(low - 10).scaleb(-1)
    return Order(order_id=ORDER_ID, symbol="BTCUSDT", side=Side.LONG, order_type="limit",
                 qty=Decimal("0.01"), price=price, stop=price - 200, target=price + 400,
                 atr=Decimal("50"), setup="seeded", reason="resting across a restart",
                 created_ms=at_ms)


def _times(path: Path, sql: str) -> list[int]:
    with sqlite3.connect(path) as conn:
        return [int(r[0]) for r in conn.execute(sql).fetchall() if r[0] is not None]


@pytest.mark.slow
async def test_restart_resumes_the_market_and_the_resting_order_does_not_fill(
        tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    path = data_dir / "journal-sim.sqlite3"
    await _run(data_dir)
    journal = Journal(path)
    origin = int(journal.get_meta(resume.META_ORIGIN) or 0)
    assert journal.get_meta(resume.META_SEED) == "7"
    t0 = resume.latest_ms(journal)
    assert t0 is not None
    order = _resting_order(origin, t0)
    assert journal.insert_order(order)
    first_equity = _times(path, "SELECT ts_ms FROM equity")
    journal.close()

    def settled() -> bool:
        reader = Journal(path)
        try:
            stored = reader.get_order(ORDER_ID)
        finally:
            reader.close()
        return stored is not None and stored.status is not OrderStatus.WORKING

    log = await _run(data_dir, settled)
    match = re.search(r"resuming the market of seed 7 from origin (\d+) \(.*?\) at simulated "
                      r"time (\d+) ", log)
    assert match, log[-3000:]
    assert int(match.group(1)) == origin and int(match.group(2)) > t0

    journal = Journal(path)
    stored = journal.get_order(ORDER_ID)
    assert stored is not None and stored.status is OrderStatus.EXPIRED
    assert not [f for f in journal.fills() if f.order_id == ORDER_ID]
    journal.close()
    # Every timestamp of the second run lies after the first run's; each table in the order
    # it was written never goes back.
    later = [t for t in _times(path, "SELECT ts_ms FROM equity") if t not in first_equity]
    assert later and min(later) > t0
    assert _times(path, "SELECT updated_ms FROM orders WHERE order_id = 'resting-limit'")[0] > t0
    for sql in ("SELECT ts_ms FROM equity ORDER BY rowid", "SELECT ts FROM fills ORDER BY seq",
                "SELECT created_ms FROM orders ORDER BY rowid"):
        times = _times(path, sql)
        assert times == sorted(times), sql
