"""`laptop-agents history fetch|list` as a user runs them: a subprocess, a temporary data
directory, the embedded simulator."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from tests.support.daemon import ROOT, clean_env


def cli(data_dir: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = clean_env(LA_DATA_DIR=str(data_dir), PYTHONPATH=str(ROOT), NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "laptop_agents", "history", *args],
                          capture_output=True, text=True, env=env, timeout=120)


def test_fetch_from_the_simulator_then_list(tmp_path: Path) -> None:
    data = tmp_path / "data"
    assert cli(data, "list").stdout.strip() == "no stored candles"
    # The embedded simulator serves any past range (its deep history): 30 hours back are
    # all there, without gaps.
    start = time.strftime("%Y-%m-%dT%H:%M", time.gmtime(time.time() - 30 * 3600))
    fetched = cli(data, "fetch", "--source", "sim", "--from", start)
    assert fetched.returncode == 0, fetched.stderr
    lines = fetched.stdout.splitlines()  # not a terminal: no progress bar, just the report
    assert lines[0].startswith("sim:") and " BTCUSDT 1min " in lines[0]
    assert "candles stored in" in lines[0]
    assert not any(line.startswith("gap") for line in lines[1:])
    assert (data / "candles.sqlite3").exists()

    listed = cli(data, "list")
    assert listed.returncode == 0, listed.stderr
    header, row = listed.stdout.splitlines()[:2]
    assert header == "source symbol interval first last count gaps"
    source, symbol, interval, _first, _last, count, gaps = row.split()[:7]
    assert source.startswith("sim:") and (symbol, interval) == ("BTCUSDT", "1min")
    assert int(count) >= 1790 and gaps == "0"


def test_bad_dates_and_intervals_are_refused(tmp_path: Path) -> None:
    data = tmp_path / "data"
    bad = cli(data, "fetch", "--source", "sim", "--from", "yesterday")
    assert bad.returncode == 64 and "not a date" in bad.stderr
    backwards = cli(data, "fetch", "--from", "2024-01-02", "--to", "2024-01-01")
    assert backwards.returncode == 64
    no_rest = cli(data, "fetch", "--from", "2024-01-01", "--interval", "3min")
    assert no_rest.returncode == 64 and "REST has no 3min" in no_rest.stderr
    assert cli(data, "fetch").returncode == 64  # --from is required
