"""Issue #11's acceptance: 1,100 half-sent connections under `prlimit --nofile=1024:4096`.

The real daemon (embedded simulator, fault admin API on) runs under prlimit. The test opens
1,100 connections to its API that each send part of a request line and then nothing, and,
while they are held, checks that a new client's GET /healthz answers 200 within seconds and
that the market feed reconnects after the simulator drops it.
"""

from __future__ import annotations

import json
import resource
import shutil
import socket
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.api.conftest import TOKEN
from tests.support.daemon import DaemonProcess
from tests.support.waiting import wait_until_sync

FLOOD = 1100
LIMITS = "--nofile=1024:4096"
T = TypeVar("T")


@pytest.fixture
def enough_descriptors() -> Iterator[None]:
    """This process holds the 1,100 client sockets: lift its own soft limit if needed."""
    need = FLOOD + 300
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft >= need:
        yield
        return
    if hard != resource.RLIM_INFINITY and hard < need:
        pytest.skip(f"needs {need} file descriptors for its clients; the hard limit is {hard}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (need, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))


def get_json(url: str, timeout: float = 5.0) -> tuple[int, Any]:
    with urllib.request.urlopen(url, timeout=timeout) as response:
        return response.status, json.loads(response.read())


def soft_fd_limit(pid: int) -> int | None:
    limits = Path(f"/proc/{pid}/limits")
    if not limits.exists():
        return None
    for line in limits.read_text().splitlines():
        if line.startswith("Max open files"):
            return int(line.split()[3])
    return None


@pytest.mark.slow
def test_half_sent_flood_leaves_healthz_and_the_feed_working(
    tmp_path: Path, enough_descriptors: None
) -> None:
    prlimit = shutil.which("prlimit")
    if prlimit is None:
        pytest.skip("util-linux prlimit is not installed")
    daemon = DaemonProcess(tmp_path / "data", token=TOKEN, env={"LA_SIM_ADMIN": "true"},
                           prefix=[prlimit, LIMITS, "--"])
    clients: list[socket.socket] = []
    try:
        url = daemon.url()
        admin = daemon.wait_for(r"admin (http://127\.0\.0\.1:\d+)").group(1)
        # prlimit execs the daemon, so this is its pid; it lifted its soft limit to the hard.
        assert soft_fd_limit(daemon.proc.pid) in (4096, None)

        def feed(min_reconnects: int) -> dict[str, Any] | None:
            _, status = get_json(f"{url}/status")
            state: dict[str, Any] = status["feed"]
            ok = state["state"] == "connected" and state["reconnects"] >= min_reconnects
            return state if ok else None

        reconnects = wait_until_sync(lambda: feed(0), 20, "the feed to connect")["reconnects"]
        log_mark = len(daemon.lines)

        host, port = url.removeprefix("http://").split(":")
        for _ in range(FLOOD):
            client = socket.create_connection((host, int(port)), timeout=5)
            client.sendall(b"GET /status HT")  # half a request line, then silence
            clients.append(client)

        started = time.monotonic()
        assert get_json(f"{url}/healthz") == (200, {"status": "ok"})
        assert time.monotonic() - started < 5

        with urllib.request.urlopen(urllib.request.Request(
                f"{admin}/admin/drop_all", method="POST"), timeout=5) as response:
            assert json.loads(response.read())["dropped"] >= 1
        wait_until_sync(lambda: feed(reconnects + 1), 20, "the feed to reconnect after the drop")

        flood_log = daemon.lines[log_mark:]
        assert any("API connection limit" in line for line in flood_log), daemon.log()
        assert not any("Traceback" in line for line in flood_log), daemon.log()
        assert sum(map(len, flood_log)) < 100_000  # not megabytes of tracebacks
    finally:
        for client in clients:
            client.close()
        code = daemon.stop()
    assert code == 0, daemon.log()
