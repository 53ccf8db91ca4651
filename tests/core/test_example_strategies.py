"""The two example strategies decide on constructed candles, and a stop-out loses risk_pct."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from laptop_agents.models import Candle, Side
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.models import TradeClosed
from laptop_agents.strategy.base import Decision
from laptop_agents.strategy.loader import load_strategy
from tests.core.factories import INSTRUMENT, D, context, series, settings, tick

EQUITY = D(2000)  # small enough that no cap binds: the size is the risk alone


def example(name: str, **params: Any) -> Any:
    import json

    return load_strategy(settings(strategy=name, strategy_params=json.dumps(params)))


def v_shape(down: int, up: int, sign: int = 1) -> list[Candle]:
    """Down ``down`` candles then up ``up`` (mirrored with sign=-1), 40 apart, around 50000."""
    closes = [50000 - sign * 40 * i for i in range(down)]
    closes += [closes[-1] + sign * 40 * (i + 1) for i in range(up)]
    return series(closes, spread=30)


def first_entry(strategy: Any, candles: list[Candle]) -> tuple[int, Decision]:
    """The first closed candle on which ``strategy`` enters, as the engine feeds them."""
    for n in range(1, len(candles) + 1):
        decision = strategy.decide(context(candles[:n], equity=EQUITY))
        if decision.intent is not None:
            return n, decision
    raise AssertionError("no entry")


def test_ema_cross_waits_for_its_warm_up_then_for_a_cross() -> None:
    strategy = example("ema_cross")
    candles = v_shape(60, 30)
    assert "warming up: 21/22" in strategy.decide(context(candles[:21])).reason
    assert "no cross" in strategy.decide(context(candles[:40])).reason


@pytest.mark.parametrize(("sign", "side"), [(1, Side.LONG), (-1, Side.SHORT)])
def test_ema_cross_enters_on_the_cross_with_stop_target_and_risk_sized(sign: int,
                                                                      side: Side) -> None:
    strategy = example("ema_cross")
    candles = v_shape(60, 30, sign)
    n, decision = first_entry(strategy, candles)
    it = decision.intent
    assert it is not None and it.side is side and it.order_type == "market"
    assert n > 60  # after the turn, not during the fall
    assert it.entry == candles[n - 1].close
    assert it.stop < it.entry < it.target if side is Side.LONG else it.target < it.entry < it.stop
    assert it.stop % INSTRUMENT.tick_size == 0 and it.target % INSTRUMENT.tick_size == 0
    # 2 R target (the rounding only ever shortens it)
    assert abs(it.target - it.entry) <= 2 * abs(it.entry - it.stop)
    assert abs(it.target - it.entry) > 2 * abs(it.entry - it.stop) - 3 * INSTRUMENT.tick_size
    assert it.qty > 0 and it.qty % INSTRUMENT.lot_step == 0
    # pure: the same context again gives the same decision, and nothing on it changed but
    # its indicator cache (which never changes an answer: tests/core/test_incremental.py)
    before = copy.deepcopy({k: v for k, v in vars(strategy).items() if k != "indicators"})
    assert strategy.decide(context(candles[:n], equity=EQUITY)) == decision
    assert {k: v for k, v in vars(strategy).items() if k != "indicators"} == before


def stop_out(intent: Any, close: Decimal) -> Decimal:
    """Fill ``intent`` at the candle close it was sized on, then trade at its stop: the net
    loss of the closed trade (fees included)."""
    broker = PaperBroker(settings(starting_equity=EQUITY), INSTRUMENT)
    # The market entry fills at the ask: put it at the close it was sized on.
    broker.on_tick(tick(close - D("0.1"), close, ts=1))
    broker.submit(intent, broker.last_tick, 2)
    assert broker.position is not None and broker.position.qty == intent.qty
    bid = intent.stop if intent.side is Side.LONG else intent.stop - D("0.1")
    events = broker.on_tick(tick(bid, bid + D("0.1"), ts=3))
    closed = [e.trade for e in events if isinstance(e, TradeClosed)]
    assert closed and closed[0].exit_reason == "stop"
    return -closed[0].realized_pnl


@pytest.mark.parametrize("sign", [1, -1])
def test_ema_cross_stop_out_loses_the_stated_risk(sign: int) -> None:
    strategy = example("ema_cross")
    candles = v_shape(60, 30, sign)
    n, decision = first_entry(strategy, candles)
    assert decision.intent is not None
    loss = stop_out(decision.intent, candles[n - 1].close)
    risk = EQUITY * strategy.account.risk_pct  # 1 % of 2000 = 20 USDT
    # fees and slippage included; the size is floored to the lot step, so a hair under
    per_lot = loss / decision.intent.qty * INSTRUMENT.lot_step
    assert risk - per_lot - D("0.01") <= loss <= risk + D("0.01"), (loss, risk)


def range_then(last_close: int) -> list[Candle]:
    """30 candles in a 49980-50020 range, then one closing at ``last_close``."""
    closes = [50000 + (20 if i % 2 else -20) for i in range(30)] + [last_close]
    return series(closes, spread=5)


@pytest.mark.parametrize(("last", "side"), [(50100, Side.LONG), (49900, Side.SHORT)])
def test_breakout_rests_a_limit_at_the_broken_level(last: int, side: Side) -> None:
    strategy = example("breakout", lookback=20, target_r="3")
    candles = range_then(last)
    prior = candles[-21:-1]
    decision = strategy.decide(context(candles, equity=EQUITY))
    it = decision.intent
    assert it is not None and it.side is side and it.order_type == "limit", decision.reason
    if side is Side.LONG:
        assert it.entry == max(c.high for c in prior) < candles[-1].close  # passive: below
        assert it.stop < it.entry < it.target
    else:
        assert it.entry == min(c.low for c in prior) > candles[-1].close
        assert it.target < it.entry < it.stop
    assert abs(it.target - it.entry) == 3 * abs(it.entry - it.stop)  # on the tick already
    assert "limit on the retest" in it.reason and it.setup == "breakout"


def test_breakout_stays_out_inside_the_range_and_when_busy() -> None:
    strategy = example("breakout")
    assert "inside the 20-candle range" in strategy.decide(context(range_then(50010))).reason
    assert strategy.decide(context(range_then(50100), working=True)).intent is None
    assert "warming up: 10/21" in strategy.decide(context(range_then(50100)[:10])).reason
