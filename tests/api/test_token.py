"""The API token: LA_API_TOKEN wins, else one is generated once and kept 0600 in the data dir."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from laptop_agents.api.token import client_token, ensure_api_token, token_file
from laptop_agents.config import load_settings
from tests.support.daemon import ROOT, DaemonProcess, clean_env


def test_generated_once_kept_private_and_reused(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    first, path = ensure_api_token(settings)
    assert path == token_file(settings)
    assert first.api_token is not None and len(first.api_token.get_secret_value()) >= 32
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    again, _ = ensure_api_token(settings)
    assert again.api_token is not None
    assert again.api_token.get_secret_value() == first.api_token.get_secret_value()
    assert client_token(settings) == first.api_token.get_secret_value()
    assert first.api_token.get_secret_value() in first.secrets()  # scrubbed from logs


def test_explicit_token_wins_and_writes_nothing(tmp_path: Path) -> None:
    mine = "mine-mine-mine-mine"
    settings = load_settings(data_dir=tmp_path, api_token=mine)
    result, path = ensure_api_token(settings)
    assert path is None
    assert result.api_token is not None and result.api_token.get_secret_value() == mine
    assert not token_file(settings).exists()
    assert client_token(settings) == mine


def test_unconfigured_daemon_is_paused_by_its_own_cli_but_not_by_others(tmp_path: Path) -> None:
    """`make run` with no settings: POST without the token is 401, the CLI client works."""
    data_dir = tmp_path / "data"
    daemon = DaemonProcess(data_dir, token=None)
    try:
        url = daemon.url()
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(f"{url}/pause", method="POST"),
                                   timeout=10)
        assert refused.value.code == 401
        env = clean_env()
        env.update({"LA_DATA_DIR": str(data_dir), "PYTHONPATH": str(ROOT)})
        pause = subprocess.run(
            [sys.executable, "-m", "laptop_agents", "pause", "--url", url, "--reason", "cli"],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
        )
        assert pause.returncode == 0, pause.stderr
        with urllib.request.urlopen(f"{url}/status", timeout=10) as response:
            status = json.load(response)
        assert "manual" in status["gate"]["reasons"]
    finally:
        assert daemon.stop() == 0
    token = (data_dir / "api-token").read_text().strip()
    log = "".join(daemon.lines)
    assert str(data_dir / "api-token") in log  # the log says where the token is ...
    assert token not in log  # ... but never the token itself
