"""A helper process driven over stdin/stdout, one JSON object a line: the bench's simulators
run in processes of their own (bench.exchange, bench.symbols_sim), so their work never shares
the measuring process's loop."""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import orjson


class JsonProcess:
    """``python -m <module> <args>``: its first line says it is ready; ``call`` sends a
    command and returns its answer line; leaving the ``async with`` sends ``quit``."""

    def __init__(self, module: str, *args: str, start_timeout: float,
                 command_timeout: float, quit_timeout: float = 5.0) -> None:
        self._argv = (sys.executable, "-m", module, *args)
        self._module = module
        self._start_timeout, self._command_timeout = start_timeout, command_timeout
        self._quit_timeout = quit_timeout
        self.proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()

    async def start(self) -> dict[str, Any]:
        """Start it; its ready line."""
        self.proc = await asyncio.create_subprocess_exec(
            *self._argv, stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE)
        return await self._line(self._start_timeout)

    async def __aexit__(self, *exc: object) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        try:
            assert proc.stdin is not None
            proc.stdin.write(b'{"cmd":"quit"}\n')
            await asyncio.wait_for(proc.wait(), self._quit_timeout)
        except (TimeoutError, ConnectionError):
            proc.kill()
            await proc.wait()

    async def _line(self, limit: float) -> dict[str, Any]:
        assert self.proc is not None and self.proc.stdout is not None
        raw = await asyncio.wait_for(self.proc.stdout.readline(), limit)
        if not raw:
            raise RuntimeError(f"{self._module} exited")
        result: dict[str, Any] = orjson.loads(raw)
        return result

    async def call(self, cmd: str, **args: Any) -> dict[str, Any]:
        async with self._lock:  # one command at a time: answers come back in order
            assert self.proc is not None and self.proc.stdin is not None
            self.proc.stdin.write(orjson.dumps({"cmd": cmd, **args}) + b"\n")
            await self.proc.stdin.drain()
            return await self._line(self._command_timeout)


__all__ = ["JsonProcess"]
