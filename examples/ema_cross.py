"""EMA cross: enter at market when the fast EMA crosses the slow one (docs/strategies.md)."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, Field, model_validator

from laptop_agents.strategy import Decision, OrderIntent, Side, StrategyContext
from laptop_agents.strategy.incremental import CandleIndicators
from laptop_agents.strategy.sizing import MARKET_CAP_HEADROOM, AccountRules, position_size
from laptop_agents.strategy.sizing import round_to_tick as on_tick


class EmaCrossParams(BaseModel, frozen=True, extra="forbid"):
    fast: int = Field(9, gt=1, description="Fast EMA period.")
    slow: int = Field(21, gt=2, description="Slow EMA period.")
    atr_period: int = Field(14, ge=2, description="ATR period for the stop.")
    stop_atr: Decimal = Field(Decimal("1.5"), gt=0, description="Stop distance in ATRs.")
    target_r: Decimal = Field(Decimal("2"), gt=0, description="Target in multiples of the risk.")

    @model_validator(mode="after")
    def _fast_below_slow(self) -> EmaCrossParams:
        if self.fast >= self.slow:
            raise ValueError("fast must be below slow")
        return self


class EmaCross:
    """Long when the fast EMA crosses above the slow one, short when below; market entry."""

    name = "ema_cross"
    Params = EmaCrossParams

    def __init__(self, params: EmaCrossParams, account: AccountRules) -> None:
        self.p, self.account = params, account
        # The cross compares this candle's EMAs with the previous candle's: one more candle.
        self.warmup = max(params.slow, params.atr_period) + 1
        # EMAs and ATR carried from one context to the next (O(1) per candle), recomputed
        # for any context that is not the previous one slid on: always the same answer.
        self.indicators = CandleIndicators((params.fast, params.slow), params.atr_period,
                                           before_last=True)

    def decide(self, ctx: StrategyContext) -> Decision:
        p, a, candles = self.p, self.account, ctx.candles
        if len(candles) < self.warmup:
            return Decision(None, f"warming up: {len(candles)}/{self.warmup} closed candles")
        if ctx.position is not None or ctx.has_working_order:
            return Decision(None, "in the market already")
        got = self.indicators.read(candles)
        before = got.ema_before(p.fast) - got.ema_before(p.slow)
        now = got.ema(p.fast) - got.ema(p.slow)
        if not (before <= 0 < now or before >= 0 > now):
            return Decision(None, f"no cross: EMA{p.fast} - EMA{p.slow} = {now:.2f}")
        side, sign = (Side.LONG, 1) if now > 0 else (Side.SHORT, -1)
        entry, tick, atr_now = candles[-1].close, ctx.instrument.tick_size, got.atr()
        # Stop rounded away from the entry, target toward it: rounding never flatters R/R.
        stop = on_tick(entry - sign * p.stop_atr * atr_now, tick, up=sign < 0)
        target = on_tick(entry + sign * p.target_r * p.stop_atr * atr_now, tick, up=sign < 0)
        size = position_size(
            equity=ctx.equity, risk_pct=a.risk_pct, entry=entry, stop=stop,
            instrument=ctx.instrument, max_notional=a.max_notional, max_leverage=a.max_leverage,
            min_notional=a.min_notional, max_qty=a.max_position_qty,
            cap_price=entry * (1 + MARKET_CAP_HEADROOM), costs=a.costs("market"),
            available=ctx.available)
        if not size.ok:
            return Decision(None, f"ema_cross: {size.reason}")
        reason = f"{side.value}: EMA{p.fast} crossed EMA{p.slow}; {size.reason}"
        return Decision(OrderIntent(side, "market", size.qty, entry, stop, target, self.name,
                                    reason, atr_now), reason)
