"""The real daemon under a fake systemd, default (embedded simulator) path: READY, pings, STOPPING.

`python -m laptop_agents run` runs in a subprocess with NOTIFY_SOCKET pointing at a datagram
socket this test owns, exactly as systemd would run it (Type=notify, WatchdogSec=1s). Here the
first tick arrives within moments of start-up, so this test cannot tell READY=1 sent before the
first tick from READY=1 sent after it; test_daemon_feed_watchdog.py holds the feed down from
the start to prove that (and that no WATCHDOG=1 goes out while the feed is down).
"""

from __future__ import annotations

import re
import signal
import socket
import time
from pathlib import Path

import pytest

from tests.support.daemon import DaemonProcess

pytestmark = pytest.mark.slow

LISTENING = re.compile(r"control API listening on http://127\.0\.0\.1:(\d+)/")


def test_daemon_speaks_sd_notify(
    tmp_path: Path, notify_socket: tuple[socket.socket, str]
) -> None:
    sock, path = notify_socket
    daemon = DaemonProcess(tmp_path / "data", None, args=("run", "--duration", "60"), env={
        "NOTIFY_SOCKET": path,
        "WATCHDOG_USEC": "1000000",  # WatchdogSec=1s: the heartbeat must adapt to 0.5 s
        "LA_HEARTBEAT_INTERVAL": "60",
        "XDG_STATE_HOME": str(tmp_path / "state"),
    })
    process, log = daemon.proc, daemon.lines
    messages: list[str] = []
    try:
        deadline = time.monotonic() + 45
        sock.settimeout(1.0)
        # Until READY=1 and then two watchdog pings (>= 1 s apart at most: WatchdogSec=1s).
        while time.monotonic() < deadline:
            if "READY=1" in messages and messages[messages.index("READY=1"):].count(
                    "WATCHDOG=1") >= 3:
                break
            if process.poll() is not None:
                break
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                continue
        assert process.poll() is None, f"daemon exited early: {process.returncode}\n" + "".join(
            log[-30:])
        assert "READY=1" in messages, messages
        ready_at = messages.index("READY=1")
        # The API listens when READY=1 arrives.
        ports = [int(m.group(1)) for line in log if (m := LISTENING.search(line))]
        assert ports, "".join(log[-30:])
        socket.create_connection(("127.0.0.1", ports[0]), timeout=5).close()
        statuses = [m for m in messages if m.startswith("STATUS=")]
        assert statuses, messages
        # Every heartbeat after READY reports a tick age: the first tick came before READY.
        after = [m for m in messages[ready_at:] if m.startswith("STATUS=")]
        assert after and all("tick_age=-" not in m for m in after), after
        assert messages[ready_at:].count("WATCHDOG=1") >= 3

        process.send_signal(signal.SIGTERM)
        stop_deadline = time.monotonic() + 15
        while "STOPPING=1" not in messages and time.monotonic() < stop_deadline:
            try:
                messages.append(sock.recv(4096).decode())
            except TimeoutError:
                if process.poll() is not None:
                    break
        assert "STOPPING=1" in messages, messages[-10:]
        assert process.wait(timeout=15) == 0, "".join(log[-30:])
    finally:
        if process.poll() is None:
            daemon.kill()
