"""Reconnect politeness with the default settings: a failed attempt waits at least 1 s (Bitunix
may block addresses that reconnect too often), and three refusals still end the daemon with
exit 69 within about 10 s: REST retries during warm-up do not delay that decision."""

from __future__ import annotations

import re
import socket
import subprocess
import sys
import time
from pathlib import Path

from laptop_agents.errors import EXIT_FEED_REFUSED
from tests.support.daemon import clean_env

RETRY = re.compile(r"WebSocket connect failed \(attempt (\d+), retrying in ([0-9.]+)s\)")


def test_a_refusing_exchange_is_left_alone_for_a_second_then_given_up_on(
        tmp_path: Path) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = int(sock.getsockname()[1])  # closed again below: ECONNREFUSED
    env = clean_env()
    env.update({"LA_BITUNIX_WS_URL": f"ws://127.0.0.1:{port}/public/",
                "LA_BITUNIX_REST_URL": f"http://127.0.0.1:{port}",
                "LA_DATA_DIR": str(tmp_path / "data"), "LA_API_ENABLED": "false",
                "LA_LOG_JSON": "false"})
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "laptop_agents", "run", "--source", "bitunix"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
        stdin=subprocess.DEVNULL,
    )
    elapsed = time.monotonic() - started
    assert result.returncode == EXIT_FEED_REFUSED == 69, result.stderr[-3000:]
    waits = [float(delay) for _, delay in RETRY.findall(result.stderr)]
    assert len(waits) == 2, result.stderr[-3000:]  # attempts 1 and 2; the third gives up
    assert all(wait >= 1.0 for wait in waits), waits
    assert waits[1] >= 2.0  # doubling
    assert elapsed < 12.0, f"fail-fast took {elapsed:.1f}s"
