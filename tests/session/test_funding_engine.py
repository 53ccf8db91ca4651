"""Funding through the whole engine: the simulator's `price` channel and funding history over
real sockets, a settlement every simulated minute, a restart across settlements (exactly once),
and the ledger invariant over the journal."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_rest import BitunixRestClient
from laptop_agents.paper.invariant import check_ledger
from laptop_agents.paper.margin import funding_payment
from tests.session.test_engine_sim import running
from tests.session.test_restart import seed_open_position
from tests.support.sim import engine_settings
from tests.support.waiting import wait_until

MINUTE = 60_000


@pytest.fixture
def sim_options() -> dict[str, Any]:
    # At 60x, a settlement every simulated minute is one a wall second.
    return {"funding_interval_ms": MINUTE, "price_push_ms": 50}


async def test_settlements_are_paid_live_and_after_a_restart_exactly_once(
        sim: Any, tmp_path: Path) -> None:
    seed_open_position(sim, tmp_path / "data")
    async with running(sim, tmp_path) as runner:
        position = runner.broker.position
        assert position is not None
        await wait_until(lambda: len(runner.journal.funding_events()) >= 2, 15,
                         "two settlements paid live")
        assert runner.broker.last_mark is not None  # the price channel reached the broker
        funding = runner.controller.status().funding
        assert funding is not None and funding.mark_price == runner.broker.last_mark.mark
        assert funding.next_rate is not None  # the prediction from REST funding_rate
        assert funding.last_settlement_ms is not None and funding.next_settlement_ms is not None
        assert funding.next_settlement_ms > funding.last_settlement_ms
        check_ledger(runner.journal, runner.broker.balance)
        stopped_at = sim.now_ms()
    # Down while at least two more settlements happen.
    await wait_until(lambda: sim.now_ms() >= stopped_at + 3 * MINUTE, 15, "settlements missed")
    async with running(sim, tmp_path) as runner:
        await wait_until(lambda: runner.broker.last_funding_ms() is not None
                         and runner.broker.last_funding_ms() >= stopped_at + 2 * MINUTE,
                         15, "missed settlements applied on restart")
        paid = runner.journal.funding_events()
        check_ledger(runner.journal, runner.broker.balance)
        assert runner.broker.position is not None
        assert runner.broker.position.funding == sum(e.amount for e in paid)
    times = [e.ts for e in paid]
    # one per settlement since the position opened: no gap, no repeat, none before it opened
    assert times == list(range(times[0], times[-1] + 1, MINUTE))
    assert position.opened_ms <= times[0] < position.opened_ms + MINUTE
    settings = engine_settings(sim, tmp_path / "data")
    async with aiohttp.ClientSession() as session:
        history = await BitunixRestClient(session, settings, ExchangeClock()).funding_history(
            "BTCUSDT", times[0], times[-1])
    assert [(h.ts, h.rate, h.mark) for h in history] == [(e.ts, e.rate, e.mark) for e in paid]
    for event in paid:
        assert event.amount == funding_payment(position.side, position.qty, event.mark,
                                               event.rate)
    assert len(paid) >= 4
