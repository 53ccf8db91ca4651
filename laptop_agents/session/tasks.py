"""Task supervision: the engine's tasks under one TaskGroup, the timers, the shutdown order.

A failure in one task cancels the rest and propagates (structured concurrency). A stop request
(or the end of market data) shuts down in a fixed order: first nothing new comes in, last the
liveness reporting, so a slow shutdown is still visible.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future
from dataclasses import dataclass
from typing import ParamSpec, TypeVar

from loguru import logger

from laptop_agents.errors import LaptopAgentsError
from laptop_agents.session.views import TaskState, TaskView

SHUTDOWN_ORDER = ("market_data", "strategy", "watchdog", "position_sync", "clock_watch",
                  "loop_lag", "heartbeat", "readiness")


class TaskInfo:
    """When a task last did its work, for /status and the health panel."""

    __slots__ = ("interval", "last_run", "runs")

    def __init__(self, interval: str) -> None:
        self.interval = interval
        self.last_run: float | None = None
        self.runs = 0

    def ran(self) -> None:
        self.last_run = time.monotonic()
        self.runs += 1


@dataclass(frozen=True)
class TaskSpec:
    run: Callable[[TaskInfo], Awaitable[None]]
    interval: str  # how often it runs, in words (the banner, /status)


def every(seconds: float | Callable[[], float],
          body: Callable[[], object]) -> Callable[[TaskInfo], Awaitable[None]]:
    """A timer task: ``body`` after each ``seconds`` (wait first)."""

    async def loop(info: TaskInfo) -> None:
        while True:
            await asyncio.sleep(seconds() if callable(seconds) else seconds)
            body()
            info.ran()

    return loop


class TaskSupervisor:
    def __init__(self, table: dict[str, TaskSpec]) -> None:
        self.table = table
        self.info = {name: TaskInfo(spec.interval) for name, spec in table.items()}
        self.tasks: dict[str, asyncio.Task[None]] = {}

    async def run(self, stop: asyncio.Event, on_stop: Callable[[], Awaitable[None]]) -> None:
        """Run every task until ``stop`` is set or market data ends; then ``on_stop`` (the
        engine's own shutdown: entries off, optional flatten) and the ordered cancel.

        Raises the first :class:`LaptopAgentsError` a task raised (feed refused, auth), else
        the first other exception.
        """
        try:
            async with asyncio.TaskGroup() as group:
                for name, spec in self.table.items():
                    self.tasks[name] = group.create_task(
                        self._guard(name, spec.run(self.info[name])), name=name)
                group.create_task(self._stop_when(stop, on_stop), name="stopper")
        except BaseExceptionGroup as group_error:
            raise first_error(group_error) from None

    @staticmethod
    async def _guard(name: str, work: Awaitable[None]) -> None:
        try:
            await work
        except asyncio.CancelledError:
            raise
        except LaptopAgentsError as error:
            logger.error("task {} stopped: {}", name, error)
            raise
        except Exception:
            logger.exception("task {} crashed", name)
            raise

    async def _stop_when(self, stop: asyncio.Event,
                         on_stop: Callable[[], Awaitable[None]]) -> None:
        feed = self.tasks["market_data"]
        waiter = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({waiter, feed}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            waiter.cancel()
        if feed.done() and not stop.is_set():
            if feed.cancelled() or feed.exception() is not None:
                return  # the TaskGroup is already handling the failure
            logger.warning("market data ended; stopping")
        await on_stop()
        await self.cancel_in_order()

    async def cancel_in_order(self) -> None:
        for name in SHUTDOWN_ORDER:
            task = self.tasks.get(name)
            if task is None or task.done():
                continue
            task.cancel()
            await asyncio.wait({task}, timeout=2.0)
            logger.debug("task {} stopped", name)

    def states(self) -> dict[str, TaskView]:
        now = time.monotonic()
        return {
            name: TaskView(state=task_state(self.tasks.get(name)), interval=info.interval,
                           last_run_age_s=None if info.last_run is None
                           else round(now - info.last_run, 3))
            for name, info in self.info.items()
        }


def task_state(task: asyncio.Task[None] | None) -> TaskState:
    if task is None:
        return "not started"
    if not task.done():
        return "running"
    if task.cancelled():
        return "stopped"
    return "failed" if task.exception() is not None else "finished"


def first_error(group: BaseExceptionGroup) -> BaseException:
    """The error to surface from a TaskGroup failure: an exit-coded one wins."""
    leaves: list[BaseException] = []

    def walk(error: BaseException) -> None:
        if isinstance(error, BaseExceptionGroup):
            for inner in error.exceptions:
                walk(inner)
        else:
            leaves.append(error)

    walk(group)
    for error in leaves:
        if isinstance(error, LaptopAgentsError):
            return error
    for error in leaves:
        if not isinstance(error, asyncio.CancelledError):
            return error
    return leaves[0] if leaves else group


P = ParamSpec("P")
T = TypeVar("T")


class InlineExecutor(Executor):
    """Runs the strategy on the loop's thread (a backtest: the stream waits for each decision
    anyway, so a thread would add only its hand-over cost and nothing to the result). The
    engine calls ``decide`` directly when it sees one, without going through a future."""

    def submit(self, fn: Callable[P, T], /, *args: P.args, **kwargs: P.kwargs) -> Future[T]:
        future: Future[T] = Future()
        try:
            future.set_result(fn(*args, **kwargs))
        except BaseException as error:  # handed to the awaiting task, as a thread would
            future.set_exception(error)
        return future



__all__ = [
    "SHUTDOWN_ORDER",
    "InlineExecutor",
    "TaskInfo",
    "TaskSpec",
    "TaskSupervisor",
    "every",
    "first_error",
    "task_state",
]
