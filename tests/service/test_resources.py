"""File-descriptor limit at start-up, and out-of-resource errors logged at most once a second."""

from __future__ import annotations

import os
import resource
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from laptop_agents.resources import Throttle
from tests.support.daemon import ROOT, clean_env


def test_throttle_admits_once_per_interval_and_counts_the_rest() -> None:
    now = [100.0]
    throttle = Throttle(1.0, clock=lambda: now[0])
    assert throttle.admit() == 0
    assert [throttle.admit() for _ in range(50)] == [None] * 50
    now[0] += 0.99
    assert throttle.admit() is None
    now[0] += 0.02
    assert throttle.admit() == 51
    assert throttle.admit() is None


def test_raise_fd_limit_lifts_the_soft_limit_to_the_hard_one() -> None:
    def low_limits() -> None:  # runs in the child, before Python starts
        resource.setrlimit(resource.RLIMIT_NOFILE, (256, 512))

    code = ("import resource; from laptop_agents.resources import raise_fd_limit; "
            "print(raise_fd_limit(), *resource.getrlimit(resource.RLIMIT_NOFILE))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            timeout=60, preexec_fn=low_limits, cwd=ROOT,
                            env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["512", "512", "512"]


def _run_out_of_descriptors(tmp_path: Path, handler: bool, seconds: float
                            ) -> tuple[float, list[str]]:
    """Connect to a child whose descriptor table is full; its run time and stderr lines."""
    args = [sys.executable, "-m", "tests.service.emfile_child", str(seconds)]
    env = clean_env()
    env["PYTHONPATH"] = str(ROOT)
    with subprocess.Popen(args + (["--handler"] if handler else []), cwd=ROOT, env=env,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) as child:
        assert child.stdout is not None
        ready = child.stdout.readline().split()
        assert ready[:1] == ["ready"], child.stderr.read() if child.stderr else ""
        clients = []
        try:
            for _ in range(20):  # the kernel completes these; the child cannot accept them
                clients.append(socket.create_connection(("127.0.0.1", int(ready[1])), 5))
            out, err = child.communicate(timeout=60)
        finally:
            for client in clients:
                client.close()
    assert child.returncode == 0, err
    assert out.startswith("done "), out
    return float(out.split()[1]), err.splitlines()


@pytest.mark.slow
def test_accept_out_of_descriptors_is_one_short_warning_per_second(tmp_path: Path) -> None:
    seconds = 2.5
    # Without the handler asyncio reports every failed accept, traceback and all (the flood
    # the issue saw: megabytes a minute). This control run proves the scenario is real.
    _, flood = _run_out_of_descriptors(tmp_path, handler=False, seconds=seconds)
    assert sum("out of system resource" in line for line in flood) > 20
    assert any("Traceback" in line for line in flood)

    elapsed, lines = _run_out_of_descriptors(tmp_path, handler=True, seconds=seconds)
    reports = [line for line in lines if "out of system resource" in line]
    assert 1 <= len(reports) <= elapsed + 1, lines  # at most one per second
    assert all(" WARNING " in line and len(line) < 300 for line in reports), reports
    assert "Too many open files (EMFILE)" in reports[0]
    assert "more like it" in "".join(reports[1:]) or len(reports) == 1
    assert not any("Traceback" in line for line in lines)
