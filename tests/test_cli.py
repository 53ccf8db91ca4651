"""Command-line parsing: subcommands, the original plan's --mode form, and flag placement."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from laptop_agents.cli import build_parser, translate_legacy
from laptop_agents.errors import EXIT_USAGE


def test_legacy_form_is_run_with_its_flags() -> None:
    argv = translate_legacy(["--mode", "live-session", "--async", "--source", "bitunix",
                             "--symbol", "ethusdt", "--duration", "5"])
    assert argv == ["run", "--source", "bitunix", "--symbol", "ethusdt", "--duration", "5"]
    args = build_parser().parse_args(argv)
    assert (args.command, args.source, args.symbol, args.duration) == (
        "run", "bitunix", "ethusdt", 5.0)


def test_legacy_form_accepts_equals_and_an_explicit_run() -> None:
    assert translate_legacy(["--mode=live-session", "run", "--source", "sim"]) == [
        "run", "--source", "sim"]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(SystemExit, match="only live-session"):
        translate_legacy(["--mode", "backtest"])


def test_plain_commands_pass_through() -> None:
    assert translate_legacy(["status", "--url", "http://x"]) == ["status", "--url", "http://x"]


def test_source_before_the_subcommand_is_an_error_not_ignored(tmp_path: Path) -> None:
    """`laptop-agents --source bitunix run` must not quietly trade on the simulator."""
    proc = subprocess.run(
        [sys.executable, "-m", "laptop_agents", "--source", "bitunix", "run"],
        capture_output=True, text=True, cwd=tmp_path, timeout=60,
    )
    assert proc.returncode == EXIT_USAGE
    assert "error" in proc.stderr  # refused by the parser, so nothing starts
