"""SIGINT/SIGTERM: the first asks for a graceful stop, a second SIGINT forces the exit.

The graceful path (stop entries, cancel tasks in order, flush the journal, close sockets) is
bounded by the daemon; the second Ctrl-C is for a person who does not want to wait, so it ends
the process at once with 130 (128 + SIGINT), like a shell does.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Callable

from loguru import logger

FORCED_EXIT_CODE = 130


class SignalHandler:
    def __init__(self, stop: asyncio.Event,
                 force_exit: Callable[[int], object] = os._exit) -> None:
        self._stop = stop
        self._force_exit = force_exit
        self.received: list[signal.Signals] = []
        self._installed: list[signal.Signals] = []

    def handle(self, signum: signal.Signals) -> None:
        self.received.append(signum)
        if self._stop.is_set():
            if signum == signal.SIGINT:
                logger.warning("second SIGINT: exiting now without cleanup")
                self._force_exit(FORCED_EXIT_CODE)
            else:
                logger.info("{} received again; still stopping", signum.name)
            return
        logger.info("{} received: stopping (press Ctrl-C again to force)", signum.name)
        self._stop.set()

    def install(self, loop: asyncio.AbstractEventLoop) -> None:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(signum, self.handle, signum)
            self._installed.append(signum)

    def uninstall(self, loop: asyncio.AbstractEventLoop) -> None:
        for signum in self._installed:
            loop.remove_signal_handler(signum)
        self._installed.clear()
