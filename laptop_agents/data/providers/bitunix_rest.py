"""Bitunix futures market REST client on the process's single aiohttp session.

Klines (warm-up, candle confirmation and gap backfill), trading pairs, depth and funding (the
current rate and past settlements, paged). Every reply is
HTTP 200 with ``{"code","data","msg"}``; ``code != 0`` becomes :class:`BitunixApiError` (or
:class:`RateLimitedError` for 10005/10006, retried with exponential backoff). Requests go
through one async limiter: at most ``LA_REST_MAX_REQUESTS_PER_SECOND`` (the exchange allows 10/s
per IP on market endpoints).
"""

from __future__ import annotations

import contextlib
import errno
import math
from email.utils import parsedate_to_datetime

import aiohttp
import orjson
from loguru import logger
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from laptop_agents.config import Settings
from laptop_agents.data.exchange_clock import ExchangeClock
from laptop_agents.data.providers.bitunix_protocol import DEPTH_LIMITS, REST_KLINE_PAGE
from laptop_agents.data.providers.bitunix_rest_parse import (
    BitunixApiError,
    DepthSnapshot,
    RateLimitedError,
    parse_depth,
    parse_funding_quote,
    parse_funding_row,
    parse_kline_row,
    parse_rest_envelope,
    parse_trading_pair,
)
from laptop_agents.data.providers.bitunix_values import MalformedFrame
from laptop_agents.data.providers.neterrors import describe_connect_error
from laptop_agents.data.providers.ratelimit import SlidingWindowLimiter
from laptop_agents.models import (
    WS_INTERVAL_MS,
    WS_TO_REST_INTERVAL,
    Candle,
    FundingQuote,
    FundingSettlement,
    Instrument,
)

KLINE_PATH = "/api/v1/futures/market/kline"
TRADING_PAIRS_PATH = "/api/v1/futures/market/trading_pairs"
DEPTH_PATH = "/api/v1/futures/market/depth"
FUNDING_RATE_PATH = "/api/v1/futures/market/funding_rate"
FUNDING_HISTORY_PATH = "/api/v1/futures/market/get_funding_rate_history"
FUNDING_PAGE = 200  # the documented maximum rows per history call
# A bound on one history walk (~2 requests per 199 settlements): 500 requests cover more than
# five years of hourly settlements; a server that keeps answering with new rows past that is
# not paging as documented.
MAX_FUNDING_REQUESTS = 500

QUIET_PROBE_S = 2.0  # no word from the exchange for this long: ask its time before paging
RETRY_ATTEMPTS = 4  # one request plus three retries (rate limited or transport failure)
RETRY_INITIAL = 0.5  # seconds before the first retry; doubles, plus jitter up to half of it
RETRY_MAX = 8.0  # cap of one retry delay


def _worth_retrying(error: BaseException) -> bool:
    """Rate limits, timeouts and dropped connections are retried; a refused connection is
    not: nothing listens there, and retrying would delay the WebSocket's own fail-fast
    decision (three refusals: exit 69) by the whole backoff."""
    if isinstance(error, aiohttp.ClientConnectorError):
        os_error = error.os_error
        return not (isinstance(os_error, ConnectionRefusedError)
                    or os_error.errno == errno.ECONNREFUSED)
    return isinstance(error, RateLimitedError | aiohttp.ClientConnectionError | TimeoutError)


class BitunixRestClient:
    def __init__(
        self, session: aiohttp.ClientSession, settings: Settings,
        clock: ExchangeClock | None = None,
        *, retry_initial: float = RETRY_INITIAL, retry_max: float = RETRY_MAX,
    ) -> None:
        self._session = session
        self._retry_initial = retry_initial  # tests shorten the backoff; the daemon never does
        self._retry_max = retry_max
        self._base = settings.bitunix_rest_url.rstrip("/")
        self._timeout = aiohttp.ClientTimeout(total=settings.rest_timeout)
        self.clock = clock or ExchangeClock()
        self.source = settings.source  # which market this is ("sim", "bitunix"), for messages
        # The limiter takes whole events per window: 10/s -> 10 per 1 s, 2.5/s -> 5 per 2 s.
        rate = settings.rest_max_requests_per_second
        period = 1.0 if rate >= 1 else 1.0 / rate
        self._limiter = SlidingWindowLimiter(max(1, math.floor(rate * period)), period)
        self.requests = 0  # requests sent, for tests and diagnostics

    # ------------------------------------------------------------------ transport

    async def _get_once(self, path: str, params: dict[str, str]) -> object:
        await self._limiter.acquire()
        self.requests += 1
        async with self._session.get(
            self._base + path, params=params, timeout=self._timeout
        ) as response:
            body = await response.read()
            self._observe_date(response.headers.get("Date"))
            if response.status != 200:
                raise BitunixApiError(response.status, f"HTTP {response.status} on {path}")
        try:
            payload = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise BitunixApiError(-1, f"non-JSON reply on {path}") from None
        return parse_rest_envelope(payload)

    def _observe_date(self, header: str | None) -> None:
        """Feed the exchange clock from the reply's ``Date`` (no server-time endpoint exists)."""
        if not header:
            return
        # An unparsable Date says nothing about the clock.
        with contextlib.suppress(TypeError, ValueError, OverflowError, IndexError):
            self.clock.observe_date(parsedate_to_datetime(header).timestamp())

    def _log_retry(self, path: str, state: RetryCallState) -> None:
        # WARNING, one short line: with no network these are the first lines to say why.
        error = state.outcome.exception() if state.outcome else None
        logger.warning("REST {} failed (attempt {}, retrying in {:.1f}s): {}", path,
                       state.attempt_number, state.next_action.sleep if state.next_action else 0,
                       describe_connect_error(self._base, error) if error else "?")

    async def get(self, path: str, params: dict[str, str]) -> object:
        """GET a public endpoint; retried with backoff when rate limited or on network errors."""
        retrying = AsyncRetrying(
            retry=retry_if_exception(_worth_retrying),
            wait=wait_exponential_jitter(multiplier=self._retry_initial, max=self._retry_max,
                                         jitter=self._retry_initial / 2),
            stop=stop_after_attempt(RETRY_ATTEMPTS),
            reraise=True,
            before_sleep=lambda state: self._log_retry(path, state),
        )
        async for attempt in retrying:
            with attempt:
                return await self._get_once(path, params)
        raise AssertionError("unreachable")  # pragma: no cover

    async def refresh_time(self, symbol: str) -> None:
        """Ask the exchange its time (a reply's Date header) when the clock has not heard from
        it lately: before the first push the laptop clock may be minutes off, and through an
        outage the estimate ran on alone."""
        if self.clock.informed and self.clock.quiet_for() <= QUIET_PROBE_S:
            return
        await self.get(KLINE_PATH, {"symbol": symbol.upper(), "interval": "1m", "limit": "1"})

    # ------------------------------------------------------------------ klines

    async def klines(
        self,
        symbol: str,
        interval: str = "1min",
        start_ms: int | None = None,
        end_ms: int | None = None,
        limit: int | None = None,
    ) -> list[Candle]:
        """Closed candles, oldest first, with ``start_ms <= open_time < end_ms``.

        ``limit`` keeps only the newest ``limit`` of them. Without ``start_ms`` and ``limit``
        one page (200) is fetched. The range is walked backward in windows that hold at most
        199 open times, each fetched with explicit ``startTime``/``endTime`` and ``limit=200``,
        so the result does not depend on whether the server treats either bound as inclusive
        or which end of a long range it prefers. Rows arrive newest first; the in-progress
        candle (``open_time + interval`` not yet passed by the exchange's own clock, as its
        pushes and ``Date`` headers show it) is dropped. A window with no rows at
        all means the history is exhausted.
        """
        symbol = symbol.upper()
        step = WS_INTERVAL_MS[interval]
        if interval not in WS_TO_REST_INTERVAL:
            raise ValueError(f"interval {interval!r} has no REST kline equivalent")
        if limit is not None and limit <= 0:
            return []
        if start_ms is None and limit is None:
            limit = REST_KLINE_PAGE
        # The windows below are placed in exchange time.
        await self.refresh_time(symbol)
        now = self.clock.now_ms()
        top = now // step * step + step  # exclusive bound that still includes the running bucket
        end = top if end_ms is None else min(end_ms, top)
        if start_ms is not None:
            start = -(-start_ms // step) * step  # first open time at or after start_ms
        else:
            assert limit is not None
            start = end - (limit + 1) * step  # +1: the in-progress row is dropped
        span = (REST_KLINE_PAGE - 1) * step

        found: dict[int, Candle] = {}
        window_end = end
        while window_end > start:
            window_start = max(start, window_end - span)
            rows = await self._kline_window(symbol, interval, window_start, window_end, found)
            if not rows or (limit is not None and len(found) >= limit):
                break
            window_end = window_start
        candles = [found[t] for t in sorted(found)]
        return candles[-limit:] if limit is not None else candles

    async def _kline_window(self, symbol: str, interval: str, window_start: int,
                            window_end: int, found: dict[int, Candle]) -> int:
        """Fetch one window into ``found`` (closed rows only); the number of rows returned."""
        step = WS_INTERVAL_MS[interval]
        params = {
            "symbol": symbol,
            "interval": WS_TO_REST_INTERVAL[interval],
            # "k-lines after this time": one ms earlier includes window_start whether the
            # server reads startTime as inclusive or exclusive.
            "startTime": str(window_start - 1),
            "endTime": str(window_end),
            "limit": str(REST_KLINE_PAGE),
        }
        rows = await self.get(KLINE_PATH, params)
        if not isinstance(rows, list):
            raise BitunixApiError(-1, "kline data is not a list")
        for row in rows:
            try:
                candle = parse_kline_row(row, symbol, interval)
            except MalformedFrame as error:
                logger.debug("skipping bad kline row: {}", error)
                continue
            if not window_start <= candle.open_time < window_end:
                continue
            if candle.open_time + step > self.clock.settled_ms():
                continue  # still in progress at the exchange (its clock, not ours)
            found[candle.open_time] = candle
        return len(rows)

    # ------------------------------------------------------------------ instruments, depth

    async def trading_pairs(self, symbols: list[str] | None = None) -> dict[str, Instrument]:
        params = {"symbols": ",".join(s.upper() for s in symbols)} if symbols else {}
        rows = await self.get(TRADING_PAIRS_PATH, params)
        if not isinstance(rows, list):
            raise BitunixApiError(-1, "trading_pairs data is not a list")
        out: dict[str, Instrument] = {}
        for row in rows:
            try:
                instrument = parse_trading_pair(row)
            except MalformedFrame as error:
                logger.debug("skipping bad trading pair: {}", error)
                continue
            out[instrument.symbol] = instrument
        return out

    async def instrument(self, symbol: str) -> Instrument:
        symbol = symbol.upper()
        pairs = await self.trading_pairs([symbol])
        if symbol not in pairs:
            raise BitunixApiError(20001, f"unknown symbol {symbol}")
        return pairs[symbol]

    async def depth(self, symbol: str, limit: int | str = 5) -> DepthSnapshot:
        """Order book; ``limit`` must be one of 1, 5, 15, 50 or "max" (others: code 10008)."""
        if str(limit) not in DEPTH_LIMITS:
            raise ValueError(f"depth limit must be one of {', '.join(DEPTH_LIMITS)}")
        data = await self.get(DEPTH_PATH, {"symbol": symbol.upper(), "limit": str(limit)})
        try:
            return parse_depth(data)
        except MalformedFrame as error:
            raise BitunixApiError(-1, f"bad depth reply: {error}") from None

    # ------------------------------------------------------------------ funding

    async def funding_rate(self, symbol: str) -> FundingQuote:
        """The predicted rate of the coming settlement (a fraction), the mark price, and the
        next settlement time when the reply has one."""
        symbol = symbol.upper()
        data = await self.get(FUNDING_RATE_PATH, {"symbol": symbol})
        try:
            return parse_funding_quote(data, symbol)
        except MalformedFrame as error:
            raise BitunixApiError(-1, f"bad funding_rate reply: {error}") from None

    async def funding_history(self, symbol: str, start_ms: int,
                              end_ms: int | None = None) -> list[FundingSettlement]:
        """Settlements with ``start_ms <= ts`` (and ``ts <= end_ms``), oldest first, one per ts.

        A call returns at most 200 rows, and neither their order nor which 200 of a larger
        window the server keeps is documented. So a full page, spanning ``first..last``, leaves
        two windows to ask about, ``start..first`` and ``last..end``; a window whose page is
        not full, or adds nothing new, is done. That walks the history whichever end the
        server prefers, at the cost of one extra request per page.
        """
        symbol = symbol.upper()
        found: dict[int, FundingSettlement] = {}
        windows: list[tuple[int, int | None]] = [(start_ms, end_ms)]
        requests = 0
        while windows and (end_ms is None or start_ms <= end_ms):
            if requests >= MAX_FUNDING_REQUESTS:
                logger.warning("funding history of {}: stopped after {} requests ({} rows)",
                               symbol, requests, len(found))
                break
            low, high = windows.pop()
            requests += 1
            rows, added, span = await self._funding_page(symbol, low, high, found,
                                                         (start_ms, end_ms))
            if rows < FUNDING_PAGE or not added or span is None:
                continue
            first, last = span
            if first > low:
                windows.append((low, first))
            if high is None or last < high:
                windows.append((last, high))
        return [found[ts] for ts in sorted(found)]

    async def _funding_page(
        self, symbol: str, low: int, high: int | None, found: dict[int, FundingSettlement],
        bounds: tuple[int, int | None],
    ) -> tuple[int, int, tuple[int, int] | None]:
        """One history call for ``low..high`` into ``found`` (only rows within ``bounds``):
        (rows returned, rows new to ``found``, (oldest, newest) ts of the valid rows)."""
        # One ms wider on each side, so both bounds are in whether the server reads them as
        # inclusive or exclusive; rows outside the caller's bounds are dropped below.
        params = {"symbol": symbol, "startTime": str(max(0, low - 1)),
                  "limit": str(FUNDING_PAGE)}
        params["starTime"] = params["startTime"]  # the documentation's spelling (sic)
        if high is not None:
            params["endTime"] = str(high + 1)
        rows = await self.get(FUNDING_HISTORY_PATH, params)
        if rows is None:  # no settlements in the window, in the terse spelling
            rows = []
        if not isinstance(rows, list):
            raise BitunixApiError(-1, "funding history data is not a list")
        start_ms, end_ms = bounds
        added, stamps = 0, []
        for row in rows:
            try:
                settlement = parse_funding_row(row, symbol)
            except MalformedFrame as error:
                logger.debug("skipping bad funding history row: {}", error)
                continue
            stamps.append(settlement.ts)
            inside = start_ms <= settlement.ts and (end_ms is None or settlement.ts <= end_ms)
            if inside and settlement.ts not in found:
                found[settlement.ts] = settlement
                added += 1
        return len(rows), added, (min(stamps), max(stamps)) if stamps else None
