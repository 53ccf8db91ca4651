"""A minimal systemd unit-file reader for tests (duplicate keys allowed, unlike configparser)."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Entry:
    section: str
    key: str
    value: str
    line: int


def parse_unit(text: str) -> list[Entry]:
    entries: list[Entry] = []
    section = ""
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("[") and line.endswith("]"):
            section = line[1:-1]
            continue
        if "=" not in line:
            raise ValueError(f"line {number}: not key=value: {raw!r}")
        if not section:
            raise ValueError(f"line {number}: key outside a section")
        key, _, value = line.partition("=")
        entries.append(Entry(section, key.strip(), value.strip(), number))
    return entries


def values(entries: list[Entry], section: str, key: str) -> list[str]:
    return [e.value for e in entries if e.section == section and e.key == key]


def value(entries: list[Entry], section: str, key: str) -> str:
    found = values(entries, section, key)
    assert len(found) == 1, f"[{section}] {key}: expected one value, got {found}"
    return found[0]


# Known keys (systemd.unit(5), systemd.service(5), systemd.exec(5), systemd.kill(5),
# systemd.resource-control(5)); a key outside these is a typo or an unreviewed addition.
KNOWN_KEYS: dict[str, set[str]] = {
    "Unit": {
        "Description", "Documentation", "After", "Before", "Wants", "Requires", "Requisite",
        "BindsTo", "PartOf", "Conflicts", "Upholds", "OnFailure", "OnSuccess",
        "StartLimitIntervalSec", "StartLimitBurst", "StartLimitAction",
        "ConditionPathExists", "AssertPathExists", "DefaultDependencies",
    },
    "Service": {
        # service
        "Type", "NotifyAccess", "ExecStart", "ExecStartPre", "ExecStartPost", "ExecStop",
        "ExecStopPost", "ExecReload", "Restart", "RestartSec", "RestartPreventExitStatus",
        "RestartForceExitStatus", "SuccessExitStatus", "TimeoutStartSec", "TimeoutStopSec",
        "TimeoutSec", "WatchdogSec", "RuntimeMaxSec", "RemainAfterExit", "PIDFile",
        "OOMPolicy",
        # kill
        "KillMode", "KillSignal", "SendSIGKILL", "FinalKillSignal",
        # exec: environment, identity, directories
        "Environment", "EnvironmentFile", "PassEnvironment", "User", "Group", "DynamicUser",
        "SupplementaryGroups", "WorkingDirectory", "StateDirectory", "StateDirectoryMode",
        "RuntimeDirectory", "RuntimeDirectoryMode", "CacheDirectory", "LogsDirectory",
        "ConfigurationDirectory", "UMask", "Nice", "LimitNOFILE", "StandardOutput",
        "StandardError", "SyslogIdentifier", "ReadWritePaths", "ReadOnlyPaths",
        "InaccessiblePaths",
        # exec: sandbox
        "NoNewPrivileges", "ProtectSystem", "ProtectHome", "PrivateTmp", "PrivateDevices",
        "PrivateUsers", "PrivateNetwork", "ProtectKernelTunables", "ProtectKernelModules",
        "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname",
        "ProtectProc", "ProcSubset", "RestrictNamespaces", "RestrictRealtime",
        "RestrictSUIDSGID", "RestrictAddressFamilies", "LockPersonality",
        "MemoryDenyWriteExecute", "SystemCallArchitectures", "SystemCallFilter",
        "SystemCallErrorNumber", "CapabilityBoundingSet", "AmbientCapabilities", "RemoveIPC",
        "DevicePolicy", "DeviceAllow", "IPAddressDeny", "IPAddressAllow",
        # resource control
        "MemoryMax", "MemoryHigh", "CPUQuota", "TasksMax",
    },
    "Install": {"WantedBy", "RequiredBy", "Alias", "Also", "DefaultInstance"},
}


def unknown_keys(entries: list[Entry]) -> list[str]:
    problems = []
    for entry in entries:
        known = KNOWN_KEYS.get(entry.section)
        if known is None:
            problems.append(f"line {entry.line}: unknown section [{entry.section}]")
        elif entry.key not in known:
            problems.append(f"line {entry.line}: unknown key {entry.key} in [{entry.section}]")
    return problems
