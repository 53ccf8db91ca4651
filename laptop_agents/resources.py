"""Process resources under pressure: the file-descriptor limit and out-of-resource logging.

Every socket (API clients, the feed, the embedded simulator's connections) and file (journal,
log) takes a file descriptor. Linux starts processes with a soft limit of 1024 however high
the hard limit is, so :func:`raise_fd_limit` lifts the soft limit to the hard one at start-up.

When descriptors do run out, asyncio's accept loop reports ``socket.accept() out of system
resource`` to the loop's exception handler up to 100 times per wake-up, each with a
traceback (tens of megabytes of log a minute). :func:`install_resource_error_handler`
replaces that with one short WARNING line at most once per second, counting the rest.
"""

from __future__ import annotations

import asyncio
import errno
import resource
import time
from collections.abc import Callable
from typing import Any

from loguru import logger

# macOS reports an unlimited hard limit but refuses a soft limit above OPEN_MAX (10240).
_UNLIMITED_TARGET = 10240
# errnos asyncio's accept loop treats as "out of system resource".
RESOURCE_ERRNOS = frozenset({errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM})

ExceptionHandler = Callable[[asyncio.AbstractEventLoop, dict[str, Any]], object]


def fd_limits() -> tuple[int, int]:
    """The (soft, hard) RLIMIT_NOFILE of this process."""
    return resource.getrlimit(resource.RLIMIT_NOFILE)


def raise_fd_limit() -> int:
    """Raise the soft file-descriptor limit to the hard limit; return the soft limit in force.

    Failure is not fatal (the daemon works, with fewer connections): logged at DEBUG.
    """
    soft, hard = fd_limits()
    target = _UNLIMITED_TARGET if hard == resource.RLIM_INFINITY else hard
    if soft != resource.RLIM_INFINITY and soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError) as error:
            logger.debug("cannot raise the file-descriptor limit from {} to {}: {}",
                         soft, target, error)
        else:
            soft = target
    logger.debug("file-descriptor limit: {} (hard limit {})", soft,
                 "unlimited" if hard == resource.RLIM_INFINITY else hard)
    return soft


class Throttle:
    """Lets an event through at most once per ``interval`` seconds and counts the rest."""

    def __init__(self, interval: float = 1.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._next = float("-inf")
        self._held = 0

    def admit(self) -> int | None:
        """None: hold this one back. Else how many were held back since the last admitted."""
        now = self._clock()
        if now < self._next:
            self._held += 1
            return None
        self._next = now + self.interval
        held, self._held = self._held, 0
        return held


class ResourceErrorHandler:
    """A loop exception handler: out-of-resource errors become one throttled line each second.

    Everything else goes to the handler that was installed before (or asyncio's default).
    """

    def __init__(self, previous: ExceptionHandler | None, interval: float = 1.0) -> None:
        self._previous = previous
        self._throttle = Throttle(interval)
        self.seen = 0  # out-of-resource reports received, for tests and diagnostics

    def __call__(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        error = context.get("exception")
        if not (isinstance(error, OSError) and error.errno in RESOURCE_ERRNOS):
            if self._previous is not None:
                self._previous(loop, context)
            else:
                loop.default_exception_handler(context)
            return
        self.seen += 1
        held = self._throttle.admit()
        if held is None:
            return
        name = errno.errorcode.get(error.errno or 0, str(error.errno))
        more = f"; {held} more like it since the last report" if held else ""
        logger.warning("{}: {} ({}), file-descriptor limit {}{}",
                       context.get("message", "out of system resources"),
                       error.strerror or error, name, fd_limits()[0], more)


def install_resource_error_handler(loop: asyncio.AbstractEventLoop) -> Callable[[], None]:
    """Install a ResourceErrorHandler on ``loop``; return the function that restores the old."""
    previous = loop.get_exception_handler()
    loop.set_exception_handler(ResourceErrorHandler(previous))

    def restore() -> None:
        loop.set_exception_handler(previous)

    return restore
