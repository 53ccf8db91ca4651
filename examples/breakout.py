"""Breakout: a close beyond the last N candles' range, entered on a retest (docs/strategies.md)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field

from laptop_agents.strategy import Decision, OrderIntent, Side, StrategyContext
from laptop_agents.strategy.incremental import CandleIndicators
from laptop_agents.strategy.indicators import highest_high, lowest_low
from laptop_agents.strategy.sizing import AccountRules, position_size
from laptop_agents.strategy.sizing import round_to_tick as on_tick


class BreakoutParams(BaseModel, frozen=True, extra="forbid"):
    lookback: int = Field(20, ge=2, description="Candles whose high/low the close must break.")
    atr_period: int = Field(14, ge=2, description="ATR period for the stop.")
    stop_atr: Decimal = Field(Decimal("1"), gt=0, description="Stop this many ATRs past the level.")
    target_r: Decimal = Field(Decimal("2"), gt=0, description="Target in multiples of the risk.")


class Breakout:
    """A close above the prior N highs buys a limit at that high (a retest); below the lows
    sells one at the low. Stop ATRs beyond the level, target in R."""

    name = "breakout"
    Params = BreakoutParams

    def __init__(self, params: BreakoutParams, account: AccountRules) -> None:
        self.p, self.account = params, account
        self.warmup = max(params.lookback, params.atr_period) + 1  # the prior N plus this one
        # ATR carried between contexts, read only on a breakout: a gap since the last read
        # is caught up candle by candle (or recomputed), with the same answer either way.
        self.indicators = CandleIndicators((), params.atr_period)

    def decide(self, ctx: StrategyContext) -> Decision:
        p, a, candles = self.p, self.account, ctx.candles
        if len(candles) < self.warmup:
            return Decision(None, f"warming up: {len(candles)}/{self.warmup} closed candles")
        if ctx.position is not None or ctx.has_working_order:
            return Decision(None, "in the market already")
        prior, close = candles[-1 - p.lookback:-1], candles[-1].close
        high, low = highest_high(prior), lowest_low(prior)
        if low <= close <= high:
            return Decision(None, f"inside the {p.lookback}-candle range {low}-{high}")
        side, sign, level = (Side.LONG, 1, high) if close > high else (Side.SHORT, -1, low)
        # A buy limit at the broken high rests below the close (passive): it fills on a retest.
        tick, atr_now = ctx.instrument.tick_size, self.indicators.read(candles).atr()
        entry = on_tick(level, tick, up=sign < 0)
        stop = on_tick(entry - sign * p.stop_atr * atr_now, tick, up=sign < 0)
        target = on_tick(entry + p.target_r * (entry - stop), tick, up=sign < 0)
        size = position_size(
            equity=ctx.equity, risk_pct=a.risk_pct, entry=entry, stop=stop,
            instrument=ctx.instrument, max_notional=a.max_notional, max_leverage=a.max_leverage,
            min_notional=a.min_notional, max_qty=a.max_position_qty, costs=a.costs("limit"),
            available=ctx.available)
        if not size.ok:
            return Decision(None, f"breakout: {size.reason}")
        reason = f"close {close} broke the {p.lookback}-candle {'high' if sign > 0 else 'low'} "
        reason += f"{level}; limit on the retest; {size.reason}"
        return Decision(OrderIntent(side, "limit", size.qty, entry, stop, target, self.name,
                                    reason, atr_now), reason)
