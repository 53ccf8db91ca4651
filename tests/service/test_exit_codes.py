"""A configuration error exits with the code systemd is told not to restart on."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.service.unitfile import parse_unit, value
from tests.support.daemon import clean_env

DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "systemd"


@pytest.mark.parametrize("unit", ["laptop-agents.service", "laptop-agents@.service"])
def test_config_error_exit_code_is_not_restarted(unit: str, tmp_path: Path) -> None:
    prevent = value(parse_unit((DEPLOY / unit).read_text()), "Service",
                    "RestartPreventExitStatus").split()
    env = clean_env()
    env.update(LA_RISK_PCT="5", LA_API_PORT="0", XDG_STATE_HOME=str(tmp_path / "state"))
    result = subprocess.run(
        [sys.executable, "-m", "laptop_agents", "run", "--duration", "1"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
    )
    assert prevent == [str(result.returncode)], result.stderr
    assert "LA_RISK_PCT" in result.stderr
    assert "Traceback" not in result.stderr
