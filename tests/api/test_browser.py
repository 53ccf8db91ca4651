"""The browser page in real headless Chromium (Debian `chromium`, driven by Playwright).

The API runs in a background thread with its own loop (like the daemon), the test drives the
page synchronously and publishes ticks/candles on the server loop the way the engine does.
A screenshot is kept in test-artifacts/ at the repository root.
"""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS
from tests.support.daemon import DaemonProcess

from .conftest import TOKEN, make_settings
from .memory_controller import START_MS, MemoryController
from .server_thread import ServerThread

pytestmark = pytest.mark.browser


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(make_settings(), MemoryController()) as thread:
        yield thread


def publish_tick(server: ServerThread, bid: str, ts: int) -> None:
    assert server.hub is not None
    hub, controller = server.hub, server.controller
    server.call(lambda: hub.publish("tick", controller.tick(Decimal(bid), ts)))


def test_dashboard_live_chart_and_pause(server: ServerThread) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 800})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(server.url + "/")

            expect(page.locator("#api-state")).to_have_text("connected", timeout=10_000)
            expect(page.locator("#symbol")).to_have_text("BTCUSDT")
            expect(page.locator("#symbol-picker")).to_be_hidden()  # one symbol
            expect(page.locator("#feed-state")).to_have_text("connected")
            expect(page.locator("#gate")).to_have_text("trading")
            expect(page.locator("#equity")).to_have_text("10,000.00")
            expect(page.locator("#position")).to_contain_text("long 0.010 @ 50,000.0")
            expect(page.locator("#liquidation")).to_have_text("40,250.0")
            expect(page.locator("#margin")).to_have_text("100.00 at 5x")
            page.wait_for_function(
                "window.laDashboard.candles === 50 && window.laDashboard.subscribed >= 1",
                timeout=10_000)
            chart_before = page.locator("#chart").screenshot()

            # ticks move the price text and draw on the chart
            base = START_MS + 50 * 60_000
            for i, bid in enumerate(["50120.0", "50180.5", "50090.0", "50250.0", "50123.5"]):
                publish_tick(server, bid, base + i * 15_000)
            expect(page.locator("#bid")).to_have_text("50,123.5")
            expect(page.locator("#ask")).to_have_text("50,124.0")
            expect(page.locator("#last")).to_have_text("50,123.5")
            assert page.evaluate("window.laDashboard.ticks") >= 1
            # a new candle extends the candle series
            controller = server.controller
            assert server.hub is not None
            hub = server.hub
            candle = server.call(controller.append_candle, base, Decimal("50150"))
            server.call(hub.publish, "candle", candle)
            page.wait_for_function("window.laDashboard.candles === 51", timeout=10_000)
            page.wait_for_timeout(200)  # let the chart paint its next animation frame
            chart_after = page.locator("#chart").screenshot()
            assert chart_after != chart_before, "the chart canvas did not change"

            # Pause asks for the token once, then the status shows the pause reason
            page.click("#pause-btn")
            expect(page.locator("#token-dialog")).to_be_visible()
            page.fill("#token", TOKEN)
            page.click("#token-ok")
            expect(page.locator("#gate")).to_have_text("paused")
            expect(page.locator("#reasons")).to_have_text("manual")
            assert controller.pause_calls == ["manual (browser)"]
            assert page.evaluate("sessionStorage.getItem('la_api_token')") == TOKEN
            page.click("#resume-btn")  # token kept: no second prompt
            expect(page.locator("#gate")).to_have_text("trading")
            expect(page.locator("#token-dialog")).not_to_be_visible()
            page.screenshot(path=str(ARTIFACTS / "api-dashboard.png"), full_page=True)
            assert errors == [], errors

            # the page reconnects on its own when its socket is dropped (daemon restart)
            server.call(hub.close_all)
            page.wait_for_function("window.laDashboard.subscribed >= 2", timeout=15_000)
            expect(page.locator("#api-state")).to_have_text("connected")
            publish_tick(server, "50300.0", base + 120_000)
            expect(page.locator("#bid")).to_have_text("50,300.0")
        finally:
            browser.close()


def test_dashboard_when_reads_require_the_token() -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt-get install -y chromium")
    from playwright.sync_api import expect, sync_playwright

    controller = MemoryController()
    controller.forget_history()
    server = ServerThread(make_settings(api_read_requires_token=True), controller).start()
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page()
                page_errors: list[str] = []
                page.on("pageerror", lambda e: page_errors.append(str(e)))
                page.goto(server.url + "/")
                # the HTTP calls and the socket both need the token: one dialog asks once
                expect(page.locator("#token-dialog")).to_be_visible(timeout=10_000)
                page.fill("#token", TOKEN)
                page.click("#token-ok")
                page.wait_for_function("window.laDashboard.candles === 50", timeout=10_000)
                expect(page.locator("#gate")).to_have_text("trading")
                expect(page.locator("#api-state")).to_have_text("connected")
                # the socket authenticated with its first message and receives the feed
                page.wait_for_function("window.laDashboard.subscribed >= 1", timeout=10_000)
                publish_tick(server, "50555.5", START_MS + 51 * 60_000)
                expect(page.locator("#bid")).to_have_text("50,555.5")
                expect(page.locator("#token-dialog")).not_to_be_visible()
                # a fresh account: each panel says it is empty; one symbol: no selector
                expect(page.locator("#equity-empty")).to_have_text("No equity history yet.")
                expect(page.locator("#trades-empty")).to_have_text("No trades yet.")
                expect(page.locator("#positions-empty")).to_have_text("No open position.")
                expect(page.locator("#position")).to_have_text("No open position.")
                expect(page.locator("#symbol-picker")).to_be_hidden()
                assert page_errors == [], page_errors
            finally:
                browser.close()
    finally:
        server.stop()


def test_dashboard_against_the_real_daemon(tmp_path: Path) -> None:
    """End to end: `python -m laptop_agents run` (embedded simulator) and the page in Chromium.

    Real ticks move the price text and the chart, Pause with the token pauses the engine, and
    after a daemon restart on the same port the page reconnects on its own and still shows the
    pause (persisted in the journal).
    """
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt-get install -y chromium")
    import requests
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    data_dir = tmp_path / "data"
    daemon = DaemonProcess(data_dir, TOKEN)
    errors: list[str] = []
    try:
        url = daemon.url()
        port = int(url.rsplit(":", 1)[1])
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                page = browser.new_page(viewport={"width": 1200, "height": 800})
                page.on("console",
                        lambda m: errors.append(m.text) if m.type == "error" else None)
                page.on("pageerror", lambda e: errors.append(str(e)))
                page.goto(url + "/")

                expect(page.locator("#api-state")).to_have_text("connected", timeout=10_000)
                expect(page.locator("#symbol")).to_have_text("BTCUSDT")
                expect(page.locator("#feed-state")).to_have_text("connected", timeout=10_000)
                expect(page.locator("#equity")).not_to_have_text("–")
                page.wait_for_function("window.laDashboard.candles >= 100", timeout=10_000)
                expect(page.locator("#bid")).not_to_have_text("–", timeout=10_000)
                first_bid = page.locator("#bid").text_content()
                ticks = page.evaluate("window.laDashboard.ticks")
                candles = page.evaluate("window.laDashboard.candles")
                chart_before = page.locator("#chart").screenshot()
                # the simulator's ticks (every 50 ms) and candles (every wall second) arrive
                page.wait_for_function(
                    f"window.laDashboard.ticks >= {ticks + 20} && "
                    f"window.laDashboard.candles > {candles} && "
                    f"document.getElementById('bid').textContent !== {first_bid!r}",
                    timeout=15_000)
                page.wait_for_timeout(200)  # let the chart paint its next animation frame
                assert page.locator("#chart").screenshot() != chart_before

                page.click("#pause-btn")
                expect(page.locator("#token-dialog")).to_be_visible()
                page.fill("#token", TOKEN)
                page.click("#token-ok")
                expect(page.locator("#gate")).to_have_text("paused")
                expect(page.locator("#reasons")).to_contain_text("manual")
                status = requests.get(url + "/status", timeout=5).json()
                assert "manual" in status["gate"]["reasons"]
                assert status["gate"]["details"]["manual"] == "manual (browser)"
                page.screenshot(path=str(ARTIFACTS / "api-dashboard-daemon.png"), full_page=True)
                assert errors == [], errors

                # restart the daemon on the same port: the page comes back on its own, paused
                assert daemon.stop() == 0, daemon.log()
                expect(page.locator("#api-state")).to_have_text("disconnected, retrying")
                connects = page.evaluate("window.laDashboard.connects")
                daemon = DaemonProcess(data_dir, TOKEN, port=port)
                assert daemon.url() == url
                page.wait_for_function(f"window.laDashboard.connects > {connects}",
                                       timeout=15_000)
                expect(page.locator("#api-state")).to_have_text("connected")
                expect(page.locator("#reasons")).to_contain_text("manual", timeout=10_000)
                # The new daemon's ticks move the price text and, from its first tick on, the
                # chart's tick line, although its simulator's clock started over (earlier).
                plotted = page.evaluate("window.laDashboard.plotted")
                ticks = page.evaluate("window.laDashboard.ticks")  # (read second: no race)
                page.wait_for_function(f"window.laDashboard.ticks > {ticks}", timeout=10_000)
                assert page.evaluate("window.laDashboard.plotted") > plotted
                page.wait_for_function(f"window.laDashboard.plotted >= {plotted + 10}",
                                       timeout=10_000)
                page.click("#resume-btn")  # the token is still in sessionStorage: no prompt
                expect(page.locator("#reasons")).not_to_contain_text("manual")
                expect(page.locator("#token-dialog")).not_to_be_visible()
                status = requests.get(url + "/status", timeout=5).json()
                assert "manual" not in status["gate"]["reasons"]
                page.screenshot(path=str(ARTIFACTS / "api-dashboard-daemon-restarted.png"),
                                full_page=True)
            finally:
                browser.close()
    finally:
        code = daemon.stop()
    assert code == 0, daemon.log()
    # The refused socket while the daemon was down is the only console noise allowed.
    assert all("WebSocket" in e or "ERR_CONNECTION_REFUSED" in e for e in errors), errors
