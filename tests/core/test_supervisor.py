"""The Supervisor's setups, gates and sizing, on constructed candle series."""

from __future__ import annotations

from decimal import Decimal

import pytest

from laptop_agents.config import Settings
from laptop_agents.models import Candle, Instrument, Side
from laptop_agents.strategy import indicators as ind
from laptop_agents.strategy.base import PositionView
from laptop_agents.strategy.sizing import position_size, round_to_tick
from laptop_agents.strategy.supervisor import PULLBACK, SWEEP, Supervisor
from tests.core.factories import INSTRUMENT, D, candle, context, series, settings


def rising(n: int = 120) -> list[Candle]:
    return series([50000 + 10 * i for i in range(n)])


def falling(n: int = 120) -> list[Candle]:
    return series([50000 - 10 * i for i in range(n)])


def sweep_series(last: Candle | None = None) -> list[Candle]:
    """Flat at 50000 with a heavy-volume 50100 block 50-41 candles back (keeps VWAP60 above
    the price and EMA20 just under EMA50), a 10-candle climb, then by default a candle that
    sweeps the prior-10 low (49997) and closes back inside at 50015."""
    cs = []
    for i in range(110):
        if 60 <= i < 70:
            cs.append(candle(i, 50100, 50105, 50095, 50100, 200))
        elif i < 100:
            cs.append(candle(i, 50000, 50005, 49995, 50000, 10))
        else:
            c = 50000 + 2 * (i - 99)
            cs.append(candle(i, c - 2, c + 5, c - 5, c, 10))
    cs.append(last or candle(110, 50020, 50025, 49990, 50015, 10))
    return cs


def floor(price: Decimal) -> Decimal:
    return round_to_tick(price, INSTRUMENT.tick_size, up=False)


def ceil(price: Decimal) -> Decimal:
    return round_to_tick(price, INSTRUMENT.tick_size, up=True)


@pytest.fixture
def sup() -> Supervisor:
    return Supervisor(settings())


# --- pullback_ribbon -------------------------------------------------------------------------
def test_pullback_long_in_uptrend(sup: Supervisor) -> None:
    candles = rising()
    decision = sup.decide(context(candles))
    it = decision.intent
    assert it is not None, decision.reason
    closes = [c.close for c in candles]
    ema20 = ind.ema(closes, 20)[-1]
    atr = ind.atr(candles, 14)[-1]
    assert it.setup == PULLBACK and it.side is Side.LONG and it.order_type == "limit"
    # limit at EMA20, on the tick grid, rounded down for a buy
    assert it.entry % INSTRUMENT.tick_size == 0
    assert ema20 - INSTRUMENT.tick_size < it.entry <= ema20
    # stop/target on the tick grid: rounded away from / toward the entry (down for a long)
    assert it.stop == floor(it.entry - D("1.5") * atr)
    assert it.target == floor(it.entry + D("2.0") * D("1.5") * atr)
    assert it.atr == atr
    assert it.qty % INSTRUMENT.lot_step == 0 and it.qty > 0
    assert sup.decide(context(candles)) == decision  # same candles, same decision


def test_pullback_short_in_downtrend_rounds_up(sup: Supervisor) -> None:
    candles = falling()
    it = sup.decide(context(candles)).intent
    assert it is not None and it.setup == PULLBACK and it.side is Side.SHORT
    ema20 = ind.ema([c.close for c in candles], 20)[-1]
    assert ema20 <= it.entry < ema20 + INSTRUMENT.tick_size
    atr = ind.atr(candles, 14)[-1]
    assert it.stop == ceil(it.entry + D("1.5") * atr)
    assert it.target == ceil(it.entry - D(3) * atr)
    assert it.stop > it.entry > it.target


def test_pullback_near_miss_close_through_ema20(sup: Supervisor) -> None:
    candles = rising()
    ema20 = ind.ema([c.close for c in candles[:-1]], 20)[-1]
    prev = candles[-2].close
    # last candle closes just under EMA20: still an up-trend, but not a pullback entry
    close = (ema20 - 1).quantize(D("0.1"))
    candles[-1] = candle(119, prev, prev + 5, close - 1, close)
    decision = sup.decide(context(candles))
    assert decision.intent is None
    assert "close is through EMA20" in decision.reason


def test_chop_gives_no_setup(sup: Supervisor) -> None:
    decision = sup.decide(context(series([50000] * 120)))
    assert decision.intent is None
    assert "CHOP" in decision.reason and "no sweep" in decision.reason


# --- sweep_invalidation ----------------------------------------------------------------------
def test_sweep_long_fires_with_vwap_target(sup: Supervisor) -> None:
    candles = sweep_series()
    decision = sup.decide(context(candles))
    it = decision.intent
    assert it is not None, decision.reason
    assert it.setup == SWEEP and it.side is Side.LONG and it.order_type == "market"
    atr = ind.atr(candles, 14)[-1]
    assert it.entry == D(50015)
    assert it.stop == floor(D(49990) - D("0.5") * atr)  # beyond the swept low by 0.5 ATR
    vwap = ind.vwap(candles[-60:])
    assert vwap is not None and it.target == floor(vwap)
    assert "trend DOWN but close is through EMA20" not in it.reason


def mirror(cs: list[Candle]) -> list[Candle]:
    """The same market upside down (prices reflected around 50000): a long setup becomes the
    identical short one."""
    m = D(100000)
    return [candle(i, m - c.open, m - c.low, m - c.high, m - c.close, c.volume)
            for i, c in enumerate(cs)]


def test_sweep_short_fires_mirrored(sup: Supervisor) -> None:
    candles = mirror(sweep_series())
    decision = sup.decide(context(candles))
    it = decision.intent
    assert it is not None, decision.reason
    assert it.setup == SWEEP and it.side is Side.SHORT and it.order_type == "market"
    atr = ind.atr(candles, 14)[-1]
    assert it.entry == D(49985)  # the sweep candle's close
    assert it.stop == ceil(D(50010) + D("0.5") * atr)  # above the swept high (wick) by 0.5 ATR
    vwap = ind.vwap(candles[-60:])
    assert vwap is not None and it.target == ceil(vwap) < it.entry
    assert "high 50003 of the prior 10 candles swept" in it.reason


def test_sweep_volume_exactly_half_the_average_passes(sup: Supervisor) -> None:
    # the 20 candles before the sweep traded 10 each: 5 is not < 0.5 x 10, 4.9999 is
    at = sup.decide(context(sweep_series(candle(110, 50020, 50025, 49990, 50015, v=5))))
    assert at.intent is not None and at.intent.setup == SWEEP, at.reason
    below = sup.decide(context(sweep_series(candle(110, 50020, 50025, 49990, 50015,
                                                   v="4.9999"))))
    assert below.intent is None and "volume 4.9999 < 0.5" in below.reason


def test_market_entry_capped_by_notional_is_accepted_by_the_broker() -> None:
    from laptop_agents.paper.broker import PaperBroker
    from tests.core.factories import T0, tick

    def place(headroom: str) -> tuple[object, object]:
        s = settings(market_cap_headroom=D(headroom), max_notional=D(40000))
        it = Supervisor(s).decide(context(sweep_series())).intent
        assert it is not None and it.order_type == "market"
        # the quote at submission is a little above the sweep candle's close (50015)
        return it, PaperBroker(s, INSTRUMENT).submit(it, tick(50030, "50030.1"), T0)

    it, result = place("0.005")
    assert "capped by max_notional" in it.reason  # type: ignore[attr-defined]
    assert it.qty == D("0.7957")  # type: ignore[attr-defined]  # 40000 / (50015 x 1.005)
    assert result.accepted, result.reason  # type: ignore[attr-defined]
    # without headroom the cap is computed at the close and the fill price breaks it
    it, result = place("0")
    assert not result.accepted and result.code == "max_notional"  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("last", "why"),
    [
        (candle(110, 50020, 50025, 49998, 50015), "no sweep"),      # low not broken
        (candle(110, 50020, 50025, 49990, 49996), "no sweep"),      # closes outside
        (candle(110, 50020, 50025, 49990, 50015, v=4), "volume"),   # 4 < 0.5 x 10
        (candle(110, 50020, 50040, 50010, 50015), "short blocked, EMA9 above EMA20"),
        (candle(110, 50020, 50040, 49990, 50015), "both extremes swept"),
    ],
)
def test_sweep_near_misses_and_filters(sup: Supervisor, last: Candle, why: str) -> None:
    candles = tuple(sweep_series(last))
    candidate, reason = sup.sweep_invalidation(candles, sup.snapshot(candles),
                                               context(list(candles)))
    assert candidate is None
    assert why in reason
    decision = sup.decide(context(list(candles)))
    assert decision.intent is None or decision.intent.setup != SWEEP


def test_sweep_long_blocked_when_fast_ema_points_down(sup: Supervisor) -> None:
    # a falling tail puts EMA9 under EMA20; the same sweep-and-reclaim is then refused
    cs = sweep_series()[:100]
    for i in range(100, 110):
        c = 50000 - 3 * (i - 99)
        cs.append(candle(i, c + 3, c + 5, c - 5, c))
    cs.append(candle(110, 49970, 49975, 49960, 49972))
    candles = tuple(cs)
    snap = sup.snapshot(candles)
    assert snap.ema_fast < snap.ema_mid
    candidate, reason = sup.sweep_invalidation(candles, snap, context(cs))
    assert candidate is None
    assert "long blocked, EMA9 below EMA20" in reason


# --- gates -----------------------------------------------------------------------------------
def test_reward_risk_gate_blocks() -> None:
    sup = Supervisor(settings(min_reward_risk=D(3)))
    decision = sup.decide(context(sweep_series()))
    assert decision.intent is None
    assert "sweep_invalidation: reward/risk 2.10 below 3" in decision.reason
    # the pullback's R/R is 2.0 by construction: also below 3
    assert sup.decide(context(rising())).intent is None


def test_reward_risk_gate_boundary() -> None:
    it = Supervisor(settings()).decide(context(sweep_series())).intent
    assert it is not None
    rr = (it.target - it.entry) / (it.entry - it.stop)
    assert Supervisor(settings(min_reward_risk=rr)).decide(context(sweep_series())).intent == it
    blocked = Supervisor(settings(min_reward_risk=rr + D("1e-9"))).decide(
        context(sweep_series()))
    assert blocked.intent is None and "sweep_invalidation: reward/risk" in blocked.reason


def test_pullback_refused_by_a_gate_falls_through_to_the_sweep() -> None:
    # the pullback's R/R is 2.0 (up to tick rounding): at 2.05 it is refused and the sweep is
    # evaluated next (its short is blocked by the EMA filter); the reason says why for both
    sup = Supervisor(settings(min_reward_risk=D("2.05")))
    decision = sup.decide(context(rising()))
    assert decision.intent is None
    assert decision.reason.startswith("pullback_ribbon: reward/risk 2.00 below 2.05; ")
    assert "; sweep_invalidation: short blocked, EMA9 above EMA20" in decision.reason
    # and the sweep fires when the pullback has no setup at all
    it = sup.decide(context(sweep_series())).intent
    assert it is not None and it.setup == SWEEP


def test_cooldown_after_exit() -> None:
    sup = Supervisor(settings())
    assert sup.decide(context(rising(), since_exit=4)).reason.startswith("cooldown: 4/5")
    assert sup.decide(context(rising(), since_exit=5)).intent is not None
    assert sup.decide(context(rising(), since_exit=None)).intent is not None


def test_min_atr_gate() -> None:
    flat_quiet = series([50000 + (i % 2) for i in range(120)], spread=0)  # ATR ~ 1
    decision = Supervisor(settings()).decide(context(flat_quiet))
    assert decision.intent is None and "ATR/price" in decision.reason
    # boundary: ATR/price exactly at the floor is not below it
    snap = Supervisor(settings()).snapshot(tuple(flat_quiet))
    ratio = snap.atr / snap.close
    assert "ATR/price" not in Supervisor(settings(min_atr_pct=ratio)).decide(
        context(flat_quiet)).reason
    assert "ATR/price" in Supervisor(settings(min_atr_pct=ratio + D("1e-12"))).decide(
        context(flat_quiet)).reason
    # the same series trades only when the gate is lowered
    low = Supervisor(settings(min_atr_pct=D(0)))
    assert "ATR/price" not in low.decide(context(flat_quiet)).reason


def test_warmup_position_and_working_order_block(sup: Supervisor) -> None:
    assert sup.warmup == 100
    assert sup.decide(context(rising(99))).reason == "warming up: 99/100 closed candles"
    assert sup.decide(context(rising(100))).intent is not None
    pos = PositionView(Side.LONG, D(1), D(50000), D(49900), D(50200))
    assert "position open" in sup.decide(context(rising(), position=pos)).reason
    assert sup.decide(context(rising(), position=pos)).intent is None
    assert "order is working" in sup.decide(context(rising(), working=True)).reason


def test_sizing_uses_the_equity_it_is_given(sup: Supervisor) -> None:
    small = sup.decide(context(rising(), equity=1000)).intent
    large = sup.decide(context(rising(), equity=2000)).intent
    assert small is not None and large is not None
    assert large.qty == pytest.approx(2 * small.qty, abs=D("0.0002"))


# --- sizing ----------------------------------------------------------------------------------
def size(**kw: object) -> object:
    args: dict[str, object] = dict(equity=D(10000), risk_pct=D("0.01"), entry=D(50000),
                                   stop=D(49900), instrument=INSTRUMENT,
                                   max_notional=D(1_000_000), max_leverage=D(100),
                                   min_notional=D(5))
    args.update(kw)
    return position_size(**args)  # type: ignore[arg-type]


def test_sizing_risk_fraction_and_lot_floor() -> None:
    r = size()  # 10000 x 0.01 / 100 = 1
    assert r.qty == D("1.0000") and r.capped_by is None  # type: ignore[attr-defined]
    r = size(stop=D(49970))  # 100 / 30 = 3.3333.. -> floored to 3.3333
    assert r.qty == D("3.3333")  # type: ignore[attr-defined]
    r = size(equity=D(12345), stop=D(49877))  # 123.45 / 123 = 1.00365.. -> 1.0036
    assert r.qty == D("1.0036")  # type: ignore[attr-defined]


def test_sizing_caps() -> None:
    r = size(max_notional=D(25000))  # 25000 / 50000 = 0.5
    assert (r.qty, r.capped_by) == (D("0.5000"), "max_notional")  # type: ignore[attr-defined]
    r = size(max_leverage=D(2))  # 10000 x 2 / 50000 = 0.4
    assert (r.qty, r.capped_by) == (D("0.4000"), "max_leverage")  # type: ignore[attr-defined]
    tight = Instrument("BTCUSDT", D("0.1"), D("0.001"), D("0.001"), max_leverage=3)
    r = size(instrument=tight)  # instrument's 3x beats the setting's 100x: 0.6
    assert (r.qty, r.capped_by) == (D("0.600"), "max_leverage")  # type: ignore[attr-defined]
    r = size(max_qty=D("0.25"))
    assert (r.qty, r.capped_by) == (D("0.2500"), "max_position_qty")  # type: ignore[attr-defined]


def test_sizing_rejections() -> None:
    r = size(equity=D(1), stop=D(40000))  # 0.01 / 10000 -> below one lot
    assert not r.ok and "below the minimum quantity" in r.reason  # type: ignore[attr-defined]
    r = size(equity=D(100), stop=D(40000), min_notional=D(10))  # 0.0001 lot = 5 USDT < 10
    assert not r.ok and "below min_notional" in r.reason  # type: ignore[attr-defined]
    assert not size(stop=D(50000)).ok  # type: ignore[attr-defined]
    assert not size(equity=D(0)).ok  # type: ignore[attr-defined]


@pytest.mark.parametrize("bad", [D(1), D(5), D(0), D(-1)])
def test_risk_pct_must_be_a_fraction(bad: Decimal) -> None:
    with pytest.raises(ValueError, match="fraction"):
        size(risk_pct=bad)


def test_settings_reject_percent_units() -> None:
    with pytest.raises(ValueError):
        Settings(risk_pct=D(1))
