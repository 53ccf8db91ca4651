"""What each piece of the simulator needs of the exchange, as narrow Protocols.

The REST endpoints, the WebSocket connections, the push timers, the injector and the admin
API depend on these rather than on `SimExchange`, which satisfies all of them (mypy checks
that where server.py hands itself over). So none of those modules imports server.py, which
imports them all.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from decimal import Decimal
from typing import Protocol

from laptop_agents.models import Tick
from laptop_agents.sim.frames import JsonObject
from laptop_agents.sim.market import SymbolMarket
from laptop_agents.sim.options import SimOptions
from laptop_agents.sim.stats import SimStats
from laptop_agents.sim.subscriptions import Subscription


class MarketVenue(Protocol):
    """The market, the options and the counters: what the REST endpoints (rest.py) and one
    WebSocket connection (ws.py) use."""

    @property
    def options(self) -> SimOptions: ...

    @property
    def stats(self) -> SimStats: ...

    @property
    def markets(self) -> Mapping[str, SymbolMarket]: ...

    def now_ms(self) -> int:
        """Current simulated time; also generates the markets up to it."""
        ...

    def pushes_skipped(self, now_ms: int) -> bool:
        """True while a ``skip_pushes`` fault silences pushes (snapshots on subscribe too)."""
        ...


class Subscriber(Protocol):
    """One open client connection as the push timers, the faults and the injector see it
    (ws.Connection)."""

    stalled: bool

    @property
    def private(self) -> bool: ...

    @property
    def dropped(self) -> bool: ...

    @property
    def subs(self) -> Mapping[tuple[str, str | None], Subscription]: ...

    def send(self, frame: str | bytes | JsonObject, *, force: bool = False) -> bool: ...

    async def send_wait(self, frame: str | bytes) -> bool: ...

    def abort(self) -> None: ...


class ConnectionsVenue(MarketVenue, Protocol):
    """The market and the open connections: what the push timers (pushes.py), the connection
    faults (faults.py) and the injector (inject.py) use."""

    @property
    def connections(self) -> Collection[Subscriber]: ...


class AdminVenue(Protocol):
    """Everything the admin HTTP API (admin.py) reads or triggers; see SimExchange for each."""

    @property
    def stats(self) -> SimStats: ...

    @property
    def markets(self) -> Mapping[str, SymbolMarket]: ...

    @property
    def port(self) -> int: ...

    @property
    def speed(self) -> float: ...

    @property
    def refusing(self) -> bool: ...

    def now_ms(self) -> int: ...

    def current_tick(self, symbol: str = ...) -> Tick: ...

    def set_speed(self, speed: float) -> None: ...

    def drop_all(self) -> int: ...

    def stall(self) -> None: ...

    def unstall(self) -> None: ...

    async def refuse_connections(self) -> None: ...

    async def accept_connections(self) -> None: ...

    def reject_handshakes(self, n: int, status: int = ...) -> None: ...

    def send_malformed(self, kind: str) -> int: ...

    async def inject_frames(self, frames: Iterable[str | bytes]) -> int: ...

    async def fuzz(self, seed: int, count: int, symbol: str | None = ...,
                   oversized_every: int = ...) -> JsonObject: ...

    def skip_pushes(self, sim_seconds: float) -> None: ...

    def script_price(self, bid: Decimal, ask: Decimal | None = ..., pushes: int = ...,
                     symbol: str = ...) -> None: ...
