"""The simulator's futures market REST endpoints (HTTP 200 + ``{"code","data","msg"}`` always)."""

from __future__ import annotations

from email.utils import formatdate
from typing import Any

from aiohttp import web

from laptop_agents.sim import frames, intervals
from laptop_agents.sim.contracts import fmt_scaled
from laptop_agents.sim.deep import DEEP_START_MS
from laptop_agents.sim.market import SymbolMarket, book_levels
from laptop_agents.sim.venue import MarketVenue

KLINE_DEFAULT_LIMIT = 100
KLINE_MAX_LIMIT = 200
DEPTH_LIMITS = {"1": 1, "5": 5, "15": 15, "50": 50, "max": 200}
DEPTH_DEFAULT_LIMIT = "50"
# Listed but not tradable, as live lists PREVIEW symbols and rows with isApiSupported false
# (reference 6.5 and the 2026-12 addendum), so a client's tradability check has something to
# refuse: (symbol, symbolStatus, isApiSupported). They are never simulated: REST kline/depth
# answer 20015 for them and a depth subscription gets one frame of empty levels.
UNTRADABLE_PAIRS: tuple[tuple[str, str, bool], ...] = (
    ("NEWCOINUSDT", "PREVIEW", True),
    ("OLDCOINUSDT", "CANCEL_ONLY", True),
    ("HALTCOINUSDT", "STOP", True),
    ("NOAPICOINUSDT", "OPEN", False),
)


def envelope(data: Any = None, code: int = 0, msg: str = "Success") -> web.Response:
    # Live answers errors with HTTP 200 too; clients must check `code`.
    return web.Response(text=frames.dumps({"code": code, "data": data, "msg": msg}),
                        content_type="application/json")


def _int_param(request: web.Request, name: str) -> int | None:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return None
    return int(raw)  # ValueError -> parameter error


def _kline_limit(raw: str | None) -> int | None:
    """The kline ``limit`` asked for (default 100); None when it breaks the 1-200 rule."""
    if raw is None:
        return KLINE_DEFAULT_LIMIT
    try:
        limit = int(raw)
    except ValueError:
        return None
    return limit if 1 <= limit <= KLINE_MAX_LIMIT else None


def _pair_row(symbol: str, base: str, min_volume: str, base_precision: int,
              quote_precision: int, max_leverage: int, status: str,
              api_supported: bool) -> dict[str, Any]:
    """One `trading_pairs` row with the reference's fields (6.5), as live sends them."""
    return {
        "symbol": symbol, "base": base, "quote": "USDT", "minTradeVolume": min_volume,
        "minBuyPriceOffset": "-0.95", "maxSellPriceOffset": "100",
        "maxLimitOrderVolume": "100000", "maxMarketOrderVolume": "50000",
        "basePrecision": base_precision, "quotePrecision": quote_precision,
        "minLeverage": 1, "maxLeverage": max_leverage, "defaultLeverage": 20,
        "defaultMarginMode": 1, "priceProtectScope": "0.02", "symbolStatus": status,
        "isApiSupported": api_supported, "maxFundingRate": "0.3", "minFundingRate": "-0.3",
    }


def kline_rows(market: SymbolMarket, interval: str, now: int, start: int | None,
               end: int | None, limit: int, swap: bool) -> list[dict[str, str]]:
    """Rows with ``start <= time < end``, newest first, the newest ``limit`` of the range; the
    running candle included. Before the origin they come from the deep history, which has
    nothing before DEEP_START_MS (a bucket that starts earlier is left out)."""
    top = now if end is None else min(now, end - 1)
    lowest = DEEP_START_MS if start is None else max(DEEP_START_MS, start)
    pd, sd = market.spec.price_decimals, market.spec.size_decimals
    rows: list[dict[str, str]] = []
    bucket = intervals.floor(interval, top)
    while bucket >= lowest and len(rows) < limit:
        following = intervals.following(interval, bucket)
        agg = market.span(bucket, following, min(now, following - 1))
        if agg is None:
            break
        base, quote = fmt_scaled(agg.volume, sd), fmt_scaled(agg.quote, pd + sd)
        rows.append({
            "open": fmt_scaled(agg.open, pd), "high": fmt_scaled(agg.high, pd),
            "low": fmt_scaled(agg.low, pd), "close": fmt_scaled(agg.close, pd),
            # Live 1m rows carry the base quantity under `quoteVol` (swapped names).
            "quoteVol": base if swap else quote, "baseVol": quote if swap else base,
            "time": str(bucket),
        })
        bucket = intervals.preceding(interval, bucket)
    return rows


def add_rest_routes(app: web.Application, venue: MarketVenue) -> None:
    endpoints = RestEndpoints(venue)
    app.on_response_prepare.append(endpoints.exchange_date)
    app.router.add_get("/api/v1/futures/market/kline", endpoints.kline)
    app.router.add_get("/api/v1/futures/market/trading_pairs", endpoints.trading_pairs)
    app.router.add_get("/api/v1/futures/market/depth", endpoints.depth)
    app.router.add_route("*", "/{tail:.*}", endpoints.not_found)


_UNTRADABLE = {symbol: (status, api) for symbol, status, api in UNTRADABLE_PAIRS}


class RestEndpoints:
    """The market endpoints of one venue."""

    def __init__(self, venue: MarketVenue) -> None:
        self.venue = venue

    async def kline(self, request: web.Request) -> web.Response:
        venue = self.venue
        venue.stats.rest_requests += 1
        q = request.query
        symbol = q.get("symbol", "").upper()
        if not symbol:
            return envelope(code=10002, msg="Parameter Error: symbol is required")
        if symbol not in venue.markets:
            return envelope(code=20015, msg="this Futures is not allowed to trade.")
        interval = intervals.from_rest(q.get("interval", ""))
        if interval is None:
            return envelope(code=10002, msg="Parameter Error: interval")
        try:
            start = _int_param(request, "startTime")
            end = _int_param(request, "endTime")
        except ValueError:
            return envelope(code=10002, msg="Parameter Error: startTime/endTime")
        limit = _kline_limit(q.get("limit"))
        if limit is None:
            return envelope(code=10008,
                            msg=f"limit value does not comply with rule: 1-{KLINE_MAX_LIMIT}")
        market = venue.markets[symbol]
        swap = venue.options.swapped_rest_volume and interval == "1min"
        return envelope(kline_rows(market, interval, venue.now_ms(), start, end, limit, swap))

    async def trading_pairs(self, request: web.Request) -> web.Response:
        markets = self.venue.markets
        self.venue.stats.rest_requests += 1
        wanted = request.query.get("symbols")
        names = ([s.strip().upper() for s in wanted.split(",")] if wanted
                 else [*markets, *_UNTRADABLE])
        data = []
        for name in names:
            if name in markets:
                spec = markets[name].spec
                data.append(_pair_row(spec.symbol, spec.base, spec.min_trade_volume,
                                      spec.size_decimals, spec.price_decimals,
                                      spec.max_leverage, "OPEN", True))
            elif name in _UNTRADABLE:
                status, api = _UNTRADABLE[name]
                data.append(_pair_row(name, name.removesuffix("USDT"), "1", 0, 4, 20, status,
                                      api))
        return envelope(data)

    async def depth(self, request: web.Request) -> web.Response:
        venue = self.venue
        venue.stats.rest_requests += 1
        symbol = request.query.get("symbol", "").upper()
        if not symbol:
            return envelope(code=1, msg="Network Error")
        if symbol not in venue.markets:
            return envelope(code=20015, msg="this Futures is not allowed to trade.")
        levels = DEPTH_LIMITS.get(request.query.get("limit", DEPTH_DEFAULT_LIMIT))
        if levels is None:
            return envelope(code=10008,
                            msg="limit value does not comply with rule: 1,5,15,50,max")
        market = venue.markets[symbol]
        bids, asks = book_levels(market, venue.now_ms(), levels)
        pd, sd = market.spec.price_decimals, market.spec.size_decimals
        return envelope({
            "asks": [[fmt_scaled(p, pd), fmt_scaled(s, sd)] for p, s in asks],
            "bids": [[fmt_scaled(p, pd), fmt_scaled(s, sd)] for p, s in bids],
        })

    async def not_found(self, request: web.Request) -> web.Response:
        return envelope(code=404, msg="Not Found")

    async def exchange_date(self, request: web.Request, response: web.StreamResponse) -> None:
        # The exchange's own clock in `Date` (aiohttp would write the host's): clients that
        # estimate exchange time from it must see simulated time, as from a real venue.
        response.headers["Date"] = formatdate(self.venue.now_ms() / 1000, usegmt=True)
