"""The unit files and the plist are valid for the tools that read them, and stay in sync."""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest

from laptop_agents.config import load_settings
from laptop_agents.errors import EXIT_CONFIG
from laptop_agents.service_install import (
    LAUNCHD_LABEL,
    PLIST_NAME,
    TEMPLATE_UNIT_NAME,
    UNIT_NAME,
    install_service,
    installed_command,
    render_deploy_files,
    render_launchd_plist,
    render_systemd_template,
    render_systemd_unit,
    systemd_exec_start,
)
from tests.service.unitfile import parse_unit, unknown_keys, value, values
from tests.support.daemon import clean_env

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
SYSTEMD_ANALYZE = shutil.which("systemd-analyze")
COMMAND = installed_command()  # this venv's real laptop-agents script


def test_deploy_files_are_the_rendered_ones() -> None:
    # deploy/ is regenerated with `python -m laptop_agents.service_install deploy`.
    for relative, text in render_deploy_files().items():
        assert (DEPLOY / relative).read_text() == text, f"deploy/{relative} is out of date"


def _all_units() -> dict[str, str]:
    return {
        "system": render_systemd_unit(COMMAND, user=False),
        "user": render_systemd_unit(COMMAND, user=True),
        "template": render_systemd_template(COMMAND),
    }


@pytest.mark.parametrize("kind", ["system", "user", "template"])
def test_unit_keys_are_known(kind: str) -> None:
    entries = parse_unit(_all_units()[kind])
    assert unknown_keys(entries) == []


def test_structural_check_catches_a_typo() -> None:
    text = render_systemd_unit(COMMAND, user=False).replace("WatchdogSec=", "WatchdgSec=")
    problems = unknown_keys(parse_unit(text))
    assert len(problems) == 1 and "WatchdgSec" in problems[0]
    bad_section = text.replace("[Install]", "[Instal]")
    assert any("[Instal]" in p for p in unknown_keys(parse_unit(bad_section)))


def test_system_unit_contract() -> None:
    entries = parse_unit(render_systemd_unit(COMMAND, user=False))
    service = {e.key: e.value for e in entries if e.section == "Service"}
    assert service["Type"] == "notify"
    assert service["NotifyAccess"] == "main"
    assert service["Restart"] == "on-failure"
    assert service["RestartPreventExitStatus"] == str(EXIT_CONFIG)
    assert service["WatchdogSec"] == "30s"
    assert service["DynamicUser"] == "yes"
    assert service["StateDirectory"] == "laptop-agents"
    assert "LA_DATA_DIR=%S/laptop-agents" in service["Environment"].split()
    assert service["EnvironmentFile"] == "-/etc/laptop-agents/laptop-agents.env"
    assert service["ExecStart"] == systemd_exec_start([*COMMAND, "run"])
    assert service["UMask"] == "0077"
    assert service["CapabilityBoundingSet"] == ""
    assert service["RestrictAddressFamilies"] == "AF_UNIX AF_INET AF_INET6"
    assert service["SystemCallFilter"] == "@system-service"
    for key in ("NoNewPrivileges", "PrivateTmp", "PrivateDevices", "ProtectKernelTunables",
                "ProtectKernelModules", "ProtectControlGroups", "RestrictNamespaces",
                "LockPersonality", "MemoryDenyWriteExecute"):
        assert service[key] == "yes", key
    assert service["ProtectSystem"] == "strict"
    assert service["ProtectHome"] in ("yes", "read-only")
    # The daemon's own clean shutdown is bounded at 5 s; systemd waits longer before SIGKILL.
    assert int(service["TimeoutStopSec"].removesuffix("s")) > 5
    assert value(entries, "Install", "WantedBy") == "multi-user.target"


def test_template_unit_is_per_symbol() -> None:
    entries = parse_unit(render_systemd_template(COMMAND))
    environment = " ".join(values(entries, "Service", "Environment")).split()
    assert "LA_SYMBOL=%i" in environment
    assert "LA_DATA_DIR=%S/laptop-agents/%i" in environment
    assert value(entries, "Service", "StateDirectory") == "laptop-agents/%i"
    assert "/etc/laptop-agents/%i.env" in values(entries, "Service", "EnvironmentFile")
    assert value(entries, "Service", "RestartPreventExitStatus") == str(EXIT_CONFIG)


def test_user_unit_fits_a_user_manager() -> None:
    entries = parse_unit(render_systemd_unit(COMMAND, user=True))
    keys = {e.key for e in entries}
    assert "DynamicUser" not in keys and "User" not in keys and "ProtectHome" not in keys
    assert value(entries, "Install", "WantedBy") == "default.target"
    assert value(entries, "Service", "Type") == "notify"


def test_exec_start_quoting() -> None:
    assert systemd_exec_start(["/opt/my venv/bin/la", "run"]) == '"/opt/my venv/bin/la" run'
    assert systemd_exec_start(["/opt/100%/la"]) == "/opt/100%%/la"


def _verify(unit_dir: Path, name: str, user: bool) -> subprocess.CompletedProcess[str]:
    assert SYSTEMD_ANALYZE is not None
    env = dict(os.environ, SYSTEMD_LOG_LEVEL="warning", SYSTEMD_PAGER="cat")
    if user:
        runtime = unit_dir / "runtime"
        runtime.mkdir(mode=0o700, exist_ok=True)
        env["XDG_RUNTIME_DIR"] = str(runtime)
    args = [SYSTEMD_ANALYZE, *(["--user"] if user else []), "verify", "--man=no",
            str(unit_dir / name)]
    return subprocess.run(args, capture_output=True, text=True, env=env, timeout=60)


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")
@pytest.mark.parametrize(
    ("kind", "file_name", "verify_name", "user"),
    [
        ("system", UNIT_NAME, UNIT_NAME, False),
        ("template", TEMPLATE_UNIT_NAME, "laptop-agents@BTCUSDT.service", False),
        ("user", UNIT_NAME, UNIT_NAME, True),
    ],
)
def test_systemd_analyze_verify(
    kind: str, file_name: str, verify_name: str, user: bool, tmp_path: Path
) -> None:
    # Rendered with this venv's real command: verify checks that ExecStart is executable.
    (tmp_path / file_name).write_text(_all_units()[kind])
    result = _verify(tmp_path, verify_name, user)
    if "Failed to initialize manager" in result.stderr:
        pytest.skip(f"systemd-analyze cannot run here: {result.stderr.strip()[:200]}")
    ours = [line for line in result.stderr.splitlines() if str(tmp_path) in line]
    assert result.returncode == 0, result.stderr
    assert ours == [], "\n".join(ours)


@pytest.mark.skipif(SYSTEMD_ANALYZE is None, reason="systemd-analyze not installed")
def test_systemd_analyze_flags_a_typo(tmp_path: Path) -> None:
    text = _all_units()["system"].replace("WatchdogSec=", "WatchdgSec=")
    (tmp_path / UNIT_NAME).write_text(text)
    result = _verify(tmp_path, UNIT_NAME, False)
    if "Failed to initialize manager" in result.stderr:
        pytest.skip("systemd-analyze cannot run here")
    assert "WatchdgSec" in result.stderr


def test_deploy_plist_parses() -> None:
    plist = plistlib.loads((DEPLOY / "launchd" / PLIST_NAME).read_bytes())
    assert plist["Label"] == LAUNCHD_LABEL
    assert plist["ProgramArguments"][-1] == "run"
    assert plist["KeepAlive"] == {"SuccessfulExit": False}
    assert plist["ThrottleInterval"] >= 10
    assert plist["EnvironmentVariables"]["LA_LOG_FILE"].endswith("laptop-agents.log")
    assert plist["StandardErrorPath"] and plist["StandardOutPath"]


def test_rendered_plist_points_at_the_installed_command(tmp_path: Path) -> None:
    text = render_launchd_plist(COMMAND, data_dir=tmp_path / "data", log_dir=tmp_path / "logs")
    plist = plistlib.loads(text.encode())
    assert plist["ProgramArguments"] == [*COMMAND, "run"]
    assert Path(plist["ProgramArguments"][0]).is_file()
    assert plist["EnvironmentVariables"]["LA_DATA_DIR"] == str(tmp_path / "data")
    assert plist["WorkingDirectory"] == str(tmp_path / "data")
    assert plist["Umask"] == 0o077


def test_install_service_print_cli_linux(tmp_path: Path) -> None:
    env = clean_env()
    result = subprocess.run(
        [sys.executable, "-m", "laptop_agents", "install-service", "--print"],
        capture_output=True, text=True, timeout=60, cwd=tmp_path, env=env,
    )
    if sys.platform != "linux":
        pytest.skip("the CLI renders for this machine's platform")
    assert result.returncode == 0, result.stderr
    entries = parse_unit(result.stdout)
    assert unknown_keys(entries) == []
    assert value(entries, "Service", "ExecStart") == systemd_exec_start([*COMMAND, "run"])
    assert value(entries, "Service", "RestartPreventExitStatus") == str(EXIT_CONFIG)
    assert "/etc/systemd/system/laptop-agents.service" in result.stderr
    assert not (tmp_path / UNIT_NAME).exists()


def test_install_service_print_user_linux(tmp_path: Path) -> None:
    out, err = StringIO(), StringIO()
    code = install_service(load_settings(), user=True, print_only=True, platform="linux",
                           home=tmp_path, stdout=out, stderr=err)
    assert code == 0
    entries = parse_unit(out.getvalue())
    assert value(entries, "Install", "WantedBy") == "default.target"
    assert str(tmp_path / ".config/systemd/user" / UNIT_NAME) in err.getvalue()
    assert not (tmp_path / ".config").exists()  # --print writes nothing


def test_install_service_print_darwin(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    out, err = StringIO(), StringIO()
    code = install_service(settings, user=True, print_only=True, platform="darwin",
                           home=tmp_path, stdout=out, stderr=err)
    assert code == 0
    plist = plistlib.loads(out.getvalue().encode())
    assert plist["ProgramArguments"] == [*COMMAND, "run"]
    assert plist["EnvironmentVariables"]["LA_DATA_DIR"] == str(tmp_path / "data")
    assert plist["StandardErrorPath"].startswith(str(tmp_path / "Library/Logs"))
    assert str(tmp_path / "Library/LaunchAgents" / PLIST_NAME) in err.getvalue()
    assert not (tmp_path / "data").exists()


def test_install_service_writes_systemd(tmp_path: Path) -> None:
    out, err = StringIO(), StringIO()
    code = install_service(load_settings(), user=False, print_only=False, platform="linux",
                           target_dir=tmp_path, stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    unit = (tmp_path / UNIT_NAME).read_text()
    template = (tmp_path / TEMPLATE_UNIT_NAME).read_text()
    assert f"ExecStart={systemd_exec_start([*COMMAND, 'run'])}" in unit
    assert "StateDirectory=laptop-agents/%i" in template
    text = out.getvalue()
    assert "systemctl daemon-reload" in text
    assert "systemctl enable --now laptop-agents.service" in text


def test_install_service_writes_launchd(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "state" / "la")
    out, err = StringIO(), StringIO()
    code = install_service(settings, user=True, print_only=False, platform="darwin",
                           home=tmp_path, stdout=out, stderr=err)
    assert code == 0, err.getvalue()
    path = tmp_path / "Library/LaunchAgents" / PLIST_NAME
    plist = plistlib.loads(path.read_bytes())
    assert plist["ProgramArguments"][0] == COMMAND[0]
    # launchd does not create the log directory; install-service does (data dir too, 0700).
    assert (tmp_path / "Library/Logs/laptop-agents").is_dir()
    assert (tmp_path / "state" / "la").stat().st_mode & 0o777 == 0o700
    text = out.getvalue()
    assert f"launchctl bootstrap gui/$(id -u) {path}" in text
    assert f"launchctl bootout gui/$(id -u)/{LAUNCHD_LABEL}" in text


def test_install_service_unwritable_target(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("")
    err = StringIO()
    code = install_service(load_settings(), user=False, print_only=False, platform="linux",
                           target_dir=blocker / "sub", stdout=StringIO(), stderr=err)
    assert code == 1
    assert "cannot write" in err.getvalue()


def test_install_service_unsupported_platform() -> None:
    err = StringIO()
    assert install_service(load_settings(), user=True, print_only=True, platform="win32",
                           stdout=StringIO(), stderr=err) == 1
    assert "win32" in err.getvalue()
