"""Fixtures of the service tests."""

from __future__ import annotations

import socket
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest


@pytest.fixture
def notify_socket() -> Iterator[tuple[socket.socket, str]]:
    """A datagram socket standing in for systemd's NOTIFY_SOCKET, and its path."""
    # A short directory: sun_path is limited to 108 bytes and pytest's tmp_path can be long.
    with tempfile.TemporaryDirectory(prefix="la-notify-", dir="/tmp") as directory:
        path = str(Path(directory) / "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        try:
            yield sock, path
        finally:
            sock.close()
