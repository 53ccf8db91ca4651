"""FundingSync: brings funding settlements from the exchange to the paper broker, exactly once.

Settlement times come from the exchange, never from a fixed 8-hour grid:

* at start-up (:meth:`FundingSync.catch_up`), when a position is open, every settlement since
  the later of its opening and the last one applied is read from REST
  ``get_funding_rate_history`` — the ones missed while the daemon was down;
* while running, each accepted ``price`` push names the last settlement (``ft``). When that
  is newer than the last one seen and the account held a position at that instant, the
  history is read again for the exact rate and mark; if REST cannot say, the push's own rate
  and mark price stand in.

The broker keys each settlement by (symbol, time), so the two paths can offer the same one and
it is applied once. A failed read is retried on a later push, at most every RETRY_S seconds.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Iterable

from loguru import logger

from laptop_agents.data.providers.neterrors import describe_connect_error
from laptop_agents.models import FundingQuote, FundingSettlement, MarkPrice
from laptop_agents.paper.broker import PaperBroker
from laptop_agents.paper.models import BrokerEvent
from laptop_agents.session.ports import MarketRest

RETRY_S = 5.0  # between two REST reads of the funding history


class FundingSync:
    def __init__(self, symbol: str, broker: PaperBroker, rest: MarketRest, rest_url: str,
                 report: Callable[[list[BrokerEvent]], None],
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.symbol = symbol
        self.broker = broker
        self.rest = rest
        self._rest_url = rest_url
        self._report = report
        self._mono = monotonic  # the engine's timeline: a replay sets it
        self._seen_ms = broker.last_funding_ms() or 0  # newest settlement known to be handled
        self._due = False  # a catch-up read failed: try again on a later push
        self._task: asyncio.Task[None] | None = None
        self._tried_at = float("-inf")
        self.upcoming: FundingQuote | None = None  # REST funding_rate: the predicted rate
        self._quote_task: asyncio.Task[None] | None = None

    def _since(self) -> int | None:
        """Where a catch-up read starts: after the last applied settlement, and not before
        the open position (None: nothing open, nothing to catch up)."""
        position = self.broker.position
        if position is None:
            return None
        last = self.broker.last_funding_ms()
        return max(position.opened_ms, (last or 0) + 1)

    async def read_upcoming(self) -> None:
        """The predicted rate of the coming settlement (shown in /status), from REST."""
        try:
            self.upcoming = await self.rest.funding_rate(self.symbol)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.debug("funding_rate could not be read: {!r}", error)

    async def catch_up(self) -> None:
        """Apply every settlement from the history the open position has not paid yet."""
        await self.read_upcoming()
        since = self._since()
        if since is None:
            return
        self._tried_at = self._mono()
        try:
            rows = await self.rest.funding_history(self.symbol, since)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            self._due = True
            logger.warning("funding history could not be read ({}); retrying on a later push",
                           describe_connect_error(self._rest_url, error))
            return
        self._due = False
        self._apply(rows)

    def _apply(self, rows: Iterable[FundingSettlement]) -> None:
        for row in sorted(rows, key=lambda r: r.ts):
            if row.symbol != self.symbol:
                continue
            events = self.broker.apply_funding(row)
            self._seen_ms = max(self._seen_ms, row.ts)
            if events:
                self._report(events)

    def on_mark(self, mark: MarkPrice) -> None:
        """A settlement newer than the last one handled: read it (or retry a catch-up)."""
        settled = mark.last_settlement_ms
        if settled is not None and settled > self._seen_ms:
            self._seen_ms = settled
            if self._quote_task is None or self._quote_task.done():  # a new prediction
                self._quote_task = asyncio.create_task(self.read_upcoming(),
                                                       name="funding-rate")
            if self.broker.exposed_at(settled):
                self._start(self._settle(mark, settled))
                return
        if self._due and self._mono() - self._tried_at >= RETRY_S:
            self._start(self.catch_up())

    def _start(self, work: object) -> None:
        assert asyncio.iscoroutine(work)
        if self._task is not None and not self._task.done():
            work.close()
            self._due = True  # the running one may not cover this: look again later
            return
        self._task = asyncio.create_task(work, name="funding-sync")

    async def _settle(self, mark: MarkPrice, settled_ms: int) -> None:
        """The settlement at ``settled_ms``: from the history (exact mark and rate), else the
        push's own figures."""
        rows: list[FundingSettlement] = []
        try:
            rows = await self.rest.funding_history(self.symbol, settled_ms, settled_ms)
        except asyncio.CancelledError:
            raise
        except Exception as error:
            logger.warning("funding history could not be read ({}); settling at the push's "
                           "rate and mark", describe_connect_error(self._rest_url, error))
        if not any(r.ts == settled_ms for r in rows):
            rows.append(FundingSettlement(self.symbol, settled_ms, mark.funding_rate, mark.mark))
        self._apply(rows)

    def close(self) -> None:
        for task in (self._task, self._quote_task):
            if task is not None:
                task.cancel()
