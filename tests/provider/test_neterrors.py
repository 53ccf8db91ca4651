"""Connection failures are one short WARNING line naming host, port and cause (no reprs)."""

from __future__ import annotations

import asyncio
import errno
import socket
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

from laptop_agents.config import load_settings
from laptop_agents.data.providers.bitunix_rest import TRADING_PAIRS_PATH, BitunixRestClient
from laptop_agents.data.providers.bitunix_ws import BitunixWSProvider
from laptop_agents.data.providers.neterrors import describe_connect_error
from tests.support.daemon import DaemonProcess
from tests.support.logs import captured_logs
from tests.support.sim import FAST
from tests.support.waiting import wait_until

UNRESOLVABLE = "nonexistent.invalid"  # RFC 6761: .invalid never resolves
MAX_LINE = 160


def closed_port() -> int:
    """A loopback port nobody listens on (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def failure(session: aiohttp.ClientSession, url: str) -> BaseException:
    try:
        if url.startswith("ws"):
            await session.ws_connect(url, timeout=aiohttp.ClientWSTimeout(ws_close=1))
        else:
            async with session.get(url, timeout=aiohttp.ClientTimeout(total=30)):
                pass
    except aiohttp.ClientError as error:
        return error
    raise AssertionError(f"{url} did not fail")


async def test_real_failures_are_described_by_host_port_and_cause() -> None:
    plain = web.AppRunner(web.Application())  # plain HTTP: a TLS client fails its handshake
    await plain.setup()
    site = web.TCPSite(plain, "127.0.0.1", 0)
    await site.start()
    http_port = plain.addresses[0][1]
    refused = closed_port()
    try:
        async with aiohttp.ClientSession() as session:
            cases = {
                f"wss://{UNRESOLVABLE}/public/":
                    f"{UNRESOLVABLE}:443: DNS lookup failed: no network or unknown host",
                f"http://127.0.0.1:{refused}/x": f"127.0.0.1:{refused}: connection refused",
                f"https://127.0.0.1:{http_port}/x": f"127.0.0.1:{http_port}: TLS handshake failed",
            }
            for url, expected in cases.items():
                error = await failure(session, url)
                assert len(repr(error)) > 200  # what used to be logged
                text = describe_connect_error(url, error)
                assert text.startswith(expected), text
                assert len(text) < 100 and "\n" not in text
    finally:
        await plain.cleanup()


def test_other_causes() -> None:
    url = "wss://fapi.bitunix.com/public/"
    assert describe_connect_error(url, TimeoutError()) == "fapi.bitunix.com:443: timed out"
    assert describe_connect_error("http://h:81", OSError(errno.ENETUNREACH, "x")) == (
        "h:81: network unreachable (no route or no network)")
    long = RuntimeError("x" * 500)
    assert len(describe_connect_error(url, long)) < 110


def _retry_lines(records: list[tuple[str, str]], marker: str) -> list[str]:
    return [message for level, message in records if level == "WARNING" and marker in message]


async def test_ws_client_with_no_dns_warns_plainly_on_every_retry() -> None:
    settings = load_settings(**{**FAST, "ws_connect_timeout": 30.0},
                             bitunix_ws_url=f"wss://{UNRESOLVABLE}/public/")
    with captured_logs("DEBUG") as records:
        async with aiohttp.ClientSession() as session:
            provider = BitunixWSProvider(session, settings)
            task = asyncio.create_task(provider.connect())
            try:
                await wait_until(lambda: len(_retry_lines(records, "connect failed")) >= 3, 60)
            finally:
                task.cancel()
                await asyncio.gather(task, return_exceptions=True)
    lines = _retry_lines(records, "connect failed")
    for attempt, line in enumerate(lines[:3], start=1):
        assert line.startswith(f"WebSocket connect failed (attempt {attempt}, retrying in ")
        assert line.endswith(f"{UNRESOLVABLE}:443: DNS lookup failed: no network or unknown host")
        assert len(line) < MAX_LINE, line
    assert all(len(message) < MAX_LINE for _, message in records), records


async def test_rest_client_with_no_dns_warns_plainly_on_every_retry() -> None:
    settings = load_settings(bitunix_rest_url=f"https://{UNRESOLVABLE}")
    with captured_logs("DEBUG") as records:
        async with aiohttp.ClientSession() as session:
            rest = BitunixRestClient(session, settings, retry_initial=0.01, retry_max=0.02)
            with pytest.raises(aiohttp.ClientConnectorError):
                await rest.get(TRADING_PAIRS_PATH, {})
    lines = _retry_lines(records, "REST")
    assert len(lines) == 3, records  # one per retry (4 attempts)
    for line in lines:
        assert f"{UNRESOLVABLE}:443: DNS lookup failed: no network or unknown host" in line
        assert len(line) < MAX_LINE, line


@pytest.mark.slow
def test_run_on_bitunix_with_no_network_says_so_in_each_retry_line(tmp_path: Path) -> None:
    """`run --source bitunix` where nothing resolves: REST retries, then WebSocket retries."""
    daemon = DaemonProcess(tmp_path / "data", token=None, env={
        "LA_SOURCE": "bitunix", "LA_BITUNIX_WS_URL": f"wss://{UNRESOLVABLE}/public/",
        "LA_BITUNIX_REST_URL": f"https://{UNRESOLVABLE}", "LA_WS_CONNECT_TIMEOUT": "30",
    })
    try:
        daemon.wait_for(r"WebSocket connect failed \(attempt 2,", timeout=60)
    finally:
        daemon.stop()
    warnings = [line for line in daemon.lines if " WARNING " in line]
    retries = [line for line in warnings if "failed (attempt" in line]
    assert any("REST" in line for line in retries) and any("WebSocket" in line for line in retries)
    for line in warnings:
        message = line.split(": ", 1)[1].rstrip("\n")  # after the time, level and module
        assert "DNS lookup failed: no network or unknown host" in message, line
        assert len(message) < MAX_LINE, line
    assert not any("ConnectionKey" in line or len(line) > 250 for line in daemon.lines)
