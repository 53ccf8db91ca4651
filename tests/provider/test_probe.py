"""`laptop-agents probe` in a real subprocess: data flows on the simulator, refusal exits 69."""

from __future__ import annotations

import socket
import subprocess
import sys
from pathlib import Path

from laptop_agents.errors import EXIT_FEED_REFUSED, EXIT_NO_DATA
from tests.support.daemon import clean_env, free_port


def test_probe_against_the_embedded_simulator_sees_data(tmp_path: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "laptop_agents", "probe", "--source", "sim", "--seconds", "3",
         "--speed", "60"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env=clean_env(LA_SIM_KLINE_PUSH_MS="100", LA_SIM_DEPTH_PUSH_MS="50"),
    )
    assert result.returncode == 0, result.stderr[-2000:]
    counts = dict(line.split(": ", 1) for line in result.stdout.splitlines()
                  if line.startswith(("ticks:", "closed candles:", "reconnects:")))
    assert int(counts["ticks"]) > 10
    assert int(counts["closed candles"]) >= 1  # one candle per wall second at speed 60
    assert int(counts["reconnects"]) == 0


def test_probe_exits_69_when_the_feed_refuses_three_times(tmp_path: Path) -> None:
    port = free_port()  # nothing listens there: ECONNREFUSED
    result = subprocess.run(
        [sys.executable, "-m", "laptop_agents", "probe", "--source", "bitunix", "--seconds", "20"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path,
        env=clean_env(LA_BITUNIX_WS_URL=f"ws://127.0.0.1:{port}/public/",
                 LA_BITUNIX_REST_URL=f"http://127.0.0.1:{port}",
                 LA_WS_BACKOFF_INITIAL="0.05", LA_WS_BACKOFF_MAX="0.2"),
    )
    assert result.returncode == EXIT_FEED_REFUSED == 69, result.stderr[-2000:]
    assert "refused" in result.stderr


def test_probe_exits_1_when_no_data_flows(tmp_path: Path) -> None:
    # A port that accepts TCP but never answers the upgrade: connect times out, no ticks.
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen(8)
        port = server.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "-m", "laptop_agents", "probe", "--source", "bitunix",
             "--seconds", "1.5"],
            capture_output=True, text=True, timeout=60, cwd=tmp_path,
            env=clean_env(LA_BITUNIX_WS_URL=f"ws://127.0.0.1:{port}/public/",
                     LA_BITUNIX_REST_URL=f"http://127.0.0.1:{port}",
                     LA_WS_CONNECT_TIMEOUT="0.3"),
        )
    assert result.returncode == EXIT_NO_DATA == 1, result.stderr[-2000:]
    assert "ticks: 0" in result.stdout
