"""LA_LEVERAGE above the instrument's maxLeverage stops the daemon at start-up: exit 78, one
line naming the setting (a service manager must not restart it in a loop)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from laptop_agents.errors import EXIT_CONFIG
from tests.support.daemon import ROOT, clean_env


def test_leverage_above_the_instruments_maximum_exits_78(tmp_path: Path) -> None:
    env = clean_env(LA_DATA_DIR=str(tmp_path / "data"), LA_API_PORT="0", LA_LEVERAGE="150",
                    PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-m", "laptop_agents", "run", "--duration", "30"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert proc.returncode == EXIT_CONFIG, proc.stderr[-2000:]
    assert "invalid setting LA_LEVERAGE: 150 exceeds BTCUSDT's maxLeverage 125" in proc.stderr
