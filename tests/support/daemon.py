"""A real `python -m laptop_agents run` daemon (embedded simulator) for end-to-end page tests.

The API listens on the port given (0 = any free port); the actual URL is read from the daemon's
"control API listening on ..." log line. stderr is drained by a thread, so the pipe never fills
and the log is at hand when an assertion fails.
"""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"control API listening on (http://127\.0\.0\.1:\d+)/")
SIM_ADMIN = re.compile(r"sim exchange listening on .*, admin (http://127\.0\.0\.1:\d+)")


# A child daemon must not read the developer's settings nor talk to a real service manager.
FOREIGN = ("LA_", "NOTIFY_SOCKET", "WATCHDOG_", "JOURNAL_STREAM")


def clean_env(**extra: str) -> dict[str, str]:
    """This process's environment without any LA_* setting or service-manager variable, plus
    ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(FOREIGN)}
    env.update(extra)
    return env


def free_port() -> int:
    """A loopback port nothing listens on (closed again: connecting to it is refused)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DaemonProcess:
    """The real daemon as a child process: ``with DaemonProcess(...) as daemon:`` starts it,
    ``stop()`` sends SIGTERM and waits, leaving the block kills it if it still runs."""

    def __init__(self, data_dir: Path, token: str | None, port: int = 0, *,
                 env: dict[str, str] | None = None, prefix: Sequence[str] = (),
                 args: Sequence[str] = ("run", "--duration", "120")) -> None:
        """``token=None`` starts it without LA_API_TOKEN (it then generates one).

        ``env`` adds or overrides variables; ``prefix`` runs it under a wrapper (e.g. prlimit);
        ``args`` are the command line after ``python -m laptop_agents`` (by default ``run``,
        bounded by --duration even if the test process dies without stopping it).
        """
        environ = clean_env()
        if token is not None:
            environ["LA_API_TOKEN"] = token
        environ.update({
            "LA_DATA_DIR": str(data_dir), "LA_API_PORT": str(port),
            "LA_SIM_SPEED": "60", "LA_SIM_SEED": "7", "LA_SIM_DEPTH_PUSH_MS": "50",
            "LA_SIM_KLINE_PUSH_MS": "100", "LA_HEARTBEAT_INTERVAL": "1",
            "LA_LOG_JSON": "false", "PYTHONPATH": str(ROOT),
        })
        environ.update(env or {})
        self.lines: list[str] = []
        self._new_line = threading.Condition()
        self._urls: queue.Queue[str] = queue.Queue()
        self._admin_urls: queue.Queue[str] = queue.Queue()
        self.started = time.monotonic()
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "laptop_agents", *args],
            env=environ, cwd=data_dir.parent, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
        )
        self._reader = threading.Thread(target=self._drain, daemon=True)
        self._reader.start()

    def _drain(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            with self._new_line:
                self.lines.append(line)
                self._new_line.notify_all()
            match = LISTENING.search(line)
            if match:
                self._urls.put(match.group(1))
            admin = SIM_ADMIN.search(line)
            if admin:
                self._admin_urls.put(admin.group(1))

    def url(self, timeout: float = 20.0) -> str:
        try:
            return self._urls.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("the daemon did not start its API:\n" + self.log()) from None

    def admin_url(self, timeout: float = 20.0) -> str:
        """The embedded simulator's admin API (started with ``LA_SIM_ADMIN=true``)."""
        try:
            return self._admin_urls.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError("no simulator admin API in the log:\n" + self.log()) from None

    def wait_for(self, pattern: str, timeout: float = 20.0) -> re.Match[str]:
        """The first log line matching ``pattern`` (waiting for it up to ``timeout`` s)."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        seen = 0
        with self._new_line:
            while True:
                for line in self.lines[seen:]:
                    if match := regex.search(line):
                        return match
                seen = len(self.lines)
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    raise AssertionError(f"no log line matches {pattern!r}:\n" + self.log())
                self._new_line.wait(min(left, 0.5))

    def log(self, last: int = 40) -> str:
        return "".join(self.lines[-last:])

    def __enter__(self) -> DaemonProcess:
        return self

    def __exit__(self, *exc_info: object) -> None:
        if self.proc.poll() is None:
            self.kill()

    def kill(self) -> int:
        """SIGKILL (a crash, as far as the daemon can tell) and wait."""
        self.proc.kill()
        code = self.proc.wait()
        self._reader.join(timeout=5)
        return code

    def signal_and_wait(self, sig: int = signal.SIGTERM, timeout: float = 10.0
                        ) -> tuple[int, float]:
        """Send ``sig`` and wait: (exit code, seconds from the signal to the exit)."""
        started = time.monotonic()
        code = self.stop(timeout, sig)
        return code, time.monotonic() - started

    def stop(self, timeout: float = 10.0, sig: int = signal.SIGTERM) -> int:
        """``sig`` (SIGTERM) and wait; the exit code (the daemon promises to be gone in 5 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the daemon ignored SIGTERM:\n" + self.log()) from None
        self._reader.join(timeout=5)
        return code
