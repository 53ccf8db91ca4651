"""The CLI client (`laptop-agents status | positions | trades | candles | equity | flatten |
pause | resume`) against a real running API: tables by default, the API's JSON with --json,
`--symbol` passed through, one line and exit 69 when no daemon answers."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from laptop_agents.api.client import default_url
from laptop_agents.cli import main
from laptop_agents.errors import EXIT_CLIENT, EXIT_NO_DAEMON
from tests.support.daemon import clean_env, free_port

from .conftest import TOKEN, make_settings
from .memory_controller import START_MS, MemoryController
from .server_thread import ServerThread

ROOT = Path(__file__).resolve().parents[2]
COLOUR = re.compile(r"\x1b\[(?:[0-9;]*;)?(?:3[0-8]|9[0-7])[;m]")
DAEMON_COMMANDS = ("status", "positions", "trades", "candles", "equity", "flatten", "pause",
                   "resume")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[ServerThread]:
    for name in ("LA_API_TOKEN", "LA_API_HOST", "LA_API_PORT", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("COLUMNS", "160")
    with ServerThread(make_settings(), MemoryController()) as thread:
        yield thread


def cli(server: ServerThread, *args: str) -> int:
    return main([args[0], "--url", server.url, *args[1:]])


def test_status_is_a_table_and_json_with_json(server: ServerThread,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(server, "status") == 0
    out = capsys.readouterr().out
    assert "BTCUSDT" in out and "trading allowed" in out and "long 0.010 @ 50000.0" in out
    assert cli(server, "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["symbol"] == "BTCUSDT" and status["gate"]["trading_allowed"] is True


def test_reads_pass_their_options_and_symbol(server: ServerThread,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(server, "trades", "--limit", "3", "--since", str(START_MS + 60_000)) == 0
    out = capsys.readouterr().out
    assert "closed trades" in out and "2023-11-14 22:" in out  # UTC times, not epoch ms
    assert server.controller.trade_calls[-1] == (3, START_MS + 60_000)
    assert cli(server, "trades", "--since", "2023-11-14T22:15:00", "--json") == 0
    assert server.controller.trade_calls[-1] == (20, 1_700_000_100_000)
    assert json.loads(capsys.readouterr().out)["trades"]
    assert cli(server, "candles", "--limit", "4", "--json", "--symbol", "BTCUSDT") == 0
    assert len(json.loads(capsys.readouterr().out)["candles"]) == 4
    assert cli(server, "positions") == 0
    assert "50400.0" in capsys.readouterr().out
    assert cli(server, "equity", "--points", "6") == 0
    out = capsys.readouterr().out
    assert "equity:" in out and "of 60 snapshots" in out
    assert server.controller.equity_calls[-1] == (0, 6)
    assert cli(server, "equity", "--json") == 0  # the API's own default
    assert len(json.loads(capsys.readouterr().out)["points"]) == 60


def test_pause_flatten_resume_with_the_token(server: ServerThread, monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setenv("LA_API_TOKEN", TOKEN)
    assert cli(server, "pause", "--reason", "news at 14:30") == 0
    assert capsys.readouterr().out == "paused: trading paused; reasons: manual\n"
    assert server.controller.pause_calls == ["news at 14:30"]
    assert cli(server, "flatten") == 0
    assert capsys.readouterr().out.startswith("closed: long 0.010")
    assert cli(server, "flatten", "--json") == 0
    assert json.loads(capsys.readouterr().out)["closed"] is False
    assert cli(server, "resume") == 0
    assert capsys.readouterr().out == "resumed: trading allowed; reasons: none\n"
    assert server.controller.reasons == []


def test_a_refused_request_is_one_line_and_exit_1(server: ServerThread,
                                                  monkeypatch: pytest.MonkeyPatch,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    assert cli(server, "pause") == EXIT_CLIENT
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "HTTP 401" in err and "missing bearer token" in err
    assert server.controller.pause_calls == []
    monkeypatch.setenv("LA_API_TOKEN", "wrong-token-0123456789")
    assert cli(server, "flatten") == EXIT_CLIENT
    assert "invalid bearer token" in capsys.readouterr().err
    assert cli(server, "equity", "--points", "1") == EXIT_CLIENT
    assert "points must be an integer between 2 and 5000" in capsys.readouterr().err


@pytest.mark.parametrize("command", DAEMON_COMMANDS)
def test_no_daemon_is_one_line_and_exit_69(command: str,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert main([command, "--url", url]) == EXIT_NO_DAEMON == 69
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == (f"laptop-agents: no daemon answering at {url} (connection "
                            "refused); start it with 'laptop-agents run'\n")


@pytest.mark.parametrize("command", DAEMON_COMMANDS)
def test_help_shows_every_option_with_its_default(command: str,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    options = [word.strip("[],") for word in text.split() if word.startswith(("--", "[--"))]
    assert "--url" in options and "--json" in options
    sections = re.split(r" --(?=[a-z][a-z-]* )", text.split("options:")[1])[1:]
    for section in sections:
        if not section.startswith("help"):
            assert "(default:" in section, section


def test_default_url_comes_from_the_settings() -> None:
    assert default_url(make_settings(api_port=9123)) == "http://127.0.0.1:9123"
    assert default_url(make_settings(api_host="::1", api_port=8080)) == "http://[::1]:8080"
    assert default_url(make_settings(api_host="0.0.0.0")) == "http://127.0.0.1:0"


def _run(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "laptop_agents", *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=60)


def test_real_cli_subprocess_colour_and_no_color(server: ServerThread, tmp_path: Path) -> None:
    env = clean_env(LA_API_TOKEN=TOKEN, LA_API_PORT=str(server.port), PYTHONPATH=str(ROOT),
                    COLUMNS="160")
    env.pop("NO_COLOR", None)
    done = _run(env, tmp_path, "pause", "--reason", "from the shell")
    assert done.returncode == 0 and done.stdout.startswith("paused:"), done.stderr
    done = _run(env, tmp_path, "status", "--json")
    assert json.loads(done.stdout)["gate"]["reasons"] == ["manual"]
    plain = _run(env, tmp_path, "status")  # a pipe is not a terminal: no escape codes
    assert plain.returncode == 0 and "\x1b[" not in plain.stdout and "paused" in plain.stdout
    coloured = _run({**env, "FORCE_COLOR": "1"}, tmp_path, "status")
    assert "\x1b[33m" in coloured.stdout and COLOUR.search(coloured.stdout)  # paused: yellow
    no_color = _run({**env, "FORCE_COLOR": "1", "NO_COLOR": "1"}, tmp_path, "status")
    assert no_color.returncode == 0 and "paused" in no_color.stdout
    assert not COLOUR.search(no_color.stdout)  # bold and italic may stay; no colour
    env["LA_API_PORT"] = str(free_port())
    done = _run(env, tmp_path, "resume")
    assert done.returncode == 69 and done.stderr.count("\n") == 1
    assert done.stderr.startswith("laptop-agents: no daemon answering at http://127.0.0.1:")


def test_status_shows_a_row_per_symbol_when_several_trade() -> None:
    from rich.console import Console

    from laptop_agents.cli_tables import symbols_table

    gate_open = {"trading_allowed": True, "reasons": []}
    status = {"symbols": {
        "BTCUSDT": {"feed": {"state": "connected"}, "gate": gate_open,
                    "last_quote": {"bid": "90000.1", "ask": "90000.2"},
                    "position": {"side": "long", "size": "0.01", "entry": "89990.0"},
                    "strategy": {"last_reason": "position open (long); no new entry"}},
        "XRPUSDT": {"feed": {"state": "connected"},
                    "gate": {"trading_allowed": False, "reasons": ["stale_prices"]},
                    "last_quote": None, "position": None, "strategy": {"last_reason": ""}}}}
    table = symbols_table(status)
    assert table is not None and table.row_count == 2
    console = Console(width=200, record=True, color_system=None)
    console.print(table)
    text = console.export_text()
    assert "BTCUSDT" in text and "long 0.01 @ 89990.0" in text and "90000.1" in text
    assert "XRPUSDT" in text and "stale_prices" in text and "flat" in text
    assert symbols_table({"symbols": {"BTCUSDT": status["symbols"]["BTCUSDT"]}}) is None
