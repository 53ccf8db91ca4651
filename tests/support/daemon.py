"""A real `python -m laptop_agents run` daemon (embedded simulator) for end-to-end page tests.

The API listens on the port given (0 = any free port); the actual URL is read from the daemon's
"control API listening on ..." log line. stderr is drained by a thread, so the pipe never fills
and the log is at hand when an assertion fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LISTENING = re.compile(r"control API listening on (http://127\.0\.0\.1:\d+)/")
SIM_ADMIN = re.compile(r"sim exchange listening on .*, admin (http://127\.0\.0\.1:\d+)")


class DaemonProcess:
    """The real daemon as a child process: ``with DaemonProcess(...) as daemon:`` starts it,
    ``stop()`` sends SIGTERM and waits, leaving the block kills it if it still runs."""

    def __init__(self, data_dir: Path, token: str | None, port: int = 0, *,
                 env: dict[str, str] | None = None, prefix: Sequence[str] = ()) -> None:
        """``token=None`` starts it without LA_API_TOKEN (it then generates one).

        ``env`` adds or overrides variables; ``prefix`` runs it under a wrapper (e.g. prlimit).
        """
        environ = {k: v for k, v in os.environ.items() if not k.startswith("LA_")}
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
        # --duration bounds the daemon even if the test process dies without stopping it.
        self.proc = subprocess.Popen(
            [*prefix, sys.executable, "-m", "laptop_agents", "run", "--duration", "120"],
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

    def stop(self, timeout: float = 10.0) -> int:
        """SIGTERM and wait; the exit code (the daemon promises to be gone within 5 s)."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            code = self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the daemon ignored SIGTERM:\n" + self.log()) from None
        self._reader.join(timeout=5)
        return code


# --- a daemon started with asyncio.create_subprocess_exec (stderr piped) ------------------
@contextlib.asynccontextmanager
async def daemon_subprocess(*args: str, env: dict[str, str], cwd: Path
                            ) -> AsyncIterator[tuple[asyncio.subprocess.Process, list[str]]]:
    """``python -m laptop_agents *args``; yields it and the list its log lines go to (read
    them with read_lines_until / drain_lines). Killed on the way out if it still runs."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "laptop_agents", *args, cwd=cwd, env=env,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    try:
        yield proc, []
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


async def read_lines_until(stream: asyncio.StreamReader, pattern: str, seen: list[str],
                           limit: float) -> re.Match[str]:
    regex = re.compile(pattern)
    async with asyncio.timeout(limit):
        while True:
            raw = await stream.readline()
            if not raw:
                raise AssertionError("daemon exited early:\n" + "".join(seen[-40:]))
            line = raw.decode(errors="replace")
            seen.append(line)
            match = regex.search(line)
            if match:
                return match


async def drain_lines(stream: asyncio.StreamReader, seen: list[str]) -> None:
    with contextlib.suppress(Exception):
        while line := await stream.readline():
            seen.append(line.decode(errors="replace"))


async def signal_and_wait(proc: asyncio.subprocess.Process, sig: int,
                          drain: asyncio.Task[None]) -> tuple[int, float]:
    """Send ``sig``; wait for the exit (the daemon promises 5 s) and the log drain.

    Returns (exit code, seconds from the signal to the exit).
    """
    started = time.monotonic()
    proc.send_signal(sig)
    code = await asyncio.wait_for(proc.wait(), 5)
    elapsed = time.monotonic() - started
    await drain
    return code, elapsed
