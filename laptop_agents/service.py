"""A tiny sd_notify(3) client: tells systemd when the daemon is ready, alive and stopping.

systemd passes ``NOTIFY_SOCKET`` (a filesystem path, or ``@name`` for an abstract socket) to a
``Type=notify`` service; each message is one datagram of ``KEY=value`` lines. Without that
variable every method here does nothing, so the daemon behaves the same outside systemd
(launchd, a terminal, the tests).

Who sends what (see docs/operations.md, "Running as a service"):

- ``READY=1`` once the control API listens and the feed delivered its first tick;
- ``STATUS=<one line>`` at every heartbeat;
- ``WATCHDOG=1`` only from the heartbeat, and only while the loop and the feed are healthy,
  so a wedged loop or a dead feed stops the pings and systemd restarts the service;
- ``STOPPING=1`` when shutdown begins.

The socket is non-blocking and every failure is logged at debug level and swallowed: a
monitoring side channel must never stall or crash the trading loop.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping

from loguru import logger

__all__ = ["SdNotifier", "heartbeat_interval"]


class SdNotifier:
    """Sends sd_notify messages to ``address`` (None: disabled, every call is a no-op)."""

    def __init__(
        self,
        address: str | None,
        *,
        watchdog_usec: int | None = None,
        watchdog_pid: int | None = None,
    ) -> None:
        self._address = _socket_address(address) if address else None
        self._watchdog_usec = watchdog_usec
        self._watchdog_pid = watchdog_pid
        self._sock: socket.socket | None = None

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> SdNotifier:
        """Read NOTIFY_SOCKET, WATCHDOG_USEC and WATCHDOG_PID (``os.environ`` by default)."""
        env = os.environ if environ is None else environ
        return cls(
            env.get("NOTIFY_SOCKET") or None,
            watchdog_usec=_positive_int(env.get("WATCHDOG_USEC")),
            watchdog_pid=_positive_int(env.get("WATCHDOG_PID")),
        )

    @property
    def enabled(self) -> bool:
        return self._address is not None

    def watchdog_interval(self) -> float | None:
        """Seconds between WATCHDOG=1 pings: half of systemd's WatchdogSec, or None.

        None when there is no notify socket, no WATCHDOG_USEC, or WATCHDOG_PID names another
        process (the variables were inherited from a parent that is the real watched service).
        """
        if not self.enabled or not self._watchdog_usec:
            return None
        if self._watchdog_pid is not None and self._watchdog_pid != os.getpid():
            return None
        return self._watchdog_usec / 2 / 1_000_000

    # --- the messages ------------------------------------------------------------------

    def ready(self) -> bool:
        return self.send("READY=1")

    def status(self, line: str) -> bool:
        return self.notify(STATUS=line)

    def watchdog(self) -> bool:
        return self.send("WATCHDOG=1")

    def stopping(self) -> bool:
        return self.send("STOPPING=1")

    def extend_timeout(self, seconds: float) -> bool:
        """Ask for more start-up (or stop) time, e.g. during a long candle warm-up."""
        return self.notify(EXTEND_TIMEOUT_USEC=str(max(0, int(seconds * 1_000_000))))

    def notify(self, **fields: object) -> bool:
        """Send ``KEY=value`` lines in one datagram; newlines in values become spaces."""
        lines = [f"{key.upper()}={_one_line(str(value))}" for key, value in fields.items()]
        return self.send("\n".join(lines))

    def send(self, message: str) -> bool:
        """Send one raw datagram. True when it was handed to the kernel; never raises."""
        if self._address is None or not message:
            return False
        try:
            if self._sock is None:
                self._sock = socket.socket(
                    socket.AF_UNIX, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC
                )
                self._sock.setblocking(False)
            self._sock.sendto(message.encode("utf-8", "replace"), self._address)
        except OSError as error:  # missing socket, full queue, EPERM from a sandbox, ...
            logger.debug("sd_notify {!r} failed: {}", message.split("\n", 1)[0], error)
            return False
        return True

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


def heartbeat_interval(settings_interval: float, notifier: SdNotifier | None) -> float:
    """The heartbeat period: the configured one, shortened to the watchdog's ping interval."""
    watchdog = notifier.watchdog_interval() if notifier is not None else None
    if watchdog is None:
        return settings_interval
    return min(settings_interval, watchdog)


def _socket_address(value: str) -> str | None:
    if value.startswith("@"):
        # Linux abstract namespace: a leading NUL instead of a path.
        return "\0" + value[1:]
    if value.startswith("/"):
        return value
    # vsock:... (VMs) and relative paths are not for us; stay disabled rather than guess.
    logger.debug("NOTIFY_SOCKET={!r} is not a unix socket path; sd_notify disabled", value)
    return None


def _positive_int(value: str | None) -> int | None:
    if not value:
        return None
    try:
        number = int(value)
    except ValueError:
        return None
    return number if number > 0 else None


def _one_line(value: str) -> str:
    return " ".join(value.splitlines())
