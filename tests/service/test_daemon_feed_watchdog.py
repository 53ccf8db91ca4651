"""The real daemon under a fake systemd while the feed is down: no READY, no WATCHDOG=1.

`python -m laptop_agents run --source bitunix` runs in a subprocess against a simulator this
test owns (so the feed can be held down from before the daemon's first connect), with
NOTIFY_SOCKET pointing at a datagram socket the test reads and WATCHDOG_USEC=1 s, as systemd
would run it. Phases:

1. every WebSocket handshake is rejected (HTTP 503): the API listens and heartbeats report
   status, but there is no tick, so no READY=1 and no WATCHDOG=1;
2. handshakes are accepted: READY=1 follows, then WATCHDOG=1 pings;
3. every socket is dropped and handshakes are rejected again: once a heartbeat reports the
   feed lost, the pings stop (systemd would restart the service after WatchdogSec);
4. handshakes are accepted again: the pings resume; SIGTERM then brings STOPPING=1 and exit 0.

Secrets are configured throughout, with DEBUG logging: the daemon's whole log never shows them.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from tests.support.daemon import DaemonProcess

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
SECRETS = {
    "LA_API_TOKEN": "tok-service-watchdog-7f3a",
    "LA_BITUNIX_API_KEY": "key-service-watchdog-91c2",
    "LA_BITUNIX_API_SECRET": "sec-service-watchdog-5d8e",
}
REJECT_ALL = 1_000_000


@pytest.fixture
def sim_options() -> dict[str, Any]:
    # Real time (the daemon uses the wall clock with --source bitunix), fast pushes.
    return {"speed": 1.0, "kline_push_ms": 100, "depth_push_ms": 50}


class Inbox:
    """The systemd side: every datagram the daemon sends, in order, awaitable."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.messages: list[str] = []
        self._changed = asyncio.Condition()

    async def pump(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            data = await loop.sock_recv(self.sock, 4096)
            async with self._changed:
                self.messages.append(data.decode())
                self._changed.notify_all()

    async def wait_for(self, predicate: Callable[[list[str]], bool], limit: float,
                       what: str) -> None:
        try:
            async with asyncio.timeout(limit), self._changed:
                await self._changed.wait_for(lambda: predicate(self.messages))
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}: {self.messages[-8:]}") from None

    def statuses(self, start: int = 0) -> list[str]:
        return [m for m in self.messages[start:] if m.startswith("STATUS=")]


@contextlib.asynccontextmanager
async def _background(coroutine: Any) -> AsyncIterator[None]:
    task = asyncio.create_task(coroutine)
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def test_no_ready_and_no_watchdog_while_the_feed_is_down(
    sim: Any, tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    sock.setblocking(False)
    inbox = Inbox(sock)
    sim.reject_handshakes(REJECT_ALL, 503)  # the feed is down before the daemon starts
    env = {**SECRETS,
           "NOTIFY_SOCKET": path,
           "WATCHDOG_USEC": "1000000",  # WatchdogSec=1s: heartbeats every 0.5 s
           "LA_SOURCE": "bitunix",
           "LA_BITUNIX_WS_URL": sim.ws_url,
           "LA_BITUNIX_PRIVATE_WS_URL": sim.private_ws_url,
           "LA_BITUNIX_REST_URL": sim.rest_url,
           "LA_WS_REFUSED_LIMIT": "100000",  # rejected handshakes must not end the daemon (69)
           "LA_WS_BACKOFF_INITIAL": "0.1",
           "LA_WS_BACKOFF_MAX": "0.3",
           "LA_HISTORY_CANDLES": "120",
           "LA_LOG_LEVEL": "DEBUG"}
    daemon = DaemonProcess(tmp_path / "data", None, env=env, args=("run", "--duration", "60"))
    log = daemon.lines
    try:
        async with _background(inbox.pump()):
            # 1. Handshakes rejected: heartbeats (STATUS=) flow, the daemon keeps trying.
            rejected_before = sim.stats.handshakes_rejected
            await inbox.wait_for(lambda m: len(inbox.statuses()) >= 4, 40, "4 heartbeats")
            await inbox.wait_for(
                lambda m: sim.stats.handshakes_rejected >= rejected_before + 2
                and len(inbox.statuses()) >= 5, 20, "two rejected handshakes")
            assert any("control API listening" in line for line in log), "".join(log[-20:])
            assert "READY=1" not in inbox.messages, inbox.messages
            assert "WATCHDOG=1" not in inbox.messages, inbox.messages
            assert all("tick_age=-" in m for m in inbox.statuses()), inbox.statuses()

            # 2. The feed comes up: READY=1 (after the first tick), then watchdog pings.
            sim.reject_handshakes(0)
            await inbox.wait_for(lambda m: "READY=1" in m, 30, "READY=1")
            ready_at = inbox.messages.index("READY=1")
            await inbox.wait_for(lambda m: m[ready_at:].count("WATCHDOG=1") >= 2, 10,
                                 "watchdog pings after READY=1")
            after_ready = inbox.statuses(ready_at)
            assert after_ready and all("tick_age=-" not in m for m in after_ready), after_ready
            first_tick = next(i for i, line in enumerate(log) if "first tick" in line)
            ready_logged = next(i for i, line in enumerate(log) if "ready: API listening" in line)
            assert first_tick < ready_logged

            # 3. The feed goes down: once a heartbeat reports it lost, no more pings.
            sim.reject_handshakes(REJECT_ALL, 503)
            assert sim.drop_all() >= 1

            def lost_at(messages: list[str]) -> int | None:
                return next((i for i, m in enumerate(messages)
                             if i > ready_at and m.startswith("STATUS=feed=lost")), None)

            await inbox.wait_for(lambda m: lost_at(m) is not None, 15, "a feed=lost heartbeat")
            down = lost_at(inbox.messages)
            assert down is not None
            await inbox.wait_for(lambda m: len(inbox.statuses(down)) >= 5, 10,
                                 "heartbeats while the feed is down")
            assert "WATCHDOG=1" not in inbox.messages[down:], inbox.messages[down:]
            assert "STOPPING=1" not in inbox.messages

            # 4. The feed recovers: the pings resume.
            up_from = len(inbox.messages)
            sim.reject_handshakes(0)
            await inbox.wait_for(lambda m: "WATCHDOG=1" in m[up_from:], 20,
                                 "watchdog pings after recovery")

            stopped = asyncio.create_task(asyncio.to_thread(daemon.stop, 15))
            await inbox.wait_for(lambda m: "STOPPING=1" in m, 10, "STOPPING=1")
            assert await stopped == 0, "".join(log[-30:])  # and the whole log, up to EOF
        text = "".join(log)
        for name, secret in SECRETS.items():
            assert secret not in text, f"{name} leaked into the log"
    finally:
        if daemon.proc.poll() is None:
            daemon.kill()
