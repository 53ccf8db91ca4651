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
import plistlib
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from laptop_agents.config import Settings, default_data_dir
from laptop_agents.datadir import ensure_data_dir
from laptop_agents.errors import EXIT_CONFIG, EXIT_OK, ConfigError

UNIT_NAME = "laptop-agents.service"
TEMPLATE_UNIT_NAME = "laptop-agents@.service"
LAUNCHD_LABEL = "com.laptop-agents.daemon"
PLIST_NAME = f"{LAUNCHD_LABEL}.plist"
ENV_FILE = "/etc/laptop-agents/laptop-agents.env"
USER_ENV_FILE = "%h/.config/laptop-agents/laptop-agents.env"
# Where deploy/ pretends the venv lives; install-service puts the real path in.
PLACEHOLDER_COMMAND = ("/opt/laptop-agents/.venv/bin/laptop-agents",)

WATCHDOG_SEC = 30  # the heartbeat pings every WATCHDOG_SEC / 2 (service.heartbeat_interval)
STOP_TIMEOUT_SEC = 15  # the daemon's clean shutdown is bounded at 5 s; room for slow disks
RESTART_SEC = 5
EXIT_INSTALL_FAILED = 1

# Sandbox for system services; each line is something the daemon provably does not need.
_SYSTEM_HARDENING = """\
# Sandbox: see `systemd-analyze security laptop-agents`.
NoNewPrivileges=yes
ProtectSystem=strict
ProtectHome={protect_home}
PrivateTmp=yes
PrivateDevices=yes
PrivateUsers=yes
ProtectKernelTunables=yes
ProtectKernelModules=yes
ProtectKernelLogs=yes
ProtectControlGroups=yes
ProtectClock=yes
ProtectHostname=yes
ProtectProc=invisible
RestrictNamespaces=yes
RestrictRealtime=yes
RestrictSUIDSGID=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
LockPersonality=yes
# CPython and orjson never map writable+executable memory; ctypes callbacks would.
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
CapabilityBoundingSet=
AmbientCapabilities=
RemoveIPC=yes
"""

# What an unprivileged (user) manager can apply: seccomp filters and NoNewPrivileges.
_USER_HARDENING = """\
# Sandbox (the parts an unprivileged user manager can apply).
NoNewPrivileges=yes
RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6
RestrictRealtime=yes
RestrictSUIDSGID=yes
LockPersonality=yes
MemoryDenyWriteExecute=yes
SystemCallArchitectures=native
SystemCallFilter=@system-service
SystemCallErrorNumber=EPERM
"""

_SERVICE_COMMON = """\
Type=notify
NotifyAccess=main
ExecStart={exec_start}
{environment}\
StateDirectory={state_directory}
StateDirectoryMode=0700
WorkingDirectory=%S/{state_directory}
Restart=on-failure
RestartSec={restart_sec}s
# {exit_config} = invalid configuration (EX_CONFIG): restarting cannot fix it.
RestartPreventExitStatus={exit_config}
TimeoutStartSec=120s
TimeoutStopSec={stop_timeout}s
KillMode=mixed
WatchdogSec={watchdog}s
UMask=0077
"""


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


def systemd_exec_start(command: Sequence[str]) -> str:
    """ExecStart= value: quoted where needed, ``%`` escaped (unit files expand specifiers)."""
    parts = []
    for arg in command:
        arg = arg.replace("%", "%%")
        if any(c in arg for c in ' \t"\'\\'):
            arg = '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'
        parts.append(arg)
    return " ".join(parts)


def render_systemd_unit(
    command: Sequence[str], *, user: bool, protect_home: str = "yes"
) -> str:
    """The laptop-agents.service unit (system or ``--user``)."""
    run = [*command, "run"]
    if user:
        environment = (
            f"EnvironmentFile=-{USER_ENV_FILE}\n"
            "Environment=LA_DATA_DIR=%S/laptop-agents PYTHONUNBUFFERED=1\n"
        )
    else:
        environment = (
            "# Secrets and settings (LA_SOURCE=bitunix, LA_API_TOKEN=...): root-only file.\n"
            f"EnvironmentFile=-{ENV_FILE}\n"
            "Environment=LA_DATA_DIR=%S/laptop-agents PYTHONUNBUFFERED=1\n"
        )
    unit = [
        "# laptop-agents paper-trading daemon. Written by `laptop-agents install-service`;",
        "# see deploy/README.md and docs/operations.md.",
        "[Unit]",
        "Description=laptop-agents paper-trading daemon",
    ]
    if not user:
        unit += ["After=network-online.target", "Wants=network-online.target"]
    unit += ["StartLimitIntervalSec=300", "StartLimitBurst=5", "", "[Service]"]
    if not user:
        unit += ["# A transient user; the journal lives in StateDirectory (/var/lib/private).",
                 "DynamicUser=yes"]
    text = "\n".join(unit) + "\n"
    text += _common(run, environment, "laptop-agents")
    if user:
        text += _USER_HARDENING
        text += "\n[Install]\nWantedBy=default.target\n"
    else:
        text += _SYSTEM_HARDENING.format(protect_home=protect_home)
        text += "\n[Install]\nWantedBy=multi-user.target\n"
    return text


def render_systemd_template(command: Sequence[str], *, protect_home: str = "yes") -> str:
    """laptop-agents@.service: one daemon per symbol; ``laptop-agents@BTCUSDT``.

    Each instance reads /etc/laptop-agents/<SYMBOL>.env (required: at least its own
    LA_API_PORT) after the shared laptop-agents.env, and has its own state directory.
    """
    environment = (
        "# Shared secrets first, then the instance's own file (its LA_API_PORT at least).\n"
        f"EnvironmentFile=-{ENV_FILE}\n"
        "EnvironmentFile=/etc/laptop-agents/%i.env\n"
        "Environment=LA_SYMBOL=%i LA_DATA_DIR=%S/laptop-agents/%i PYTHONUNBUFFERED=1\n"
    )
    head = (
        "# laptop-agents, one daemon per symbol: systemctl enable --now laptop-agents@BTCUSDT\n"
        "# Written by `laptop-agents install-service`; see deploy/README.md.\n"
        "[Unit]\n"
        "Description=laptop-agents paper-trading daemon for %i\n"
        "After=network-online.target\n"
        "Wants=network-online.target\n"
        "StartLimitIntervalSec=300\n"
        "StartLimitBurst=5\n"
        "\n[Service]\n"
        "DynamicUser=yes\n"
        "User=laptop-agents-%i\n"
    )
    return (
        head
        + _common([*command, "run"], environment, "laptop-agents/%i")
        + _SYSTEM_HARDENING.format(protect_home=protect_home)
        + "\n[Install]\nWantedBy=multi-user.target\n"
    )


def _common(run: Sequence[str], environment: str, state_directory: str) -> str:
    return _SERVICE_COMMON.format(
        exec_start=systemd_exec_start(run),
        environment=environment,
        state_directory=state_directory,
        restart_sec=RESTART_SEC,
        exit_config=EXIT_CONFIG,
        stop_timeout=STOP_TIMEOUT_SEC,
        watchdog=WATCHDOG_SEC,
    )


def render_launchd_plist(
    command: Sequence[str], *, data_dir: Path, log_dir: Path, user_name: str | None = None
) -> str:
    """The launchd plist (LaunchAgent or LaunchDaemon)."""
    plist: dict[str, object] = {
        "Label": LAUNCHD_LABEL,
        "ProgramArguments": [*command, "run"],
        "RunAtLoad": True,
        # Restart after a crash or a non-zero exit, not after a clean stop.
        "KeepAlive": {"SuccessfulExit": False},
        # launchd cannot skip exit 78 (bad config) like systemd; this caps the retry rate.
        "ThrottleInterval": 30,
        "ExitTimeOut": STOP_TIMEOUT_SEC,
        "Umask": 0o077,
        # pydantic-settings also reads .env from here: put secrets in <data dir>/.env (0600).
        "WorkingDirectory": str(data_dir),
        "EnvironmentVariables": {
            "LA_DATA_DIR": str(data_dir),
            # loguru rotates this file; stdout/stderr below only catch what escapes it.
            "LA_LOG_FILE": str(log_dir / "laptop-agents.log"),
            "LA_LOG_STDERR": "false",
            "PYTHONUNBUFFERED": "1",
        },
        "StandardOutPath": str(log_dir / "stdout.log"),
        "StandardErrorPath": str(log_dir / "stderr.log"),
    }
    if user_name:
        plist["UserName"] = user_name
    return plistlib.dumps(plist, sort_keys=False).decode()


def installed_command(executable: str | None = None) -> list[str]:
    """The command that starts this installation: the venv's script, else ``python -m``."""
    # Not resolved: a venv's bin/python is a symlink and resolving it would leave the venv.
    python = Path(executable or sys.executable).absolute()
    script = python.parent / "laptop-agents"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [str(python), "-m", "laptop_agents"]


def render_deploy_files() -> dict[str, str]:
    """deploy/'s files (relative path -> text), rendered with the placeholder command."""
    home = Path("/Users/YOU")
    return {
        f"systemd/{UNIT_NAME}": render_systemd_unit(PLACEHOLDER_COMMAND, user=False),
        f"systemd/user/{UNIT_NAME}": render_systemd_unit(PLACEHOLDER_COMMAND, user=True),
        f"systemd/{TEMPLATE_UNIT_NAME}": render_systemd_template(PLACEHOLDER_COMMAND),
        f"launchd/{PLIST_NAME}": render_launchd_plist(
            ["/Users/YOU/laptop-agents/.venv/bin/laptop-agents"],
            data_dir=home / ".local/state/laptop-agents",
            log_dir=home / "Library/Logs/laptop-agents",
        ),
    }


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
