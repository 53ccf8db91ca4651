"""The CLI client (`laptop-agents status|pause|resume`) against a real running API."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from laptop_agents.api.client import default_url
from laptop_agents.cli import cli_pause, cli_resume, cli_status
from tests.support.daemon import clean_env, free_port

from .conftest import TOKEN, make_settings
from .memory_controller import MemoryController
from .server_thread import ServerThread

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def server() -> Iterator[ServerThread]:
    with ServerThread(make_settings(), MemoryController()) as thread:
        yield thread


def test_status_prints_the_json(server: ServerThread, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_status(make_settings(api_token=None), server.url) == 0
    status = json.loads(capsys.readouterr().out)
    assert status["symbol"] == "BTCUSDT" and status["gate"]["trading_allowed"] is True


def test_pause_and_resume_with_the_token(server: ServerThread,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    settings = make_settings()
    assert cli_pause(settings, server.url, "news at 14:30") == 0
    assert capsys.readouterr().out == "paused: trading paused; reasons: manual\n"
    assert server.controller.pause_calls == ["news at 14:30"]
    assert cli_resume(settings, server.url) == 0
    assert capsys.readouterr().out == "resumed: trading allowed; reasons: none\n"
    assert server.controller.reasons == []


def test_pause_without_a_token_fails_with_one_line(server: ServerThread,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    assert cli_pause(make_settings(api_token=None), server.url, None) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert "HTTP 401" in err and "missing bearer token" in err
    assert server.controller.pause_calls == []
    assert cli_resume(make_settings(api_token="wrong-token-0123456789"), server.url) == 1
    assert "invalid bearer token" in capsys.readouterr().err


def test_unreachable_daemon(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    assert cli_status(make_settings(), url) == 1
    err = capsys.readouterr().err
    assert err.startswith(f"error: cannot reach the daemon at {url}") and err.count("\n") == 1


def test_default_url_comes_from_the_settings() -> None:
    assert default_url(make_settings(api_port=9123)) == "http://127.0.0.1:9123"
    assert default_url(make_settings(api_host="::1", api_port=8080)) == "http://[::1]:8080"
    assert default_url(make_settings(api_host="0.0.0.0")) == "http://127.0.0.1:0"


def test_real_cli_subprocess(server: ServerThread, tmp_path: Path) -> None:
    env = clean_env()
    env.update({"LA_API_TOKEN": TOKEN, "LA_API_PORT": str(server.port),
                "PYTHONPATH": str(ROOT)})
    run = [sys.executable, "-m", "laptop_agents"]
    done = subprocess.run([*run, "pause", "--reason", "from the shell"], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("paused:")
    done = subprocess.run([*run, "status"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["gate"]["reasons"] == ["manual"]
    env["LA_API_PORT"] = str(free_port())
    done = subprocess.run([*run, "resume"], env=env, cwd=tmp_path, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 1 and "cannot reach the daemon" in done.stderr
