"""`SimStats`: what the simulator counts (read by tests and the admin API's ``state``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass


@dataclass(slots=True)
class SimStats:
    connections_opened: int = 0
    connections_open: int = 0
    frames_received: int = 0
    frames_sent: int = 0
    frames_dropped_slow: int = 0
    pings_answered: int = 0
    subscriptions: int = 0
    dropped_idle: int = 0
    dropped_rate: int = 0
    dropped_fault: int = 0
    handshakes_rejected: int = 0
    refuse_periods: int = 0
    malformed_sent: int = 0
    frames_injected: int = 0
    logins_ok: int = 0
    logins_failed: int = 0
    rest_requests: int = 0

    def as_dict(self) -> dict[str, int]:
        return asdict(self)
