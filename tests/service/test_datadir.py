"""The data directory is created private (0700) and tightened when it is not."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from laptop_agents.config import load_settings
from laptop_agents.datadir import ensure_data_dir
from laptop_agents.errors import EXIT_CONFIG, ConfigError


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_creates_parents_with_0700(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "laptop-agents"
    assert ensure_data_dir(target) == target
    assert target.is_dir()
    assert _mode(target) == 0o700


def test_tightens_a_loose_directory(tmp_path: Path) -> None:
    target = tmp_path / "loose"
    target.mkdir()
    target.chmod(0o755)
    ensure_data_dir(target)
    assert _mode(target) == 0o700
    (target / "journal.sqlite").write_text("kept")  # existing content is untouched
    ensure_data_dir(target)
    assert (target / "journal.sqlite").read_text() == "kept"


def test_a_file_in_the_way_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(ConfigError) as caught:
        ensure_data_dir(blocker)
    assert caught.value.exit_code == EXIT_CONFIG
    assert "LA_DATA_DIR" in str(caught.value)
    with pytest.raises(ConfigError):
        ensure_data_dir(blocker / "below")


def test_default_is_xdg_state_then_state_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert load_settings().data_dir == tmp_path / "xdg" / "laptop-agents"
    # Under systemd, StateDirectory= exports STATE_DIRECTORY.
    monkeypatch.setenv("STATE_DIRECTORY", str(tmp_path / "var-lib"))
    assert load_settings().data_dir == tmp_path / "var-lib"
