"""`laptop-agents install-service`: write (or print) the systemd unit or the launchd plist.

The files are rendered here, with this installation's command (the ``laptop-agents`` script
next to ``sys.executable``, i.e. inside the venv) and data directory filled in, so there is one
source of truth: the copies under deploy/ are the same renderers' output with a placeholder
path (``python -m laptop_agents.service_install deploy`` regenerates them; a test keeps them
in sync). deploy/README.md walks through both platforms.

Choices (also in deploy/README.md):

- systemd system service: ``DynamicUser=yes`` (no account to create; the journal lives in
  ``StateDirectory=`` which systemd owns and hands to the transient user), the full sandbox,
  secrets in ``/etc/laptop-agents/laptop-agents.env`` read by PID 1 (root-only file).
- systemd ``--user`` service: the sandbox options that work unprivileged (seccomp based), no
  ``ProtectHome`` (the venv usually lives in the home directory).
- launchd: a LaunchAgent (``--user``) or LaunchDaemon; KeepAlive only after a crash, logs to a
  rotating file (``LA_LOG_FILE``) because nothing rotates launchd's stdout/stderr files.
"""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from laptop_agents.config import Settings, default_data_dir
from laptop_agents.datadir import ensure_data_dir
from laptop_agents.errors import EXIT_OK, ConfigError
from laptop_agents.service_units import (
    ENV_FILE,
    EXIT_INSTALL_FAILED,
    LAUNCHD_LABEL,
    PLIST_NAME,
    TEMPLATE_UNIT_NAME,
    UNIT_NAME,
    render_deploy_files,
    render_launchd_plist,
    render_systemd_template,
    render_systemd_unit,
    systemd_exec_start,
)

__all__ = ["LAUNCHD_LABEL", "PLIST_NAME", "TEMPLATE_UNIT_NAME", "UNIT_NAME", "install_service",
           "installed_command", "render_deploy_files", "render_launchd_plist",
           "render_systemd_template", "render_systemd_unit", "systemd_exec_start"]


@dataclass(frozen=True)
class _Target:
    path: Path
    text: str


@dataclass
class _Plan:
    targets: list[_Target]
    steps: list[str]
    # Created by install-service itself (launchd does not create its log directory).
    directories: list[Path] = field(default_factory=list)


def installed_command(executable: str | None = None) -> list[str]:
    """The command that starts this installation: the venv's script, else ``python -m``."""
    # Not resolved: a venv's bin/python is a symlink and resolving it would leave the venv.
    python = Path(executable or sys.executable).absolute()
    script = python.parent / "laptop-agents"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [str(python), "-m", "laptop_agents"]


def install_service(
    settings: Settings,
    user: bool,
    print_only: bool,
    *,
    platform: str | None = None,
    executable: str | None = None,
    home: Path | None = None,
    target_dir: Path | None = None,
    stdout: TextIO | None = None,
    stderr: TextIO | None = None,
) -> int:
    """Write the unit (Linux) or plist (macOS) and print the next commands; 0 on success.

    ``platform``, ``executable``, ``home`` and ``target_dir`` (where the files go) exist for
    tests and packagers; by default they come from this machine.
    """
    out = stdout or sys.stdout
    err = stderr or sys.stderr
    platform = platform or sys.platform
    home = home or Path.home()
    command = installed_command(executable)
    if platform == "darwin":
        plan = _launchd_plan(settings, user, command, home, target_dir)
    elif platform.startswith("linux"):
        plan = _systemd_plan(settings, user, command, home, target_dir, err)
    else:
        err.write(f"laptop-agents: install-service supports Linux (systemd) and macOS "
                  f"(launchd), not {platform}\n")
        return EXIT_INSTALL_FAILED
    targets = plan.targets
    if print_only:
        # Only the main file on stdout, so `--print > file` gives a valid unit or plist.
        out.write(targets[0].text)
        err.write(f"# would be written to {targets[0].path}"
                  + "".join(f" (and {t.path})" for t in targets[1:]) + "\n")
        return EXIT_OK
    try:
        for directory in plan.directories:
            ensure_data_dir(directory)
    except ConfigError as error:
        err.write(f"laptop-agents: {error}\n")
        return EXIT_INSTALL_FAILED
    for target in targets:
        try:
            target.path.parent.mkdir(parents=True, exist_ok=True)
            target.path.write_text(target.text, encoding="utf-8")
            target.path.chmod(0o644)
        except OSError as error:
            hint = "" if user else " (run it with sudo, or use --user)"
            err.write(f"laptop-agents: cannot write {target.path}: "
                      f"{error.strerror or error}{hint}\n")
            return EXIT_INSTALL_FAILED
        out.write(f"wrote {target.path}\n")
    out.write("next:\n" + "".join(f"  {step}\n" for step in plan.steps))
    return EXIT_OK


def _protect_home(command: Sequence[str], home: Path) -> str:
    # A venv under /home or /root is hidden by ProtectHome=yes; read-only keeps it usable.
    first = command[0]
    if first.startswith(("/home/", "/root/", str(home) + "/")):
        return "read-only"
    return "yes"


def _systemd_plan(
    settings: Settings,
    user: bool,
    command: Sequence[str],
    home: Path,
    target_dir: Path | None,
    err: TextIO,
) -> _Plan:
    if "data_dir" in settings.model_fields_set and settings.data_dir != default_data_dir():
        err.write(f"note: under systemd the data directory is the unit's StateDirectory "
                  f"(LA_DATA_DIR=%S/laptop-agents), not {settings.data_dir}; copy the "
                  f"journal there to keep its history\n")
    if user:
        directory = target_dir or home / ".config/systemd/user"
        targets = [_Target(directory / UNIT_NAME, render_systemd_unit(command, user=True))]
        steps = [
            "mkdir -p ~/.config/laptop-agents  # optional: settings/secrets in "
            "~/.config/laptop-agents/laptop-agents.env (chmod 600)",
            "systemctl --user daemon-reload",
            f"systemctl --user enable --now {UNIT_NAME}",
            "loginctl enable-linger \"$USER\"  # keep it running while you are logged out",
            "journalctl --user -u laptop-agents -f",
        ]
        return _Plan(targets, steps)
    protect_home = _protect_home(command, home)
    if protect_home != "yes":
        err.write(f"warning: {command[0]} is under a home directory; the service's transient "
                  "user must be able to read it (a venv under /opt is simpler)\n")
    directory = target_dir or Path("/etc/systemd/system")
    targets = [
        _Target(directory / UNIT_NAME,
                render_systemd_unit(command, user=False, protect_home=protect_home)),
        _Target(directory / TEMPLATE_UNIT_NAME,
                render_systemd_template(command, protect_home=protect_home)),
    ]
    steps = [
        "sudo install -d -m 0700 /etc/laptop-agents",
        f"sudoedit {ENV_FILE}  # optional: LA_SOURCE=bitunix, LA_API_TOKEN=..., chmod 600",
        "sudo systemctl daemon-reload",
        f"sudo systemctl enable --now {UNIT_NAME}",
        "journalctl -u laptop-agents -f",
    ]
    return _Plan(targets, steps)


def _launchd_plan(
    settings: Settings,
    user: bool,
    command: Sequence[str],
    home: Path,
    target_dir: Path | None,
) -> _Plan:
    if user:
        directory = target_dir or home / "Library/LaunchAgents"
        log_dir = home / "Library/Logs/laptop-agents"
        domain = "gui/$(id -u)"
        sudo = ""
        user_name = None
    else:
        directory = target_dir or Path("/Library/LaunchDaemons")
        log_dir = Path("/Library/Logs/laptop-agents")
        domain = "system"
        sudo = "sudo "
        # A LaunchDaemon runs as root unless told otherwise; run it as the installing user.
        user_name = os.environ.get("SUDO_USER") or os.environ.get("USER") or None
        if user_name == "root":
            user_name = None
    path = directory / PLIST_NAME
    text = render_launchd_plist(command, data_dir=settings.data_dir, log_dir=log_dir,
                                user_name=user_name)
    steps = [
        f"{sudo}launchctl bootstrap {domain} {_sh(str(path))}",
        f"{sudo}launchctl print {domain}/{LAUNCHD_LABEL}  # state, pid, last exit code",
        f"tail -f {_sh(str(log_dir / 'laptop-agents.log'))}",
        f"{sudo}launchctl bootout {domain}/{LAUNCHD_LABEL}  # to stop and unload",
    ]
    directories = [log_dir, settings.data_dir]
    if user_name:
        # Created by root (sudo); hand them to the account the daemon runs as.
        dirs = " ".join(_sh(str(d)) for d in directories)
        steps.insert(0, f"sudo chown {_sh(user_name)} {dirs}")
    return _Plan([_Target(path, text)], steps, directories)


def _sh(value: str) -> str:
    return shlex.quote(value)


def _write_deploy(directory: Path) -> None:
    for relative, text in render_deploy_files().items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    # `python -m laptop_agents.service_install deploy` regenerates the files under deploy/.
    _write_deploy(Path(sys.argv[1] if len(sys.argv) > 1 else "deploy"))
