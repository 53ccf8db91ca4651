"""The Supervisor: two setups (pullback_ribbon, then sweep_invalidation) behind shared gates.

Pure and deterministic: the same context gives the same decision. Its own numbers are
:class:`SupervisorParams` (LA_STRATEGY_PARAMS, defaulting to the LA_* settings of the same
names); sizing uses the account's :class:`AccountRules`. The rules are in docs/strategy.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

import laptop_agents.strategy.indicators as ind
from laptop_agents.config import Settings
from laptop_agents.models import Candle, Side
from laptop_agents.strategy.base import Decision, OrderIntent, OrderType, StrategyContext
from laptop_agents.strategy.incremental import CandleIndicators, Readings
from laptop_agents.strategy.sizing import (
    AccountRules,
    account_rules,
    check_fraction,
    position_size,
    round_to_tick,
)

PULLBACK = "pullback_ribbon"
SWEEP = "sweep_invalidation"


@dataclass(frozen=True, slots=True)
class Candidate:
    """A setup's proposed trade before the shared gates and sizing."""

    setup: str
    side: Side
    order_type: OrderType
    entry: Decimal
    stop: Decimal
    target: Decimal
    reason: str


class Snapshot:
    """Indicators at the last closed candle. The fast EMA is only worked out when a sweep
    asks for it: most decisions never do (docs/performance.md, "Strategy")."""

    __slots__ = ("_readings", "atr", "close", "ema_mid", "ema_slow", "fast_period")

    def __init__(self, close: Decimal, atr: Decimal, ema_mid: Decimal, ema_slow: Decimal,
                 readings: Readings, fast_period: int) -> None:
        self.close, self.atr, self.ema_mid, self.ema_slow = close, atr, ema_mid, ema_slow
        self._readings, self.fast_period = readings, fast_period

    @property
    def ema_fast(self) -> Decimal:
        return self._readings.ema(self.fast_period)


class SupervisorParams(BaseModel):
    """The Supervisor's parameters. Each default is overridden by the LA_* setting of the same
    name (which predates LA_STRATEGY_PARAMS), then by LA_STRATEGY_PARAMS."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    warmup_candles: int = Field(100, ge=100, description="Minimum closed candles before trading.")
    ema_fast: int = Field(9, ge=2, description="Fast EMA (sweep direction filter).")
    ema_mid: int = Field(20, ge=2, description="EMA for trend and pullback entry.")
    ema_slow: int = Field(50, ge=2, description="Slow EMA for trend.")
    atr_period: int = Field(14, ge=2, description="ATR period.")
    pullback_stop_atr: Decimal = Field(Decimal("1.5"), gt=0, description="Stop = ATR x this.")
    pullback_target_r: Decimal = Field(Decimal("2.0"), gt=0, description="Target in risk units.")
    sweep_lookback: int = Field(10, ge=2, description="Prior candles whose extreme is swept.")
    sweep_stop_atr: Decimal = Field(Decimal("0.5"), ge=0, description="Stop beyond the sweep.")
    sweep_vwap_period: int = Field(60, ge=2, description="Candles in the VWAP target.")
    volume_avg_period: int = Field(20, ge=2, description="Candles in the volume average.")
    sweep_min_volume_ratio: Decimal = Field(Decimal("0.5"), ge=0, description="Min vol/avg.")
    min_reward_risk: Decimal = Field(Decimal("1.5"), gt=0, description="Reward/risk gate.")
    cooldown_candles: int = Field(5, ge=0, description="Candles without entries after exit.")
    min_atr_pct: Decimal = Field(Decimal("0.0001"), ge=0, description="No setup below ATR/price.")
    market_cap_headroom: Decimal = Field(
        Decimal("0.005"), ge=0, lt=Decimal("0.1"),
        description="Market entries are sized this fraction under the notional/leverage caps.",
    )

    @model_validator(mode="after")
    def _ordered_emas(self) -> SupervisorParams:
        if not self.ema_fast < self.ema_mid < self.ema_slow:
            raise ValueError("ema_fast < ema_mid < ema_slow must hold")
        return self

    @classmethod
    def settings_defaults(cls, settings: Settings) -> dict[str, Any]:
        """The LA_* settings that were the Supervisor's parameters before LA_STRATEGY_PARAMS:
        they still set its defaults, so existing .env files keep their meaning."""
        return {name: getattr(settings, name) for name in cls.model_fields}


def reward_risk(side: Side, entry: Decimal, stop: Decimal, target: Decimal) -> Decimal:
    """Reward over risk, signed: negative when the target is on the wrong side of the entry."""
    direction = 1 if side is Side.LONG else -1
    risk = (entry - stop) * direction
    if risk <= 0:
        return Decimal(-1)
    return (target - entry) * direction / risk


class Supervisor:
    """Pullback to EMA20 in a trend (limit), else a reclaimed liquidity sweep (market).

    Implements :class:`~laptop_agents.strategy.base.Strategy`; docs/strategy.md has the rules.
    """

    name = "supervisor"
    Params = SupervisorParams

    def __init__(self, params: SupervisorParams | Settings,
                 account: AccountRules | None = None) -> None:
        # Settings alone is still accepted (tests and other callers build it that way): its
        # LA_* fields give both the parameters and the account's rules.
        if isinstance(params, Settings):
            account = account or account_rules(params)
            params = SupervisorParams(**SupervisorParams.settings_defaults(params))
        if account is None:
            raise TypeError("Supervisor(params, account): the account's rules are required")
        self.s = params
        self.account = account
        check_fraction(account.risk_pct)
        # Enough history for the slowest indicator, and never fewer than the configured warm-up.
        self.warmup = max(
            params.warmup_candles,
            params.ema_slow,
            params.atr_period + 1,
            params.sweep_vwap_period,
            params.sweep_lookback + 1,
            params.volume_avg_period + 1,
        )
        # EMAs and ATR follow the engine's sliding window in O(1) per candle; any other
        # context is recomputed from its candles, so decisions stay a function of the context.
        self._indicators = CandleIndicators(
            (params.ema_fast, params.ema_mid, params.ema_slow), params.atr_period)

    # --- public ----------------------------------------------------------------------------
    def decide(self, ctx: StrategyContext) -> Decision:
        s = self.s
        candles = ctx.candles
        if len(candles) < self.warmup:
            return Decision(None, f"warming up: {len(candles)}/{self.warmup} closed candles")
        if ctx.position is not None:
            return Decision(None, f"position open ({ctx.position.side.value}); no new entry")
        if ctx.has_working_order:
            return Decision(None, "an entry order is working; no new entry")
        if ctx.candles_since_exit is not None and ctx.candles_since_exit < s.cooldown_candles:
            return Decision(
                None, f"cooldown: {ctx.candles_since_exit}/{s.cooldown_candles} candles since exit"
            )
        snap = self.snapshot(candles)
        if snap.atr / snap.close < s.min_atr_pct:
            return Decision(None, f"ATR/price {snap.atr / snap.close:.6f} below {s.min_atr_pct}")

        blocked: list[str] = []
        for setup in (self.pullback_ribbon, self.sweep_invalidation):
            candidate, why = setup(candles, snap, ctx)
            if candidate is None:
                blocked.append(why)
                continue
            intent, why = self._gate_and_size(candidate, snap, ctx)
            if intent is not None:
                return Decision(intent, intent.reason)
            blocked.append(why)
        return Decision(None, "; ".join(blocked))

    def snapshot(self, candles: tuple[Candle, ...]) -> Snapshot:
        """Indicators at the last candle; ValueError when there are too few candles."""
        s, readings = self.s, self._indicators.read(candles)
        return Snapshot(candles[-1].close, readings.atr(), readings.ema(s.ema_mid),
                        readings.ema(s.ema_slow), readings, s.ema_fast)

    # --- setups ----------------------------------------------------------------------------
    def pullback_ribbon(
        self, candles: tuple[Candle, ...], snap: Snapshot, ctx: StrategyContext
    ) -> tuple[Candidate | None, str]:
        s = self.s
        if snap.ema_mid > snap.ema_slow:
            side = Side.LONG
        elif snap.ema_mid < snap.ema_slow:
            side = Side.SHORT
        else:
            return None, f"{PULLBACK}: CHOP (EMA{s.ema_mid} == EMA{s.ema_slow})"
        trend = "UP" if side is Side.LONG else "DOWN"
        # A pullback entry rests on the trend side: a buy limit below the close (UP) or a sell
        # limit above it (DOWN). A close already through EMA20 is not a pullback.
        if (side is Side.LONG and snap.close <= snap.ema_mid) or (
            side is Side.SHORT and snap.close >= snap.ema_mid
        ):
            return None, f"{PULLBACK}: trend {trend} but close is through EMA{s.ema_mid}"
        # Round the limit to the tick on the passive side (down for a buy, up for a sell).
        tick = ctx.instrument.tick_size
        entry = round_to_tick(snap.ema_mid, tick, up=side is Side.SHORT)
        distance = s.pullback_stop_atr * snap.atr
        if side is Side.LONG:
            stop, target = entry - distance, entry + s.pullback_target_r * distance
        else:
            stop, target = entry + distance, entry - s.pullback_target_r * distance
        reason = (
            f"{PULLBACK}: trend {trend} (EMA{s.ema_mid} {snap.ema_mid.quantize(tick / 100)} vs "
            f"EMA{s.ema_slow} {snap.ema_slow.quantize(tick / 100)}); limit at EMA{s.ema_mid}"
        )
        return Candidate(PULLBACK, side, "limit", entry, stop, target, reason), ""

    def sweep_invalidation(
        self, candles: tuple[Candle, ...], snap: Snapshot, ctx: StrategyContext
    ) -> tuple[Candidate | None, str]:
        s = self.s
        last = candles[-1]
        prior = candles[-1 - s.sweep_lookback:-1]
        prior_high, prior_low = ind.highest_high(prior), ind.lowest_low(prior)
        swept_high = last.high > prior_high and last.close < prior_high
        swept_low = last.low < prior_low and last.close > prior_low
        if swept_high == swept_low:
            why = "both extremes swept" if swept_high else "no sweep"
            return None, f"{SWEEP}: {why} of the prior {s.sweep_lookback} candles"
        side = Side.LONG if swept_low else Side.SHORT
        # Trend filter: the fast EMA must not point against the trade.
        if side is Side.LONG and snap.ema_fast < snap.ema_mid:
            return None, f"{SWEEP}: long blocked, EMA{s.ema_fast} below EMA{s.ema_mid}"
        if side is Side.SHORT and snap.ema_fast > snap.ema_mid:
            return None, f"{SWEEP}: short blocked, EMA{s.ema_fast} above EMA{s.ema_mid}"
        # Volume filter: the sweep candle against the average of the candles before it.
        average = ind.volume_average(candles[:-1], s.volume_avg_period)
        if average > 0 and last.volume < s.sweep_min_volume_ratio * average:
            return None, (
                f"{SWEEP}: volume {last.volume} < {s.sweep_min_volume_ratio} x average "
                f"{average:.4f}"
            )
        target = ind.vwap(candles[-s.sweep_vwap_period:])
        if target is None:
            return None, f"{SWEEP}: no volume for the VWAP target"
        entry = last.close
        buffer = s.sweep_stop_atr * snap.atr
        stop = last.low - buffer if side is Side.LONG else last.high + buffer
        extreme = prior_low if side is Side.LONG else prior_high
        reason = (
            f"{SWEEP}: {'low' if side is Side.LONG else 'high'} {extreme} of the prior "
            f"{s.sweep_lookback} candles swept and reclaimed; target VWAP{s.sweep_vwap_period}"
        )
        return Candidate(SWEEP, side, "market", entry, stop, target, reason), ""

    # --- gates shared by both setups -------------------------------------------------------
    def _gate_and_size(
        self, c: Candidate, snap: Snapshot, ctx: StrategyContext
    ) -> tuple[OrderIntent | None, str]:
        s = self.s
        # Exchange-valid levels: the stop rounds away from the entry and the target toward it
        # (down for a long, up for a short), so rounding never flatters the reward/risk.
        tick, up = ctx.instrument.tick_size, c.side is Side.SHORT
        c = replace(c, stop=round_to_tick(c.stop, tick, up=up),
                    target=round_to_tick(c.target, tick, up=up))
        rr = reward_risk(c.side, c.entry, c.stop, c.target)
        if rr < s.min_reward_risk:
            return None, f"{c.setup}: reward/risk {rr:.2f} below {s.min_reward_risk}"
        # A market entry fills at the ask/bid plus slippage, not at the close it was sized on,
        # and the broker checks the notional/leverage caps at that fill price: leave headroom.
        cap_price = c.entry
        if c.order_type == "market":
            cap_price = c.entry * (1 + s.market_cap_headroom)
        a = self.account
        size = position_size(
            equity=ctx.equity,
            risk_pct=a.risk_pct,
            entry=c.entry,
            stop=c.stop,
            instrument=ctx.instrument,
            max_notional=a.max_notional,
            max_leverage=a.max_leverage,
            min_notional=a.min_notional,
            max_qty=a.max_position_qty,
            cap_price=cap_price,
            costs=a.costs(c.order_type),
            available=ctx.available,
            notional_room=(a.max_total_notional - ctx.committed_notional
                           if a.max_total_notional else None),
        )
        if not size.ok:
            return None, f"{c.setup}: {size.reason}"
        reason = f"{c.reason}; R/R {rr:.2f}; {size.reason}"
        intent = OrderIntent(
            side=c.side,
            order_type=c.order_type,
            qty=size.qty,
            entry=c.entry,
            stop=c.stop,
            target=c.target,
            setup=c.setup,
            reason=reason,
            atr=snap.atr,
        )
        return intent, reason

