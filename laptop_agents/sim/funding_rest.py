"""The simulator's funding and tickers REST endpoints (reference 6.6), as rest.py's: HTTP 200
and ``{"code","data","msg"}`` always; symbols case-insensitive; every value a string except
``fundingInterval`` (a number of hours, as documented).

* ``funding_rate?symbol=`` and ``funding_rate/batch[?symbols=A,B]``: mark, last price, the
  upcoming rate (percent), the interval and the next settlement (ms string).
* ``get_funding_rate_history?symbol=&startTime=&endTime=&limit=``: past settlements, newest
  first (``starTime``, the documentation's spelling, is accepted too).
* ``tickers[?symbols=A,B]``: the 24 h rolling window with mark and last price.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from laptop_agents.sim.contracts import fmt_scaled
from laptop_agents.sim.funding import fmt_rate, price_state, settlements
from laptop_agents.sim.market import SymbolMarket
from laptop_agents.sim.rest import KLINE_DEFAULT_LIMIT, KLINE_MAX_LIMIT, envelope
from laptop_agents.sim.venue import MarketVenue

MARKET = "/api/v1/futures/market"
HISTORY_DEFAULT_LIMIT = KLINE_DEFAULT_LIMIT
HISTORY_MAX_LIMIT = KLINE_MAX_LIMIT
_TICKER_WINDOW_MS = 86_400_000
_HOUR_MS = 3_600_000


def add_funding_routes(app: web.Application, venue: MarketVenue) -> None:
    endpoints = FundingEndpoints(venue)
    app.router.add_get(f"{MARKET}/funding_rate", endpoints.funding_rate)
    app.router.add_get(f"{MARKET}/funding_rate/batch", endpoints.funding_rate_batch)
    app.router.add_get(f"{MARKET}/get_funding_rate_history", endpoints.history)
    app.router.add_get(f"{MARKET}/tickers", endpoints.tickers)


def _interval_hours(interval_ms: int) -> int | float:
    # Bitunix sends whole hours (an int); a shorter simulated interval is a fraction of one.
    hours, rest = divmod(interval_ms, _HOUR_MS)
    return hours if rest == 0 else round(interval_ms / _HOUR_MS, 6)


def _limit(raw: str | None) -> int | None:
    if raw is None or raw == "":
        return HISTORY_DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        return None
    return limit if 1 <= limit <= HISTORY_MAX_LIMIT else None


def _time(query: Any, *names: str) -> int | None:
    for name in names:
        raw = query.get(name)
        if raw not in (None, ""):
            return int(raw)  # ValueError -> parameter error
    return None


class FundingEndpoints:
    def __init__(self, venue: MarketVenue) -> None:
        self.venue = venue

    def _wanted(self, request: web.Request, param: str) -> list[SymbolMarket]:
        """The simulated markets a ``symbols=A,B`` list names (all without one); others are
        left out, as trading_pairs leaves out unknown names."""
        markets = self.venue.markets
        raw = request.query.get(param)
        names = [s.strip().upper() for s in raw.split(",")] if raw else list(markets)
        return [markets[n] for n in dict.fromkeys(names) if n in markets]

    def _one(self, request: web.Request) -> SymbolMarket | web.Response:
        symbol = request.query.get("symbol", "").upper()
        if not symbol:
            return envelope(code=10002, msg="Parameter Error: symbol is required")
        market = self.venue.markets.get(symbol)
        if market is None:
            return envelope(code=20015, msg="this Futures is not allowed to trade.")
        return market

    def _quote(self, market: SymbolMarket, now: int) -> dict[str, Any]:
        options = self.venue.options
        state = price_state(market, options.seed, options.funding_interval_ms, now)
        pd = market.spec.price_decimals
        return {
            "symbol": market.spec.symbol,
            "markPrice": fmt_scaled(state.mark, pd),
            "lastPrice": fmt_scaled(market.last_trade(now).price, pd),
            "fundingRate": fmt_rate(state.next_rate),
            "fundingInterval": _interval_hours(options.funding_interval_ms),
            "nextFundingTime": str(state.next_ms),
        }

    async def funding_rate(self, request: web.Request) -> web.Response:
        self.venue.stats.rest_requests += 1
        market = self._one(request)
        if isinstance(market, web.Response):
            return market
        return envelope(self._quote(market, self.venue.now_ms()))

    async def funding_rate_batch(self, request: web.Request) -> web.Response:
        self.venue.stats.rest_requests += 1
        now = self.venue.now_ms()
        return envelope([self._quote(m, now) for m in self._wanted(request, "symbols")])

    async def history(self, request: web.Request) -> web.Response:
        venue = self.venue
        venue.stats.rest_requests += 1
        market = self._one(request)
        if isinstance(market, web.Response):
            return market
        try:
            start = _time(request.query, "startTime", "starTime")
            end = _time(request.query, "endTime")
        except ValueError:
            return envelope(code=10002, msg="Parameter Error: startTime/endTime")
        limit = _limit(request.query.get("limit"))
        if limit is None:
            return envelope(code=10008,
                            msg=f"limit value does not comply with rule: 1-{HISTORY_MAX_LIMIT}")
        options, pd = venue.options, market.spec.price_decimals
        rows = settlements(market, options.seed, options.funding_interval_ms, venue.now_ms(),
                           start, end, limit)
        return envelope([{"symbol": market.spec.symbol, "fundingRate": fmt_rate(s.rate),
                          "fundingTime": str(s.ts), "markPrice": fmt_scaled(s.mark, pd)}
                         for s in rows])

    async def tickers(self, request: web.Request) -> web.Response:
        self.venue.stats.rest_requests += 1
        now = self.venue.now_ms()
        return envelope([row for m in self._wanted(request, "symbols")
                         if (row := self._ticker(m, now)) is not None])

    def _ticker(self, market: SymbolMarket, now: int) -> dict[str, str] | None:
        agg, open_price = market.rolling(now, _TICKER_WINDOW_MS)
        if agg is None or open_price is None:
            return None
        options = self.venue.options
        state = price_state(market, options.seed, options.funding_interval_ms, now)
        pd, sd = market.spec.price_decimals, market.spec.size_decimals
        last = fmt_scaled(market.last_trade(now).price, pd)
        # Named by meaning (quoteVol = USDT turnover, baseVol = base quantity), as the live
        # 4h kline rows have them; the reference does not say which is which here.
        return {"symbol": market.spec.symbol, "markPrice": fmt_scaled(state.mark, pd),
                "lastPrice": last, "open": fmt_scaled(open_price, pd), "last": last,
                "quoteVol": fmt_scaled(agg.quote, pd + sd), "baseVol": fmt_scaled(agg.volume, sd),
                "high": fmt_scaled(agg.high, pd), "low": fmt_scaled(agg.low, pd)}
