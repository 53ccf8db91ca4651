"""The seam between a backtest's result and its output: the summary (JSON and table) and the
report files. The statistics and the files are ``stats.py`` and ``report.py``'s (written apart
from the engine); this module hands them the engine's figures and adds what only the engine
knows: the ledger check, whether funding was available, what ran over what.

While those modules are absent (an engine-only build), :class:`PlainOutput` gives the totals
the journal holds, so the command still says what happened.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from laptop_agents.backtest.run import BacktestResult

Say = Callable[[str], None]


def engine_fields(result: BacktestResult) -> dict[str, Any]:
    """What the engine adds to the statistics (all deterministic: no paths, no wall time)."""
    data, totals = result.data, result.ledger.totals
    return {"strategy": result.strategy, "symbol": data.instrument.symbol,
            "interval": data.candles[0].interval if data.candles else None,
            "series": data.source, "candles": len(data.candles),
            "warmup_candles": len(data.warmup), "fills": len(result.fills),
            "funding_available": result.funding_available,
            "funding_settlements": len(result.ledger.funding),
            "ledger_check": "ok", "final_balance": format(totals.balance, "f")}


def dumps(values: dict[str, Any]) -> bytes:
    """Deterministic JSON: sorted keys, two-space indent, ASCII, one trailing newline."""
    return (json.dumps(values, sort_keys=True, indent=2, ensure_ascii=True) + "\n").encode()


class Output(Protocol):
    def summary(self, result: BacktestResult) -> dict[str, Any]: ...

    def table(self, result: BacktestResult, say: Say) -> None: ...

    def write_report(self, result: BacktestResult, directory: Path) -> None: ...


class PlainOutput:
    """The journal's totals alone (no statistics module)."""

    def summary(self, result: BacktestResult) -> dict[str, Any]:
        t = result.ledger.totals
        return {"net_pnl": format(t.balance - t.starting_equity, "f"),
                "fees": format(t.fees, "f"), "funding": format(t.funding, "f"),
                "trades": len(result.trades), "liquidations": result.liquidations,
                **engine_fields(result)}

    def table(self, result: BacktestResult, say: Say) -> None:
        for key, value in sorted(self.summary(result).items()):
            say(f"{key:22} {value}")

    def write_report(self, result: BacktestResult, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "summary.json").write_bytes(dumps(self.summary(result)))


class StatsOutput:
    """stats.py's summary and report.py's files, with the engine's fields."""

    def __init__(self, stats: Any, report: Any) -> None:
        self._stats, self._report = stats, report

    def _summary(self, result: BacktestResult) -> Any:
        t = result.ledger.totals
        return self._stats.summarize(
            result.trades, result.equity, starting_equity=t.starting_equity,
            start_ms=result.data.start_ms, end_ms=result.data.end_ms, fees=t.fees,
            funding=t.funding, liquidations=result.liquidations)

    def summary(self, result: BacktestResult) -> dict[str, Any]:
        values: dict[str, Any] = self._stats.summary_dict(self._summary(result))
        return {**values, **engine_fields(result)}

    def table(self, result: BacktestResult, say: Say) -> None:
        from rich.console import Console

        title = f"Backtest {result.strategy} {result.data.instrument.symbol}"
        Console().print(self._stats.summary_table(self._summary(result), title=title))
        fields = engine_fields(result)
        say(f"ledger check {fields['ledger_check']}; funding "
            + ("from the exchange's history" if fields["funding_available"]
               else "unavailable for this range (funding_available: false)"))

    def write_report(self, result: BacktestResult, directory: Path) -> None:
        title = f"{result.strategy} {result.data.instrument.symbol}"
        self._report.write_report(directory, self._summary(result), result.trades,
                                  result.equity, result.data.candles, title=title)
        # The same bytes as --json: the statistics and the engine's fields, in one file.
        (directory / "summary.json").write_bytes(dumps(self.summary(result)))


def default_output() -> Output:
    try:
        stats = importlib.import_module("laptop_agents.backtest.stats")
        report = importlib.import_module("laptop_agents.backtest.report")
    except ImportError:
        return PlainOutput()
    return StatsOutput(stats, report)


__all__ = ["Output", "PlainOutput", "StatsOutput", "default_output", "dumps", "engine_fields"]
