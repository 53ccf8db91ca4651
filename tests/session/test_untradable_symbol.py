"""`laptop-agents run` with an unknown or untradable symbol: one line naming it, exit 78."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path

import pytest

from laptop_agents.errors import EXIT_CONFIG
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.server import SimExchange
from tests.support.daemon import clean_env

ROOT = Path(__file__).resolve().parents[2]


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = clean_env()
    env.update(LA_DATA_DIR=str(tmp_path / "data"), LA_API_PORT="0", PYTHONPATH=str(ROOT),
               LA_LOG_JSON="false", **extra)
    return env


async def _run(tmp_path: Path, symbol: str, **env: str) -> tuple[int, list[str]]:
    # Asynchronous, so a simulator on this test's loop keeps answering meanwhile.
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "laptop_agents", "run", "--symbol", symbol, "--duration", "30",
        cwd=tmp_path, env=_env(tmp_path, **env), stdin=asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    async with asyncio.timeout(60):
        _, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, err.decode().splitlines()


@pytest.mark.parametrize(("symbol", "message"), [
    ("FOOBARUSDT", "FOOBARUSDT is unknown on sim; known: BTCUSDT"),
    ("NEWCOINUSDT", "NEWCOINUSDT is not tradable on sim (status PREVIEW)"),
])
async def test_sim_source_refuses_the_symbol_in_one_line(
    tmp_path: Path, symbol: str, message: str
) -> None:
    code, lines = await _run(tmp_path, symbol)
    log = "\n".join(lines)
    assert code == EXIT_CONFIG == 78, log
    assert "Traceback" not in log
    naming = [line for line in lines if symbol in line]
    assert len(naming) == 1, log  # logged once, not printed again by the CLI
    assert naming[0].endswith(f"invalid setting LA_SYMBOL: {message}")


async def test_bitunix_source_refuses_the_symbol_in_one_line(tmp_path: Path) -> None:
    # The simulator stands in for Bitunix.
    async with SimExchange(SimOptions(seed=3, history_minutes=60)) as exchange:
        code, lines = await _run(
            tmp_path, "NOAPICOINUSDT", LA_SOURCE="bitunix", LA_LOG_LEVEL="ERROR",
            LA_BITUNIX_REST_URL=exchange.rest_url, LA_BITUNIX_WS_URL=exchange.ws_url)
    assert code == EXIT_CONFIG, lines
    # At level ERROR nothing else is written: stderr is exactly the one line.
    assert len(lines) == 1, lines
    assert lines[0].endswith("invalid setting LA_SYMBOL: NOAPICOINUSDT is not tradable on "
                             "bitunix (isApiSupported false)")
