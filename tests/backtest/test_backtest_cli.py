"""`laptop-agents backtest --source sim`: the example strategies and the Supervisor over two
simulator days trade, the ledger holds, and ``--json`` is byte-identical across runs."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from laptop_agents import cli

RANGE = ["--source", "sim", "--from", "2024-01-01", "--to", "2024-01-03"]
EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("store")  # one candle store: fetched once, read after


def backtest_json(args: list[str], data_dir: Path, monkeypatch: pytest.MonkeyPatch,
                  capsys: pytest.CaptureFixture[str]) -> str:
    monkeypatch.setenv("LA_DATA_DIR", str(data_dir))
    capsys.readouterr()
    assert cli.main(["backtest", *RANGE, "--json", *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("strategy", [f"{EXAMPLES / 'ema_cross.py'}:EmaCross",
                                      f"{EXAMPLES / 'breakout.py'}:Breakout", "supervisor"])
def test_each_strategy_trades_and_the_json_is_byte_identical(
        strategy: str, data_dir: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    first = backtest_json(["--strategy", strategy], data_dir, monkeypatch, capsys)
    summary = json.loads(first)
    assert summary["trades"] > 0, summary
    assert summary["ledger_check"] == "ok" and summary["candles"] == 2 * 1440
    assert summary["funding_available"] is True
    second = backtest_json(["--strategy", strategy], data_dir, monkeypatch, capsys)
    assert second == first


def test_report_files(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                      capsys: pytest.CaptureFixture[str]) -> None:
    out = backtest_json(["--report", str(tmp_path / "r")], data_dir, monkeypatch, capsys)
    assert (tmp_path / "r" / "summary.json").read_text() == out


@pytest.mark.parametrize(("args", "code"), [
    (["--from", "2024-01-03", "--to", "2024-01-01"], 64),
    (["--from", "yesterday", "--to", "2024-01-01"], 64),
    (["--to", "2024-01-01"], 64),
    (["--from", "2024-01-01", "--to", "2024-01-02", "--interval", "7min"], 64),
    (["--from", "2024-01-01", "--to", "2024-01-02", "--strategy", "nope"], 78),
    (["--from", "2024-01-01", "--to", "2024-01-02", "--strategy", "ema_cross",
      "--params", '{"fast": 30, "slow": 10}'], 78),
])
def test_bad_arguments(args: list[str], code: int, tmp_path: Path,
                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("LA_DATA_DIR", str(tmp_path))
    assert cli.main(["backtest", "--source", "sim", *args]) == code
