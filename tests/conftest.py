"""Fixtures shared by every test area: isolated settings (and, from tests/support/sim.py, a
running simulator on loopback)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest_plugins = ["tests.support.sim"]

# No developer's .env or LA_* environment may leak into the tests. LA_SCREENSHOT_DIR is no
# setting: the browser tests copy their screenshots there (tests/support/browser.py).
for _name in list(os.environ):
    if _name.startswith("LA_") and _name != "LA_SCREENSHOT_DIR":
        del os.environ[_name]


@pytest.fixture(autouse=True)
def _isolated_cwd(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """Run every test in an empty directory so no stray `.env` is read; state goes to tmp."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    monkeypatch.delenv("STATE_DIRECTORY", raising=False)
    monkeypatch.delenv("NOTIFY_SOCKET", raising=False)
    monkeypatch.delenv("WATCHDOG_USEC", raising=False)
    yield
