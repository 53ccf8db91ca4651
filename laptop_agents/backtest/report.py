"""A backtest's files: report.html (charts and the summary, offline), trades.csv and
summary.json. Pure apart from writing the three files.

report.html is one self-contained file: the vendored lightweight-charts library, the page's
script and its data are all inlined, so it opens from disk (file://) with no network and can be
moved or mailed alone. The charts' data is downsampled (see downsample.py); the statistics,
the CSV and the JSON never are.
"""

from __future__ import annotations

import csv
import html
import io
import json
import re
from collections.abc import Sequence
from decimal import Decimal
from importlib import resources
from pathlib import Path

from laptop_agents.models import Candle, Side
from laptop_agents.paper.models import Trade

from .downsample import Bar, downsample_candles, regular_grid, resample, snap
from .stats import (
    EquityPoint,
    Summary,
    drawdown_curve,
    iso_utc,
    plain,
    summary_json,
    summary_rows,
)

TRADE_COLUMNS = ("trade_id", "symbol", "side", "qty", "entry_price", "exit_price", "opened",
                 "closed", "opened_ms", "closed_ms", "gross_pnl", "fees", "funding",
                 "liquidation_fee", "realized_pnl", "exit_reason", "setup")
# Above this many trades the markers carry no text: labels on thousands of arrows are noise.
MARKER_TEXT_MAX_TRADES = 100
WIN, LOSS, FLAT = "#26a69a", "#ef5350", "#9aa4ad"
_PLACEHOLDER = re.compile(r"@@([A-Z_]+)@@")


def write_report(directory: Path, summary: Summary, trades: Sequence[Trade],
                 equity: Sequence[EquityPoint], candles: Sequence[Candle], *,
                 title: str) -> None:
    """Write ``report.html``, ``trades.csv`` and ``summary.json`` into ``directory`` (created
    if missing; existing files of those names are replaced)."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "summary.json").write_bytes(summary_json(summary))
    (directory / "trades.csv").write_text(trades_csv(trades), encoding="utf-8", newline="")
    page = render_html(summary, trades, equity, candles, title=title)
    (directory / "report.html").write_text(page, encoding="utf-8")


def trades_csv(trades: Sequence[Trade]) -> str:
    """One row per trade in the given order, columns :data:`TRADE_COLUMNS`: Decimals as plain
    strings, times both as UTC ISO-8601 and as epoch ms; ``\\n`` line ends."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(TRADE_COLUMNS)
    for t in trades:
        writer.writerow([
            t.trade_id, t.symbol, t.side.value, plain(t.qty), plain(t.entry_price),
            plain(t.exit_price), iso_utc(t.opened_ms), iso_utc(t.closed_ms), t.opened_ms,
            t.closed_ms, plain(t.gross_pnl), plain(t.fees), plain(t.funding),
            plain(t.liquidation_fee), plain(t.realized_pnl), t.exit_reason, t.setup,
        ])
    return out.getvalue()


def _colour(pnl: Decimal) -> str:
    return WIN if pnl > 0 else LOSS if pnl < 0 else FLAT


def trade_markers(trades: Sequence[Trade], bar_times_ms: Sequence[int]) -> list[dict[str, object]]:
    """Two markers per trade, on the bars holding its entry and its exit: an arrow in the
    entry's direction (up for a long) and a circle on the other side for the exit, coloured
    by the trade's net PnL. Sorted by time, as the chart requires."""
    if not bar_times_ms:
        return []
    labelled = len(trades) <= MARKER_TEXT_MAX_TRADES
    markers: list[tuple[int, int, dict[str, object]]] = []
    for i, t in enumerate(trades):
        long = t.side is Side.LONG
        colour = _colour(t.realized_pnl)
        entry_text = f"{'L' if long else 'S'} {plain(t.entry_price)}" if labelled else ""
        exit_text = f"{plain(t.exit_price)} ({plain(t.realized_pnl)})" if labelled else ""
        markers.append((snap(bar_times_ms, t.opened_ms), 2 * i, {
            "position": "belowBar" if long else "aboveBar", "color": colour,
            "shape": "arrowUp" if long else "arrowDown", "text": entry_text}))
        markers.append((snap(bar_times_ms, t.closed_ms), 2 * i + 1, {
            "position": "aboveBar" if long else "belowBar", "color": colour,
            "shape": "circle", "text": exit_text}))
    markers.sort(key=lambda m: (m[0], m[1]))
    return [{"time": time_ms // 1000, **marker} for time_ms, _, marker in markers]


def _bar_row(bar: Bar) -> list[float]:
    # Floats only for drawing: the page never computes money.
    return [bar.time_ms // 1000, float(bar.open), float(bar.high), float(bar.low),
            float(bar.close)]


def chart_equity(summary: Summary, equity: Sequence[EquityPoint]) -> list[EquityPoint]:
    """The equity curve as drawn: in time order, from the period's start (at the starting
    equity) to its end (at the last value), so the three charts span the same period."""
    points = sorted(equity, key=lambda p: p[0])
    if not points or points[0][0] > summary.start_ms:
        points.insert(0, (summary.start_ms, summary.starting_equity))
    if points[-1][0] < summary.end_ms:
        points.append((summary.end_ms, points[-1][1]))
    return points


def page_data(summary: Summary, trades: Sequence[Trade], equity: Sequence[EquityPoint],
              candles: Sequence[Candle]) -> dict[str, object]:
    """What the page draws: downsampled bars; equity and drawdown (as a negative %) on the
    bars' time grid (a regular one without candles); the trade markers; and the source sizes
    and bucket widths the page states."""
    bars, bar_ms = downsample_candles(candles)
    points = chart_equity(summary, equity)
    grid, grid_ms = [b.time_ms for b in bars], bar_ms
    if not grid:
        grid, grid_ms = regular_grid(points[0][0], points[-1][0])
    drawdown = [(ts, pct) for ts, _, pct in drawdown_curve(points, summary.starting_equity)]
    # The deepest drawdown of each bucket, so the chart's trough is the table's.
    deepest = resample(drawdown, grid, pick=max)
    return {
        "candles": [_bar_row(b) for b in bars],
        "equity": [[t, float(v)] for t, v in resample(points, grid)],
        "drawdown": [[t, 0.0 - float(v)] for t, v in deepest],  # 0.0 - : never -0.0
        "markers": trade_markers(trades, [b.time_ms for b in bars]),
        "source": {"candles": len(candles), "equity": len(equity), "trades": len(trades),
                   "bar_ms": bar_ms, "grid_ms": grid_ms},
    }


def _read_library() -> str:
    # One vendored copy for the whole package: the daemon page's. Read as data through the
    # top-level package, so this module imports nothing of laptop_agents.api.
    vendor = resources.files("laptop_agents").joinpath("api", "static", "vendor")
    source = vendor.joinpath("lightweight-charts.standalone.production.js").read_text("utf-8")
    return re.sub(r"</(script)", r"<\\/\1", source, flags=re.IGNORECASE)


def _summary_html(summary: Summary) -> str:
    return "\n".join(f"<tr><th>{html.escape(label)}</th><td>{html.escape(value)}</td></tr>"
                     for label, value in summary_rows(summary))


def _note(data: dict[str, object]) -> str:
    source, bars, equity = data["source"], data["candles"], data["equity"]
    assert isinstance(source, dict) and isinstance(bars, list) and isinstance(equity, list)
    return (f"Charts: {len(bars)} price bars of {source['bar_ms'] // 1000} s from "
            f"{source['candles']} candles; equity and drawdown from {source['equity']} points "
            f"on {len(equity)} buckets of {source['grid_ms'] // 1000} s (value at each "
            f"bucket's end, deepest drawdown in it); {source['trades']} trades. The statistics "
            "use the full data.")


def render_html(summary: Summary, trades: Sequence[Trade], equity: Sequence[EquityPoint],
                candles: Sequence[Candle], *, title: str) -> str:
    """report.html's text."""
    data = page_data(summary, trades, equity, candles)
    # `<` escaped so no string in the data can close the script element.
    data_json = json.dumps(data, separators=(",", ":"), sort_keys=True).replace("<", "\\u003c")
    values = {"TITLE": html.escape(title), "SUMMARY": _summary_html(summary),
              "NOTE": html.escape(_note(data)), "DATA": data_json, "LIBRARY": _read_library()}
    template = resources.files(__package__).joinpath("report_template.html").read_text("utf-8")
    # One pass: inserted text (the library, the data) is never searched for placeholders.
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


__all__ = ["TRADE_COLUMNS", "chart_equity", "page_data", "render_html", "trade_markers",
           "trades_csv", "write_report"]
