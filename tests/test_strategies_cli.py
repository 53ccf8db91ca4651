"""The real CLI with strategy plug-ins: bad ones exit 78 before anything starts, `strategies`
lists the built-ins, and the daemon trades an example on the embedded simulator."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest

from laptop_agents.errors import EXIT_CONFIG
from tests.support.daemon import ROOT, DaemonProcess, clean_env
from tests.support.waiting import wait_until_sync

EMA_CROSS = str(ROOT / "examples" / "ema_cross.py") + ":EmaCross"


def cli(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    environ = clean_env(LA_DATA_DIR=str(tmp_path / "data"), LA_API_PORT="0",
                        HOME=str(tmp_path), PYTHONPATH=str(ROOT), **env)
    return subprocess.run([sys.executable, "-m", "laptop_agents", *args], capture_output=True,
                          text=True, env=environ, cwd=tmp_path, timeout=60)


@pytest.mark.parametrize(("args", "env", "expected"), [
    (["--strategy", "ema_cross", "--params", '{"fast": 1}'], {},
     "invalid setting LA_STRATEGY_PARAMS: fast: Input should be greater than 1"),
    ([], {"LA_STRATEGY": "ema_cross", "LA_STRATEGY_PARAMS": '{"fast": 40}'},
     "invalid setting LA_STRATEGY_PARAMS: fast must be below slow"),
    ([], {"LA_STRATEGY_PARAMS": "{oops"}, "invalid setting LA_STRATEGY_PARAMS: is not JSON"),
    (["--strategy", "nope"], {}, "invalid setting LA_STRATEGY: 'nope' is not a built-in"),
    (["--strategy", "missing.py:Nope"], {},
     "invalid setting LA_STRATEGY: cannot import missing.py: FileNotFoundError"),
    (["--strategy", "broken.py:S"], {},
     "invalid setting LA_STRATEGY: cannot import broken.py: ZeroDivisionError: division by zero"),
    (["--strategy", "no_such_module:S"], {},
     "invalid setting LA_STRATEGY: cannot import no_such_module: ModuleNotFoundError"),
])
def test_bad_strategy_or_params_exit_78_with_one_line_before_starting(
        tmp_path: Path, args: list[str], env: dict[str, str], expected: str) -> None:
    (tmp_path / "broken.py").write_text("print('imported')\nx = 1 / 0\n")
    proc = cli(tmp_path, "run", "--duration", "5", *args, **env)
    assert proc.returncode == EXIT_CONFIG, proc.stderr
    assert proc.stderr.strip().count("\n") == 0, proc.stderr
    assert expected in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "data").exists()  # refused before the data directory, the
    # simulator or any socket was touched


def test_strategies_lists_builtins_as_a_table_and_as_json(tmp_path: Path) -> None:
    proc = cli(tmp_path, "strategies", "--json")
    assert proc.returncode == 0, proc.stderr
    listed = {s["spec"]: s for s in json.loads(proc.stdout)}
    assert list(listed) == ["supervisor", "ema_cross", "breakout"]
    assert listed["ema_cross"]["warmup"] == 22
    assert {"name": "fast", "type": "int, > 1", "default": "9",
            "description": "Fast EMA period."} in listed["ema_cross"]["params"]
    assert [p["name"] for p in listed["breakout"]["params"]] == [
        "lookback", "atr_period", "stop_atr", "target_r"]
    assert len(listed["supervisor"]["params"]) == 16
    table = cli(tmp_path, "strategies")
    assert table.returncode == 0, table.stderr
    for text in ("supervisor", "ema_cross", "breakout", "parameter", "default", "lookback",
                 "Fast EMA period."):
        assert text in table.stdout
    one = cli(tmp_path, "strategies", "--json", EMA_CROSS)
    assert [s["spec"] for s in json.loads(one.stdout)] == [EMA_CROSS]


@pytest.mark.slow
def test_daemon_runs_an_example_strategy_on_the_simulator(tmp_path: Path) -> None:
    token = "strategy-plugin-test-token"
    with DaemonProcess(tmp_path / "data", token, args=(
            "run", "--duration", "60", "--strategy", EMA_CROSS,
            "--params", '{"fast": 3, "slow": 8, "atr_period": 5}')) as daemon:
        daemon.wait_for(r"strategy ema_cross needs 9\)")
        url = daemon.url()

        def status() -> dict[str, object]:
            request = urllib.request.Request(f"{url}/status",
                                             headers={"Authorization": f"Bearer {token}"})
            with urllib.request.urlopen(request, timeout=5) as answer:
                data: dict[str, object] = json.load(answer)
                return data

        assert status()["warmup"] == {"candles": 300, "needed": 9}
        # 60x: a closed candle a second; the strategy decides on each one
        wait_until_sync(lambda: status()["strategy"]["decisions"] >= 3,  # type: ignore[index]
                        15, "three decisions")
        reason = status()["strategy"]["last_reason"]  # type: ignore[index]
        assert "EMA3" in reason or "in the market" in reason, reason
        assert daemon.stop() == 0
    assert "Traceback" not in daemon.log(400)
