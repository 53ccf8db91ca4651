"""The delivery of notices: a bounded queue and one task that POSTs each to every target.

Enqueueing never waits (``put_nowait``): when the queue is full the OLDEST notice is dropped
(the newest say how things are now) and counted. Each POST is retried with exponential backoff
(tenacity) on a network error, a timeout, HTTP 429 or 5xx, within a total time cap per
message; another 4xx is not retried. Failures and drops are counted by event and logged under
the receiver's redacted name, at most once a minute per receiver. At shutdown the queue is
flushed for a short deadline, one attempt per notice; what is left is counted as dropped.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from dataclasses import dataclass

import aiohttp
from loguru import logger
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential_jitter,
)
from tenacity.stop import stop_base

from laptop_agents.metrics import Metrics
from laptop_agents.notify.events import Notice
from laptop_agents.notify.ratelog import RateLimitedLog
from laptop_agents.notify.render import request_body
from laptop_agents.notify.targets import Target

JSON_HEADERS = {"Content-Type": "application/json", "User-Agent": "laptop-agents"}


@dataclass(frozen=True, slots=True)
class DeliveryPolicy:
    queue_size: int = 100  # notices waiting; beyond it the oldest is dropped
    attempt_timeout: float = 10.0  # one POST (s)
    message_cap: float = 60.0  # one notice to one receiver, every retry included (s)
    backoff_initial: float = 1.0  # first retry delay (s); doubles, jittered
    backoff_max: float = 15.0  # cap of the retry delay (s)
    flush_deadline: float = 1.5  # at shutdown (s): inside the daemon's 4 s stop budget
    log_every: float = 60.0  # at most one warning per receiver (and for drops) per period (s)


class RetryableError(Exception):
    """Worth another try: network error, timeout, 429, 5xx. The message holds no URL."""


class RejectedError(Exception):
    """The receiver refused the notice (a 4xx other than 429): retrying will not help."""


def describe_error(error: BaseException) -> str:
    """An error in words, without the URL (aiohttp puts it in its messages)."""
    if isinstance(error, RetryableError | RejectedError):
        return str(error)
    if isinstance(error, TimeoutError):
        return "timed out"
    if isinstance(error, aiohttp.ClientConnectorError):
        refused = isinstance(error.os_error, ConnectionRefusedError)
        return "connection refused" if refused else "cannot connect"
    return type(error).__name__


class StopWhenSet(stop_base):
    """Stop retrying once ``event`` is set (at shutdown: the flush has a deadline)."""

    def __init__(self, event: asyncio.Event) -> None:
        self._event = event

    def __call__(self, retry_state: RetryCallState) -> bool:
        return self._event.is_set()


class Delivery:
    def __init__(self, targets: Sequence[Target], session: aiohttp.ClientSession,
                 metrics: Metrics, daemon: str, policy: DeliveryPolicy | None = None) -> None:
        self.targets = tuple(targets)
        self.policy = policy or DeliveryPolicy()
        self._session = session
        self._metrics = metrics
        self._daemon = daemon
        self._queue: asyncio.Queue[Notice | None] = asyncio.Queue(self.policy.queue_size + 1)
        self._task: asyncio.Task[None] | None = None
        self._closing = asyncio.Event()
        self._current: Notice | None = None
        self._log = RateLimitedLog(self.policy.log_every)

    # --- the engine's side: never waits -------------------------------------------------
    def put(self, notice: Notice) -> None:
        """Queue ``notice`` (on the event loop); the oldest is dropped when full."""
        if self._closing.is_set():
            self._dropped(notice, "the daemon is stopping")
            return
        if self._queue.qsize() >= self.policy.queue_size:
            oldest = self._queue.get_nowait()
            if oldest is not None:
                self._dropped(oldest, f"the queue is full ({self.policy.queue_size})")
        self._queue.put_nowait(notice)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._run(),
                                                                name="notifications")

    def _dropped(self, notice: Notice, why: str) -> None:
        self._metrics.notifications_dropped.labels(notice.event).inc()
        self._log.warning("dropped", f"notification {notice.event} dropped: {why}")

    # --- the delivery task ----------------------------------------------------------------
    async def _run(self) -> None:
        while True:
            notice = await self._queue.get()
            if notice is None:
                return
            self._current = notice
            try:
                await asyncio.gather(*(self._send(target, notice) for target in self.targets))
            except Exception:  # a bug here must not end the deliveries still to come
                logger.exception("delivering the {} notification failed", notice.event)
            self._current = None

    async def _send(self, target: Target, notice: Notice) -> None:
        body = request_body(target, notice, self._daemon)
        policy = self.policy
        retrying = AsyncRetrying(
            retry=retry_if_exception_type(RetryableError),
            wait=wait_exponential_jitter(multiplier=policy.backoff_initial, max=policy.backoff_max,
                                         jitter=policy.backoff_initial / 2),
            stop=stop_after_delay(policy.message_cap) | StopWhenSet(self._closing),
            sleep=self._sleep, reraise=True)
        last = "timed out"
        try:
            async with asyncio.timeout(policy.message_cap):
                async for attempt in retrying:
                    with attempt:
                        try:
                            await self._post(target, body)
                        except (RetryableError, RejectedError) as error:
                            last = str(error)
                            raise
        except (RetryableError, RejectedError, TimeoutError) as error:
            self._metrics.notifications_failed.labels(notice.event).inc()
            why = last if isinstance(error, TimeoutError) else describe_error(error)
            tries = retrying.statistics.get("attempt_number", 1)
            self._log.warning(f"failed:{target.redacted}",
                              f"notification {notice.event} to {target.redacted} failed "
                              f"after {tries} attempt(s): {why}")
            return
        self._metrics.notifications_sent.labels(notice.event).inc()

    async def _post(self, target: Target, body: bytes) -> None:
        timeout = aiohttp.ClientTimeout(total=self.policy.attempt_timeout)
        try:
            async with self._session.post(target.url, data=body, headers=JSON_HEADERS,
                                          timeout=timeout, allow_redirects=False) as response:
                status = response.status
                await response.read()
        except (aiohttp.ClientError, TimeoutError, OSError) as error:
            raise RetryableError(describe_error(error)) from None
        if status == 429 or status >= 500:
            raise RetryableError(f"HTTP {status}")
        if status >= 300:
            raise RejectedError(f"HTTP {status}")

    async def _sleep(self, seconds: float) -> None:
        """The backoff delay, cut short when the daemon stops (one last attempt then)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._closing.wait(), seconds)

    # --- shutdown -----------------------------------------------------------------------------
    async def aclose(self) -> None:
        """Send what is queued within the flush deadline (one attempt each), then stop; what
        is left is counted as dropped. Never raises, never takes longer than the deadline."""
        if self._closing.is_set():
            return
        self._closing.set()
        task = self._task
        if task is None:
            return
        if self._queue.qsize() >= self.policy.queue_size + 1:  # pragma: no cover - bounded
            self._queue.get_nowait()
        self._queue.put_nowait(None)
        done, _ = await asyncio.wait({task}, timeout=self.policy.flush_deadline)
        if done:
            return
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
        left = [self._current] if self._current is not None else []
        while not self._queue.empty():
            item = self._queue.get_nowait()
            if item is not None:
                left.append(item)
        for notice in left:
            self._metrics.notifications_dropped.labels(notice.event).inc()
        self._log.warning("flush", f"{len(left)} notification(s) not sent: the flush deadline "
                          f"({self.policy.flush_deadline:g} s) passed at shutdown")


__all__ = ["Delivery", "DeliveryPolicy", "RejectedError", "RetryableError", "describe_error"]
