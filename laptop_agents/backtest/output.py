"""The seam between a backtest's result and its output: the summary (JSON and table) and the
report files. The statistics and the files are ``stats.py`` and ``report.py``'s (written apart
from the engine); this module hands them the engine's figures and adds what only the engine
knows: the ledger check, whether funding was available, what ran over what.

:class:`PlainOutput` gives only the totals the journal holds (tests and tools that want no
statistics).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from laptop_agents.backtest import report, stats
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

    def _summary(self, result: BacktestResult) -> stats.Summary:
        t = result.ledger.totals
        return stats.summarize(
            result.trades, result.equity, starting_equity=t.starting_equity,
            start_ms=result.data.start_ms, end_ms=result.data.end_ms, fees=t.fees,
            funding=t.funding, liquidations=result.liquidations)

    def summary(self, result: BacktestResult) -> dict[str, Any]:
        values: dict[str, Any] = stats.summary_dict(self._summary(result))
        return {**values, **engine_fields(result)}

    def table(self, result: BacktestResult, say: Say) -> None:
        from rich.console import Console

        title = f"Backtest {result.strategy} {result.data.instrument.symbol}"
        Console().print(stats.summary_table(self._summary(result), title=title))
        fields = engine_fields(result)
        say(f"ledger check {fields['ledger_check']}; funding "
            + ("from the exchange's history" if fields["funding_available"]
               else "unavailable for this range (funding_available: false)"))

    def write_report(self, result: BacktestResult, directory: Path) -> None:
        title = f"{result.strategy} {result.data.instrument.symbol}"
        report.write_report(directory, self._summary(result), result.trades,
                                  result.equity, result.data.candles, title=title)
        # The same bytes as --json: the statistics and the engine's fields, in one file.
        (directory / "summary.json").write_bytes(dumps(self.summary(result)))


def default_output() -> Output:
    return StatsOutput()


__all__ = ["Output", "PlainOutput", "StatsOutput", "default_output", "dumps", "engine_fields"]
