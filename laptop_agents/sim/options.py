"""`SimOptions`: how a simulated exchange is built, fixed for its lifetime.

What changes while it runs (the speed after ``set_speed``, the fault state, the ports it
actually bound) lives on the exchange, not here.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from laptop_agents.config import is_loopback_host
from laptop_agents.sim.contracts import SPECS

PingReply = Literal["open_second", "now"]


@dataclass(frozen=True, slots=True)
class SimOptions:
    """Every knob of the simulator (the table in docs/simulator.md), checked on creation."""

    seed: int = 42
    speed: float = 1.0  # at start; SimExchange.set_speed changes the running speed
    host: str = "127.0.0.1"
    port: int = 0  # 0 = any free port; SimExchange.port is the one bound
    symbols: tuple[str, ...] = ("BTCUSDT",)
    start_ms: int | None = None  # None: wall time when the exchange is created, to the minute
    kline_push_ms: int = 500
    depth_push_ms: int = 310
    ticker_push_ms: int = 1000
    trade_push_ms: int = 500
    price_push_ms: int = 1000
    idle_timeout: float = 60.0
    max_frames_per_second: int = 5
    max_subscriptions: int = 300
    history_minutes: int = 1000
    swapped_rest_volume: bool = True
    subscribe_ack: bool = False
    ping_reply: PingReply = "open_second"
    admin: bool = False
    admin_host: str = "127.0.0.1"
    admin_port: int = 0  # 0 = any free port; SimExchange.admin_port is the one bound
    api_key: str = "sim-key"
    api_secret: str = "sim-secret"
    oversized_bytes: int = 4 * 1024 * 1024 + 1024
    kline_final_push: bool = False
    # Simulated ms between funding settlements (at every multiple of it since the epoch).
    funding_interval_ms: int = 28_800_000
    # None: derived from start_ms and history_minutes. Set, the market is generated from this
    # instant (a whole minute <= start_ms): a restarted simulator given the first run's origin
    # and seed shows the same market at every instant (sim/resume.py).
    origin_ms: int | None = None
    depth_snapshot: bool = False  # the embedded daemon's simulator turns it on (embedded.py)

    def __post_init__(self) -> None:
        unknown = [s for s in self.symbols if s.upper() not in SPECS]
        if unknown:
            raise ValueError(f"unsupported symbols {unknown}; known: {', '.join(SPECS)}")
        if self.admin and not is_loopback_host(self.admin_host):
            raise ValueError(f"the admin API binds loopback only, not {self.admin_host!r}")
        if self.ping_reply not in ("open_second", "now"):
            raise ValueError("ping_reply must be 'open_second' or 'now'")
        if self.speed <= 0:
            raise ValueError("speed must be > 0")
        # Whole minutes: a settlement's mark is then read from a kept minute aggregate, so it
        # is known for every settlement of the history (sim/funding.py).
        if self.funding_interval_ms <= 0 or self.funding_interval_ms % 60_000:
            raise ValueError("funding_interval_ms must be a positive multiple of 60000")
        if self.origin_ms is not None and self.start_ms is not None \
                and self.origin_ms > self.start_ms:
            raise ValueError("origin_ms must not be after start_ms")
