"""Daemon plumbing: a busy API port, signal handling."""

from __future__ import annotations

import asyncio
import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from laptop_agents.config import Settings
from laptop_agents.errors import EXIT_CONFIG, ConfigError
from laptop_agents.session.signals import FORCED_EXIT_CODE, SignalHandler
from laptop_agents.session.wiring import journal_path, open_journal
from tests.support.daemon import DaemonProcess, clean_env

ROOT = Path(__file__).resolve().parents[2]


def test_busy_api_port_is_a_config_error(tmp_path: Path) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        env = clean_env()
        env.update(LA_API_PORT=str(port), LA_DATA_DIR=str(tmp_path / "data"),
                   PYTHONPATH=str(ROOT))
        result = subprocess.run(
            [sys.executable, "-m", "laptop_agents", "run", "--duration", "20"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env)
    assert result.returncode == EXIT_CONFIG, result.stderr[-2000:]
    assert f"LA_API_PORT: 127.0.0.1:{port} is already in use" in result.stderr
    assert "Traceback" not in result.stderr


async def test_first_signal_stops_second_sigint_forces() -> None:
    stop = asyncio.Event()
    forced: list[int] = []
    handler = SignalHandler(stop, force_exit=forced.append)
    handler.handle(signal.SIGTERM)
    assert stop.is_set() and forced == []
    handler.handle(signal.SIGTERM)  # a repeated SIGTERM (systemd) just waits
    assert forced == []
    handler.handle(signal.SIGINT)
    assert forced == [FORCED_EXIT_CODE]


async def test_installed_handler_receives_a_real_signal() -> None:
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    handler = SignalHandler(stop, force_exit=lambda code: None)
    handler.install(loop)
    try:
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 5)
    finally:
        handler.uninstall(loop)
    assert handler.received == [signal.SIGTERM]


def test_unopenable_journal_is_a_config_error(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    journal_path(settings).mkdir()  # something that is not a database file is in the way
    with pytest.raises(ConfigError, match="LA_DATA_DIR: cannot open the journal"):
        open_journal(settings)


def test_simulator_and_exchange_keep_separate_journals(tmp_path: Path) -> None:
    sim = journal_path(Settings(data_dir=tmp_path, source="sim"))
    live = journal_path(Settings(data_dir=tmp_path, source="bitunix"))
    assert sim.parent == live.parent == tmp_path
    assert sim != live


def test_bitunix_on_other_market_urls_never_writes_the_live_journal(tmp_path: Path) -> None:
    """`run --source bitunix` pointed at a standalone simulator (or any other URLs) gets a
    journal named after a hash of the URLs: never the live account's, one per market."""
    live = journal_path(Settings(data_dir=tmp_path, source="bitunix"))
    local = Settings(data_dir=tmp_path, source="bitunix",
                     bitunix_ws_url="ws://127.0.0.1:9000/public/",
                     bitunix_rest_url="http://127.0.0.1:9000")
    other = local.model_copy(update={"bitunix_rest_url": "http://127.0.0.1:9001"})
    assert live.name == "journal.sqlite3"
    assert re.fullmatch(r"journal-bitunix-[0-9a-f]{8}\.sqlite3", journal_path(local).name)
    assert journal_path(local) == journal_path(local.model_copy())  # stable across runs
    assert len({live, journal_path(local), journal_path(other)}) == 3
    assert journal_path(Settings(data_dir=tmp_path, source="sim",
                                 bitunix_ws_url="ws://127.0.0.1:9000/public/")).name == (
        "journal-sim.sqlite3")


@pytest.mark.parametrize("sim_options", [{"speed": 1.0}])
async def test_original_cli_form_runs_on_bitunix_and_sigint_exits_0(
        sim: Any, tmp_path: Path) -> None:
    """`python -m laptop_agents --mode live-session --async --source bitunix`, with the Bitunix
    URLs pointed at the loopback simulator; Ctrl-C (SIGINT) ends it with 0 within 5 s."""

    env = {"LA_BITUNIX_WS_URL": sim.ws_url, "LA_BITUNIX_REST_URL": sim.rest_url,
           "LA_API_ENABLED": "false", "LA_HISTORY_CANDLES": "100"}
    with DaemonProcess(tmp_path / "data", None, env=env,
                       args=("--mode", "live-session", "--async", "--source", "bitunix")
                       ) as daemon:
        await asyncio.to_thread(daemon.wait_for, r"ready: ", 30)
        code, elapsed = await asyncio.to_thread(daemon.signal_and_wait, signal.SIGINT)
    seen = daemon.lines
    log = "".join(seen)
    assert code == 0, log[-3000:]
    assert elapsed < 5
    assert "source=bitunix symbol=BTCUSDT" in log
    assert "SIGINT received" in log and "engine stopped" in log
    # Bitunix's URLs pointed at a simulator: a journal of its own, never the live one
    assert not (tmp_path / "data" / "journal.sqlite3").exists()
    assert list((tmp_path / "data").glob("journal-bitunix-*.sqlite3"))


def test_daemon_freezes_start_up_objects_after_the_first_tick(tmp_path: Path) -> None:
    # Later full collections skip what start-up left (session/daemon.py, _freeze_after_ready).
    with DaemonProcess(tmp_path / "data", None, env={"LA_LOG_LEVEL": "DEBUG"}) as daemon:
        daemon.wait_for(r"first tick: ", 30)
        frozen = daemon.wait_for(r"start-up objects frozen out of the garbage collector: (\d+)")
        assert daemon.stop() == 0
    assert int(frozen.group(1)) > 10_000
