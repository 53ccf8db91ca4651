"""SdNotifier against a real AF_UNIX datagram socket, as systemd would receive it."""

from __future__ import annotations

import os
import socket
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from laptop_agents.service import SdNotifier, heartbeat_interval


class Receiver:
    """The systemd side: a bound datagram socket that collects what the notifier sends."""

    def __init__(self, sock: socket.socket, name: str) -> None:
        self.sock = sock
        self.name = name  # the NOTIFY_SOCKET value

    def recv(self, timeout: float = 2.0) -> str:
        self.sock.settimeout(timeout)
        return self.sock.recv(4096).decode()

    def assert_empty(self) -> None:
        self.sock.setblocking(False)
        with pytest.raises(BlockingIOError):
            self.sock.recv(4096)


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    # A short directory: sun_path is limited to 108 bytes and pytest's tmp_path can be long.
    with tempfile.TemporaryDirectory(prefix="la-notify-", dir="/tmp") as directory:
        path = str(Path(directory) / "notify.sock")
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.bind(path)
        try:
            yield Receiver(sock, path)
        finally:
            sock.close()


@pytest.fixture
def abstract_receiver() -> Iterator[Receiver]:
    name = f"la-test-{uuid.uuid4().hex}"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind("\0" + name)
    try:
        yield Receiver(sock, "@" + name)
    finally:
        sock.close()


def test_messages_arrive_exactly(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", receiver.name)
    notifier = SdNotifier.from_env()
    assert notifier.enabled
    assert notifier.ready()
    assert receiver.recv() == "READY=1"
    assert notifier.status("equity 10000 USDT | feed ok\nsecond line")
    assert receiver.recv() == "STATUS=equity 10000 USDT | feed ok second line"
    assert notifier.watchdog()
    assert receiver.recv() == "WATCHDOG=1"
    assert notifier.stopping()
    assert receiver.recv() == "STOPPING=1"
    assert notifier.notify(status="x", errno=5)
    assert receiver.recv() == "STATUS=x\nERRNO=5"
    assert notifier.extend_timeout(1.5)
    assert receiver.recv() == "EXTEND_TIMEOUT_USEC=1500000"
    assert notifier.send("RELOADING=1")
    assert receiver.recv() == "RELOADING=1"
    receiver.assert_empty()
    notifier.close()


def test_abstract_socket(abstract_receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", abstract_receiver.name)
    notifier = SdNotifier.from_env()
    assert notifier.ready()
    assert abstract_receiver.recv() == "READY=1"
    assert notifier.watchdog()
    assert abstract_receiver.recv() == "WATCHDOG=1"


def test_unset_does_nothing(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    notifier = SdNotifier.from_env()
    assert not notifier.enabled
    assert notifier.ready() is False
    assert notifier.status("x") is False
    assert notifier.watchdog() is False
    assert notifier.stopping() is False
    assert notifier.watchdog_interval() is None
    receiver.assert_empty()
    assert notifier._sock is None  # not even a socket was created


def test_missing_socket_never_raises(tmp_path: Path) -> None:
    notifier = SdNotifier(str(tmp_path / "gone.sock"))
    assert notifier.enabled
    assert notifier.ready() is False  # ENOENT, logged at debug, swallowed
    assert notifier.watchdog() is False


def test_unsupported_address_is_disabled() -> None:
    assert not SdNotifier("vsock:2:1234").enabled
    assert not SdNotifier("relative.sock").enabled


def test_receiver_gone_mid_run(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    notifier = SdNotifier(receiver.name)
    assert notifier.watchdog()
    assert receiver.recv() == "WATCHDOG=1"
    receiver.sock.close()
    os.unlink(receiver.name)
    assert notifier.watchdog() is False


def test_watchdog_interval(receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NOTIFY_SOCKET", receiver.name)
    monkeypatch.setenv("WATCHDOG_USEC", "30000000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    notifier = SdNotifier.from_env()
    assert notifier.watchdog_interval() == 15.0
    assert heartbeat_interval(60.0, notifier) == 15.0
    assert heartbeat_interval(5.0, notifier) == 5.0

    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid()))
    assert SdNotifier.from_env().watchdog_interval() == 15.0

    monkeypatch.setenv("WATCHDOG_PID", str(os.getpid() + 1))
    other = SdNotifier.from_env()
    assert other.watchdog_interval() is None
    assert heartbeat_interval(60.0, other) == 60.0


@pytest.mark.parametrize("value", ["", "0", "-5", "abc"])
def test_watchdog_usec_invalid(value: str, receiver: Receiver) -> None:
    notifier = SdNotifier.from_env({"NOTIFY_SOCKET": receiver.name, "WATCHDOG_USEC": value})
    assert notifier.watchdog_interval() is None


def test_watchdog_interval_needs_socket() -> None:
    notifier = SdNotifier.from_env({"WATCHDOG_USEC": "30000000"})
    assert notifier.watchdog_interval() is None
    assert heartbeat_interval(60.0, notifier) == 60.0
    assert heartbeat_interval(60.0, None) == 60.0
