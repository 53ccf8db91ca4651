"""One daemon per data directory: an flock on <data dir>/daemon.lock holding the PID."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from laptop_agents.datadir import LOCK_FILE_NAME, ensure_data_dir, holder_pid, lock_data_dir
from laptop_agents.errors import EXIT_LOCKED, DataDirLockedError
from tests.support.daemon import ROOT, DaemonProcess, clean_env


def test_lock_records_the_pid_refuses_a_second_holder_and_is_released(tmp_path: Path) -> None:
    data_dir = ensure_data_dir(tmp_path / "data")
    assert holder_pid(data_dir) is None
    with lock_data_dir(data_dir) as lock:
        assert lock.path == data_dir / LOCK_FILE_NAME
        assert holder_pid(data_dir) == os.getpid()
        # flock locks belong to an open file: a second open, even in this process, is refused.
        with pytest.raises(DataDirLockedError, match=f"pid {os.getpid()}") as caught:
            lock_data_dir(data_dir)
        assert caught.value.exit_code == EXIT_LOCKED == 75
        assert "\n" not in str(caught.value)
    assert holder_pid(data_dir) is None  # released, and the stale PID is not reported
    lock_data_dir(data_dir).release()


def test_a_second_daemon_on_the_same_data_dir_exits_75_naming_the_holder(
    tmp_path: Path,
) -> None:
    data_dir = tmp_path / "data"
    first = DaemonProcess(data_dir, token=None)
    try:
        first.url()  # up and serving
        assert holder_pid(data_dir) == first.proc.pid
        env = clean_env()
        env.update({"LA_DATA_DIR": str(data_dir), "LA_API_PORT": "0", "PYTHONPATH": str(ROOT)})
        started = time.monotonic()
        second = subprocess.run(
            [sys.executable, "-m", "laptop_agents", "run", "--duration", "30"],
            capture_output=True, text=True, env=env, cwd=tmp_path, timeout=60,
        )
        elapsed = time.monotonic() - started
        assert second.returncode == EXIT_LOCKED, second.stderr
        lines = second.stderr.strip().splitlines()
        assert len(lines) == 1, second.stderr
        assert f"pid {first.proc.pid}" in lines[0] and str(data_dir) in lines[0]
        assert elapsed < 15  # at once: no simulator, journal or API was started
        assert first.proc.poll() is None  # the holder is untouched
    finally:
        code = first.stop()
    assert code == 0, first.log()
    assert holder_pid(data_dir) is None
