"""The backtest engine on constructed candles: the path model decides intrabar fills and exits,
liquidation and funding appear when constructed to, and the ledger invariant holds."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from laptop_agents.backtest.path import high_first, path_points, path_quotes
from laptop_agents.backtest.run import BacktestData, BacktestResult, backtest
from laptop_agents.config import Settings
from laptop_agents.models import DEFAULT_BTCUSDT, Candle, FundingSettlement, Side
from laptop_agents.paper.invariant import check_ledger
from laptop_agents.storage.journal import Journal
from laptop_agents.strategy.base import Decision, OrderIntent, StrategyContext

D = Decimal
MIN = 60_000
T0 = 1_704_067_200_000  # 2024-01-01T00:00Z
PRICE = D(50000)
STOP, TARGET, QTY = D(49800), D(50200), D("0.01")


def candle(i: int, o: str | Decimal = PRICE, h: str | Decimal = PRICE,
           low: str | Decimal = PRICE, c: str | Decimal = PRICE) -> Candle:
    return Candle("BTCUSDT", "1min", T0 + i * MIN, D(o), D(h), D(low), D(c), D(1), D(50000))


@dataclass
class Scripted:
    """Enters once, on the close of candle ``at``, with the given intent."""

    at: int
    order_type: str = "market"
    entry: Decimal = PRICE
    stop: Decimal = STOP
    target: Decimal = TARGET
    qty: Decimal = QTY
    name: str = "scripted"
    warmup: int = 1

    def decide(self, ctx: StrategyContext) -> Decision:
        if ctx.candles[-1].open_time != T0 + self.at * MIN or ctx.position is not None:
            return Decision(None, "waiting")
        intent = OrderIntent(Side.LONG, self.order_type, self.qty, self.entry,  # type: ignore[arg-type]
                             self.stop, self.target, "scripted", "test", D(0))
        return Decision(intent, "enter")


def run(tmp_path: Path, candles: list[Candle], strategy: Scripted,
        settlements: list[FundingSettlement] | None = None, **settings: object) -> BacktestResult:
    warm = [candle(i) for i in range(-5, 0)]
    data = BacktestData(DEFAULT_BTCUSDT, warm, candles, settlements, candles[0].open_time,
                        candles[-1].close_time, "test")
    result = backtest(Settings(source="sim", **settings), strategy, data,  # type: ignore[arg-type]
                      tmp_path / "bt")
    journal = Journal(result.journal)
    try:
        check_ledger(journal)
    finally:
        journal.close()
    return result


def test_path_orders_the_extreme_closer_to_the_open_first() -> None:
    up = candle(0, "100", "101", "97", "99")
    down = candle(0, "100", "103", "99", "102")
    assert high_first(up) and not high_first(down)
    assert [p.price for p in path_points(up)] == [D(100), D(101), D(97), D(99)]
    assert [p.price for p in path_points(down)] == [D(100), D(99), D(103), D(102)]
    assert [p.ts - up.open_time for p in path_points(up)] == [0, 20_000, 40_000, 59_999]
    assert high_first(candle(0, "100", "102", "98", "100"))  # a tie: open, high, low, close


def test_quotes_touch_the_path_price_from_inside_the_range() -> None:
    quotes = [q for _, q in path_quotes(candle(0, "100", "101", "97", "99"), D("0.1"))]
    high, low = quotes[1], quotes[2]
    assert (high.bid, high.ask) == (D("100.9"), D(101))  # the ask traded at the high
    assert (low.bid, low.ask) == (D(97), D("97.1"))  # the bid traded at the low


def test_target_first_when_the_high_is_closer_to_the_open(tmp_path: Path) -> None:
    candles = [candle(0), candle(1, h="50300", low="49500"), candle(2)]
    result = run(tmp_path, candles, Scripted(at=0))
    assert [t.exit_reason for t in result.trades] == ["target"]


def test_stop_first_when_the_low_is_closer_to_the_open(tmp_path: Path) -> None:
    candles = [candle(0), candle(1, h="50500", low="49700"), candle(2)]
    result = run(tmp_path, candles, Scripted(at=0))
    assert [t.exit_reason for t in result.trades] == ["stop"]


def test_a_limit_fills_intrabar_but_not_at_the_exact_extreme(tmp_path: Path) -> None:
    through = [candle(0), candle(1, h="50050", low="49800", c="49950"), candle(2)]
    result = run(tmp_path / "a", through, Scripted(at=0, order_type="limit", entry=D(49900),
                                                   stop=D(49000), target=D(51000)))
    entries = [f for f in result.fills if f.kind == "entry"]
    assert [(f.price, f.liquidity) for f in entries] == [(D(49900), "maker")]
    assert entries[0].ts == T0 + MIN + 40_000  # the low's quote, two thirds into the minute
    touched = run(tmp_path / "b", through, Scripted(at=0, order_type="limit", entry=D(49800),
                                                    stop=D(49000), target=D(51000)))
    assert touched.fills == []


def test_liquidation_on_the_mark_path(tmp_path: Path) -> None:
    crash = [candle(0), candle(1, h="50010", low="48500", c="49000"), candle(2, "49000",
                                                                               "49000",
                                                                               "49000",
                                                                               "49000")]
    result = run(tmp_path, crash, Scripted(at=0, stop=D(45000), target=D(60000)),
                 leverage=D(50))
    assert result.liquidations == 1
    assert result.trades[0].exit_reason == "liquidation"


def test_funding_settles_on_a_held_position(tmp_path: Path) -> None:
    settlement = FundingSettlement("BTCUSDT", T0 + 2 * MIN, D("0.001"), PRICE)
    candles = [candle(i) for i in range(4)]
    result = run(tmp_path, candles, Scripted(at=0, stop=D(45000), target=D(60000)),
                 settlements=[settlement])
    assert [(s.ts, s.amount) for s in result.ledger.funding] == [(T0 + 2 * MIN, D("0.5"))]
    assert result.ledger.totals.funding == D("0.5")
    assert result.funding_available


def test_without_settlements_funding_is_unavailable(tmp_path: Path) -> None:
    result = run(tmp_path, [candle(i) for i in range(3)], Scripted(at=0, stop=D(45000),
                                                                   target=D(60000)))
    assert not result.funding_available and result.ledger.funding == []
