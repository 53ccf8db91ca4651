"""The service manager files: the systemd units and the launchd plist, rendered from code.

One source of truth: ``laptop-agents install-service`` (service_install.py) writes them with
this installation's command and data directory; the copies under deploy/ are the same
renderers' output with a placeholder path, kept in sync by a test. The choices (sandbox,
restart policy, where secrets and logs go) are written out in service_install.py's docstring
and deploy/README.md.
"""

from __future__ import annotations

import plistlib
from collections.abc import Sequence
from pathlib import Path

from laptop_agents.errors import EXIT_CONFIG

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
