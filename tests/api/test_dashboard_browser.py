"""The dashboard page against the REAL engine trading two simulated symbols, in headless
Chromium (Debian `chromium`, driven by Playwright).

Every panel shows what the API answers (equity, balance, positions, trades, today's realised
PnL), formatted to the instrument's precision; entry and exit markers appear after a trade and
the equity curve follows the fills; the symbol selector switches the chart; the layout holds
at 1400x900 and at phone width (no horizontal overflow); no console error. Screenshots of both
widths go to test-artifacts/ and the pytest tmp dir, and to $LA_SCREENSHOT_DIR when set.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any

import pytest
import requests

from tests.support.browser import ARTIFACTS, CHROMIUM, CHROMIUM_ARGS, SCREENSHOT_DIR
from tests.support.engine_thread import EngineThread

from .conftest import AUTH, TOKEN

pytestmark = pytest.mark.browser

SYMBOLS = ("BTCUSDT", "ETHUSDT")
DAY_MS = 86_400_000
WAIT = 15_000


def money(value: str | Decimal | None, sign: bool = False) -> str:
    """The page's money format: 2 decimals (half up), thousands separators, "+" if asked."""
    if value is None:
        return "–"
    q = Decimal(value).quantize(Decimal("0.01"), ROUND_HALF_UP)
    q = abs(q) if q == 0 else q
    return ("+" if sign and q > 0 else "") + f"{q:,.2f}"


def price(value: str | Decimal | None, decimals: int) -> str:
    if value is None:
        return "–"
    return f"{Decimal(value).quantize(Decimal(10) ** -decimals, ROUND_HALF_UP):,.{decimals}f}"


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[EngineThread]:
    if not CHROMIUM.exists():
        pytest.skip("Debian chromium not installed: apt-get install -y chromium")
    with EngineThread(tmp_path / "data", SYMBOLS, TOKEN) as running:
        yield running


def get(engine: EngineThread, path: str) -> Any:
    response = requests.get(engine.url + path, timeout=5)
    assert response.status_code == 200, response.text
    return response.json()


def flatten(engine: EngineThread, symbol: str) -> None:
    response = requests.post(f"{engine.url}/flatten?symbol={symbol}", headers=AUTH, timeout=5)
    assert response.status_code == 200 and response.json()["closed"], response.text


def save_screenshot(page: Any, name: str, tmp_path: Path) -> Path:
    path = tmp_path / name
    page.screenshot(path=str(path), full_page=True)
    ARTIFACTS.mkdir(exist_ok=True)
    shutil.copy(path, ARTIFACTS / name)
    if SCREENSHOT_DIR is not None:
        SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, SCREENSHOT_DIR / name)
    return path


def rows(page: Any, table: str) -> list[list[str]]:
    texts: list[list[str]] = page.eval_on_selector_all(
        f"#{table} tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))")
    return texts


def check_positions(page: Any, engine: EngineThread, decimals: dict[str, int]) -> None:
    """The positions table lists every open position as /positions answers it."""
    api = get(engine, "/positions")["positions"]
    shown = {row[0]: row for row in rows(page, "positions")}
    assert set(shown) == {p["symbol"] for p in api}
    for p in api:
        d = decimals[p["symbol"]]
        row = shown[p["symbol"]]
        assert row[1:4] == [p["side"], p["size"], price(p["entry"], d)], row
        assert row[6:] == [money(p["margin"]), price(p["liquidation_price"], d),
                           price(p["stop"], d), price(p["target"], d)], row


def check_trades(page: Any, engine: EngineThread, decimals: dict[str, int]) -> None:
    api = get(engine, "/trades?limit=50")["trades"]
    shown = rows(page, "trades")
    assert len(shown) == len(api)
    for row, t in zip(shown, api, strict=True):
        d = decimals[t["symbol"]]
        assert row[2:] == [t["symbol"], t["side"], t["qty"], price(t["entry_price"], d),
                           price(t["exit_price"], d), money(t["realized_pnl"], sign=True),
                           money(t["fees"]), money(t["funding"]), t["exit_reason"]], row


def check_account(page: Any, engine: EngineThread) -> None:
    """Balance as /status (equity too when flat: it moves with the quotes otherwise), realised
    PnL today as the sum of today's closed trades."""
    from playwright.sync_api import expect

    status = get(engine, "/status")
    expect(page.locator("#balance")).to_have_text(money(status["account"]["balance"]))
    if not any(s["position"] for s in status["symbols"].values()):
        expect(page.locator("#equity")).to_have_text(money(status["equity"]))
    now = max(s["last_quote"]["ts"] for s in status["symbols"].values())
    today = get(engine, f"/trades?limit=1000&since={now // DAY_MS * DAY_MS}")["trades"]
    realized = sum((Decimal(t["realized_pnl"]) for t in today), Decimal(0))
    expect(page.locator("#pnl")).to_have_text(money(realized, sign=True))


def wait(page: Any, condition: str) -> None:
    page.wait_for_function(condition, timeout=WAIT)


def test_dashboard_two_symbols_against_the_real_engine(engine: EngineThread,
                                                       tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    errors: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 900})
            page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
            page.on("pageerror", lambda e: errors.append(str(e)))
            page.goto(engine.url + "/")
            run_dashboard(page, engine, tmp_path)
            assert errors == [], errors
        finally:
            browser.close()


def run_dashboard(page: Any, engine: EngineThread, tmp_path: Path) -> None:
    from playwright.sync_api import expect

    expect(page.locator("#api-state")).to_have_text("connected", timeout=WAIT)
    expect(page.locator("#symbol-picker")).to_be_visible()
    assert page.eval_on_selector_all("#symbol-select option",
                                     "o => o.map(x => x.value)") == list(SYMBOLS)
    # the empty states: no position, no trade yet
    expect(page.locator("#positions-empty")).to_be_visible()
    expect(page.locator("#trades-empty")).to_have_text("No trades yet.")
    expect(page.locator("#position")).to_have_text("No open position.")
    expect(page.locator("#time-note")).to_contain_text("simulated exchange time")
    wait(page, "window.laDashboard.candles >= 100 && window.laDashboard.equityRefreshes >= 1")
    # the price decimals, learned from the quotes, are the contracts' tick sizes'
    assert engine.runner is not None
    decimals = {e.symbol: -int(e.instrument.tick_size.normalize().as_tuple().exponent)
                for e in engine.runner.symbols}
    wait(page, " && ".join(f"window.laDashboard.decimals.{s} === {d}"
                           for s, d in decimals.items()))
    enter(page, engine, SYMBOLS, rows_expected=2)
    check_positions(page, engine, decimals)
    for level in ("entry", "stop", "target", "mark"):
        expect(page.locator(f"#chart-legend [data-level={level}]")).to_be_visible()

    # BTCUSDT closes: a trade row, its markers, the equity curve takes the fill
    flatten(engine, "BTCUSDT")
    wait(page, "document.querySelectorAll('#trades tbody tr').length === 1")
    expect(page.locator("#trades-empty")).to_be_hidden()
    wait(page, "window.laDashboard.markers === 2")  # the trade's entry and exit
    closed_ms = get(engine, "/trades")["trades"][0]["closed_ms"]
    wait(page, f"window.laDashboard.equityLastTs >= {closed_ms}")
    check_trades(page, engine, decimals)
    check_account(page, engine)
    balance = get(engine, "/status")["account"]["balance"]
    expect(page.locator("#equity-legend [data-series=balance]")).to_contain_text(money(balance))

    # BTCUSDT enters again: three markers, both positions listed; the wide screenshot
    enter(page, engine, ("BTCUSDT",), rows_expected=2)
    wait(page, "window.laDashboard.markers === 3")
    page.wait_for_timeout(300)  # the chart's next animation frame
    btc_chart = page.locator("#chart").screenshot()
    save_screenshot(page, "page-1400.png", tmp_path)

    # the selector switches the chart, the quote and the position panel to ETHUSDT
    page.select_option("#symbol-select", "ETHUSDT")
    expect(page.locator("#symbol")).to_have_text("ETHUSDT")
    expect(page.locator("#chart-symbol")).to_have_text("ETHUSDT")
    wait(page, "window.laDashboard.chartSymbol === 'ETHUSDT' && window.laDashboard.markers === 1"
               " && window.laDashboard.candles >= 100")
    eth = next(p for p in get(engine, "/positions")["positions"] if p["symbol"] == "ETHUSDT")
    expect(page.locator("#position")).to_have_text(
        f"long {eth['size']} @ {price(eth['entry'], decimals['ETHUSDT'])}")
    expect(page.locator("#bid")).not_to_have_text("–")
    page.wait_for_timeout(300)
    assert page.locator("#chart").screenshot() != btc_chart
    check_positions(page, engine, decimals)
    check_layout(page, 1400)

    # phone width: one column, nothing wider than the screen, the key panels there
    page.set_viewport_size({"width": 390, "height": 844})
    page.wait_for_timeout(300)
    check_layout(page, 390)
    save_screenshot(page, "page-phone.png", tmp_path)

    # everything closes: equity = balance, exactly as /status; three trades as /trades
    response = requests.post(f"{engine.url}/flatten", headers=AUTH, timeout=5)
    assert response.status_code == 200 and response.json()["closed"], response.text
    wait(page, "document.querySelectorAll('#trades tbody tr').length === 3")
    expect(page.locator("#positions-empty")).to_be_visible()
    check_trades(page, engine, decimals)
    check_account(page, engine)


def enter(page: Any, engine: EngineThread, symbols: tuple[str, ...], rows_expected: int) -> None:
    """Let ``symbols`` enter once: the positions table then has ``rows_expected`` rows."""
    for symbol in symbols:
        engine.strategies[symbol].armed.set()
    wait(page, f"document.querySelectorAll('#positions tbody tr').length === {rows_expected}")
    for symbol in symbols:
        engine.strategies[symbol].armed.clear()


def check_layout(page: Any, width: int) -> None:
    """No horizontal overflow; the key panels visible and inside the viewport's width."""
    from playwright.sync_api import expect

    assert page.evaluate("document.documentElement.scrollWidth") <= width
    for selector in ("#equity", "#balance", "#pnl", "#chart", "#equity-chart", "#positions",
                     "#trades", "#health", "#tasks", "#symbol-select", "#pause-btn"):
        expect(page.locator(selector)).to_be_visible()
        box = page.locator(selector).bounding_box()
        assert box is not None and box["x"] >= 0, selector
        if selector not in ("#positions", "#trades", "#tasks"):  # tables scroll in their box
            assert box["x"] + box["width"] <= width + 0.5, (selector, box)
    # the lower half of the page holds something: the tables follow the charts
    height = page.evaluate("document.documentElement.scrollHeight")
    trades_top = page.locator("#trades").bounding_box()
    assert trades_top is not None and trades_top["y"] < height
