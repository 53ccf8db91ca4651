"""report.html in real headless Chromium (Debian `chromium`, driven by Playwright), opened from
disk as a file:// URL with the network blocked: the charts draw, the markers are set, nothing
is fetched and the console stays clean. A screenshot is kept in test-artifacts/."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from laptop_agents.backtest.report import write_report
from laptop_agents.backtest.stats import summarize
from laptop_agents.models import Side
from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS

from .helpers import MINUTE, T0, minute_candles, trade

pytestmark = pytest.mark.browser

# How many pixels of a chart's canvases are within 8 of an RGB colour.
PIXELS = """([selector, rgb]) => {
  let count = 0;
  for (const canvas of document.querySelectorAll(selector + " canvas")) {
    if (!canvas.width || !canvas.height) continue;
    const pixels = canvas.getContext("2d").getImageData(0, 0, canvas.width, canvas.height).data;
    for (let i = 0; i < pixels.length; i += 4) {
      if (Math.abs(pixels[i] - rgb[0]) <= 8 && Math.abs(pixels[i + 1] - rgb[1]) <= 8
          && Math.abs(pixels[i + 2] - rgb[2]) <= 8 && pixels[i + 3] > 200) count += 1;
    }
  }
  return count;
}"""
CANDLES = 8_000  # more than 5,000: the page gets 4,000 bars of 2 minutes


def build_report(directory: Path) -> int:
    """A report over 8,000 one-minute candles with six trades; returns the trade count."""
    candles = minute_candles(CANDLES)
    trades, equity = [], []
    value = Decimal(10_000)
    for i, pnl in enumerate(["42.5", "-18", "30", "-55.25", "12", "61"]):
        opened = T0 + (500 + i * 1_200) * MINUTE
        closed = opened + 400 * MINUTE
        side = Side.LONG if i % 2 == 0 else Side.SHORT
        trades.append(trade(i, pnl, opened, closed, side=side,
                            entry=str(candles[500 + i * 1_200].close),
                            exit_=str(candles[900 + i * 1_200].close)))
        value += Decimal(pnl)
        equity.append((closed, value))
    end = T0 + CANDLES * MINUTE
    summary = summarize(trades, equity, starting_equity=Decimal(10_000), start_ms=T0,
                        end_ms=end, fees=Decimal(6), funding=Decimal("0.4"), liquidations=0)
    write_report(directory, summary, trades, equity, candles, title="BTCUSDT backtest")
    return len(trades)


def test_report_page_draws_offline(tmp_path: Path) -> None:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt-get install -y chromium")
    from playwright.sync_api import Route, expect, sync_playwright

    trades = build_report(tmp_path)
    ARTIFACTS.mkdir(exist_ok=True)
    errors: list[str] = []
    fetched: list[str] = []

    def block(route: Route) -> None:
        fetched.append(route.request.url)
        route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("http*://**/*", block)  # offline: any web request is a failure
            page.goto((tmp_path / "report.html").as_uri())

            page.wait_for_function("window.laReport && window.laReport.ready", timeout=10_000)
            counts = page.evaluate("window.laReport")
            assert counts["candles"] == CANDLES // 2
            assert counts["markers"] == 2 * trades
            # the lines are drawn on the price bars' grid
            assert counts["equity"] == counts["drawdown"] == CANDLES // 2
            for chart in ("#price-chart", "#equity-chart", "#drawdown-chart"):
                assert page.locator(f"{chart} canvas").count() > 0, chart
                box = page.locator(chart).bounding_box()
                assert box is not None and box["width"] > 500 and box["height"] > 100
            expect(page.locator("#summary")).to_contain_text("Win rate")
            expect(page.locator("#summary")).to_contain_text("66.6667%")  # 4 of 6 won
            page.wait_for_timeout(200)  # let the charts paint their first frame
            page.screenshot(path=str(ARTIFACTS / "backtest-report.png"), full_page=True)
            # the lines and bars are really on the canvases, in their colours
            assert page.evaluate(PIXELS, ["#price-chart", [0x26, 0xA6, 0x9A]]) > 100  # up
            assert page.evaluate(PIXELS, ["#price-chart", [0xEF, 0x53, 0x50]]) > 100  # down
            assert page.evaluate(PIXELS, ["#equity-chart", [0x4A, 0xA3, 0xFF]]) > 100
            assert page.evaluate(PIXELS, ["#drawdown-chart", [0xEF, 0x53, 0x50]]) > 10
        finally:
            browser.close()
    assert errors == [], errors
    assert fetched == [], fetched


def test_a_real_backtests_report_shows_its_equity_curve_and_trade_markers(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    """The issue's end-to-end check: an example strategy backtested on the simulator's
    history through the CLI, its report opened offline: the curve and the markers are there."""
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt-get install -y chromium")
    import json

    from playwright.sync_api import sync_playwright

    from laptop_agents import cli

    examples = Path(__file__).resolve().parents[2] / "examples"
    monkeypatch.setenv("LA_DATA_DIR", str(tmp_path / "data"))
    report = tmp_path / "report"
    assert cli.main(["backtest", "--strategy", f"{examples / 'ema_cross.py'}:EmaCross",
                     "--source", "sim", "--from", "2024-01-01", "--to", "2024-01-02",
                     "--json", "--report", str(report)]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["trades"] > 0
    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 1400})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.route("http*://**/*", lambda route: route.abort())
            page.goto((report / "report.html").as_uri())
            page.wait_for_function("window.laReport && window.laReport.ready", timeout=10_000)
            counts = page.evaluate("window.laReport")
            assert counts["markers"] == 2 * summary["trades"]  # an entry and an exit each
            assert counts["equity"] > 0 and counts["candles"] > 0
            page.wait_for_timeout(200)  # let the charts paint their first frame
            assert page.evaluate(PIXELS, ["#equity-chart", [0x4A, 0xA3, 0xFF]]) > 100
        finally:
            browser.close()
    assert errors == [], errors
