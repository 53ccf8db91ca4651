"""Processes under test: the real daemon (``python -m laptop_agents run``) and the bare
baselines (``python -m bench.bare``), with their stderr/stdout lines timestamped on arrival.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import sys
import time
from collections.abc import AsyncIterator, Sequence
from pathlib import Path

from bench.stats import daemon_env

READY_TIMEOUT_S = 40.0
STOP_TIMEOUT_S = 10.0
SLOW_STOP_S = 5.0  # the daemon promises to be gone within 5 s of a signal
LIFETIME_S = 900  # --duration of every daemon: an orphan (the bench killed) still ends
API_LINE = r"control API listening on http://127\.0\.0\.1:(\d+)/"


class Process:
    """A child whose output lines are read by a task and kept with their arrival time."""

    def __init__(self, argv: Sequence[str], env: dict[str, str] | None = None,
                 stream: str = "stderr") -> None:
        self.argv = list(argv)
        self.env = env
        self.stream = stream
        self.lines: list[tuple[int, str]] = []  # (monotonic ns on arrival, text)
        self.exec_ns = 0
        self.proc: asyncio.subprocess.Process | None = None
        self._new = asyncio.Event()
        self._reader: asyncio.Task[None] | None = None

    @property
    def pid(self) -> int:
        assert self.proc is not None
        return self.proc.pid

    async def start(self) -> None:
        pipe, devnull = asyncio.subprocess.PIPE, asyncio.subprocess.DEVNULL
        self.exec_ns = time.monotonic_ns()
        self.proc = await asyncio.create_subprocess_exec(
            *self.argv, env=self.env, stdin=devnull,
            stdout=pipe if self.stream == "stdout" else devnull,
            stderr=pipe if self.stream == "stderr" else devnull)
        source = self.proc.stdout if self.stream == "stdout" else self.proc.stderr
        assert source is not None
        self._reader = asyncio.create_task(self._read(source))

    async def _read(self, source: asyncio.StreamReader) -> None:
        while raw := await source.readline():
            self.lines.append((time.monotonic_ns(), raw.decode(errors="replace").rstrip()))
            self._new.set()
        self._new.set()

    async def wait_for(self, pattern: str, timeout: float = READY_TIMEOUT_S,  # noqa: ASYNC109
                       start: int = 0) -> tuple[int, re.Match[str], int]:
        """The first line from index ``start`` matching: (arrival ns, match, line index)."""
        regex = re.compile(pattern)
        index = start
        async with asyncio.timeout(timeout):
            while True:
                while index < len(self.lines):
                    at, text = self.lines[index]
                    match = regex.search(text)
                    if match:
                        return at, match, index
                    index += 1
                if self._reader is not None and self._reader.done():
                    tail = "\n".join(t for _, t in self.lines[-30:])
                    raise RuntimeError(f"{self.argv[1:4]} exited before {pattern!r}:\n{tail}")
                self._new.clear()
                await self._new.wait()

    async def stop(self) -> int | None:
        proc = self.proc
        if proc is None:
            return None
        if proc.returncode is None:
            asked = time.monotonic()
            # SIGTERM, as a service manager would: a shell running `make bench` in the
            # background has its children ignore SIGINT (and a bare process would not stop).
            proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(proc.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                proc.kill()
                await proc.wait()
            if time.monotonic() - asked > SLOW_STOP_S:
                tail = "\n  ".join(t for _, t in self.lines[-10:])
                print(f"bench: {' '.join(self.argv[1:4])} took {time.monotonic() - asked:.1f} s "
                      f"to stop (exit {proc.returncode}); last lines:\n  {tail}",
                      file=sys.stderr, flush=True)
        if self._reader is not None:
            await asyncio.gather(self._reader, return_exceptions=True)
        return proc.returncode


class Daemon(Process):
    def __init__(self, data_dir: Path, **env: str) -> None:
        super().__init__([sys.executable, "-m", "laptop_agents", "run",
                          "--duration", str(LIFETIME_S)],
                         env=daemon_env(data_dir, **env))
        self.port = 0

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def ready(self) -> None:
        _, match, _ = await self.wait_for(API_LINE)
        self.port = int(match[1])
        await self.wait_for(r"ready: API listening")


def bare_process(*args: str) -> Process:
    """``python -m bench.bare ...``: prints its port (and later lines) on stdout."""
    return Process([sys.executable, "-m", "bench.bare", *args], env=daemon_env(Path(".")),
                   stream="stdout")


@contextlib.asynccontextmanager
async def running(process: Process) -> AsyncIterator[Process]:
    await process.start()
    try:
        yield process
    finally:
        await process.stop()


def exchange_daemon(data_dir: Path, rest_url: str, ws_url: str, **env: str) -> Daemon:
    """The daemon on the real-exchange code path, pointed at the bench's exchange."""
    return Daemon(data_dir, LA_SOURCE="bitunix", LA_BITUNIX_REST_URL=rest_url,
                  LA_BITUNIX_WS_URL=ws_url, **env)
