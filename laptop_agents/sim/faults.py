"""Faults on the open connections and the handshake, and price scripting.

The other faults live with what they disturb: refusing connections with the listening socket
(listeners.py), skipping pushes with the push timers (pushes.py), injected and fuzzed frames
in inject.py. docs/simulator.md ("Faults and scripting") describes them all.
"""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from loguru import logger

from laptop_agents.sim import frames
from laptop_agents.sim.market import SymbolMarket
from laptop_agents.sim.venue import ConnectionsVenue


def drop_all(venue: ConnectionsVenue) -> int:
    """Abort every open connection (no close frame; clients see 1006)."""
    conns = [c for c in venue.connections if not c.dropped]
    for conn in conns:
        conn.abort()
    venue.stats.dropped_fault += len(conns)
    logger.info("sim fault: dropped {} connections", len(conns))
    return len(conns)


def set_stalled(venue: ConnectionsVenue, stalled: bool) -> None:
    """Stall (or unstall) the connections open now: no pushes, no ping replies."""
    for conn in venue.connections:
        conn.stalled = stalled
    if stalled:
        logger.info("sim fault: stalled {} connections", len(venue.connections))
    else:
        logger.info("sim fault: unstalled")


def send_malformed(venue: ConnectionsVenue, kind: str) -> int:
    """Send one malformed frame of ``kind`` to every open public connection."""
    if kind not in frames.MALFORMED_KINDS:
        raise ValueError(f"unknown kind {kind!r}; one of {', '.join(frames.MALFORMED_KINDS)}")
    now = venue.now_ms()
    sent = 0
    for conn in venue.connections:
        if conn.private or conn.dropped:
            continue
        # Shaped for the connection's first stream (a kline stream when it has none).
        sub = next((s for s in conn.subs.values() if s.known), None)
        ch, symbol = (sub.ch, sub.symbol or "BTCUSDT") if sub else ("market_kline_1min",
                                                                    "BTCUSDT")
        frame = frames.malformed(kind, ch, symbol, now, venue.options.oversized_bytes)
        if conn.send(frame, force=True):
            sent += 1
    venue.stats.malformed_sent += sent
    logger.info("sim fault: sent {} frame to {} connections", kind, sent)
    return sent


class HandshakeRejections:
    """The ``reject_handshakes`` fault: how many WebSocket upgrades still to refuse, and how."""

    def __init__(self) -> None:
        self._left = 0
        self._status = 403

    def arm(self, n: int, status: int) -> None:
        if not 400 <= status <= 599:
            raise ValueError("status must be an HTTP error (4xx/5xx)")
        self._left = n
        self._status = status
        logger.info("sim fault: rejecting the next {} handshakes with {}", n, status)

    def take(self) -> int | None:
        """The HTTP status to answer this upgrade with, or None to accept it."""
        if self._left <= 0:
            return None
        self._left -= 1
        return self._status


def script_price(market: SymbolMarket, now_ms: int, bid: Decimal, ask: Decimal | None,
                 pushes: int, push_sim_ms: int) -> None:
    """Move the BBO to ``bid``/``ask`` (default one tick above bid) over ``pushes`` steps
    ``push_sim_ms`` apart; the random walk then continues from there."""
    tick = Decimal(1).scaleb(-market.spec.price_decimals)
    bid_ticks = int((Decimal(bid) / tick).to_integral_value(ROUND_HALF_UP))
    ask_ticks = bid_ticks + 1 if ask is None else int(
        (Decimal(ask) / tick).to_integral_value(ROUND_HALF_UP))
    market.script(now_ms, bid_ticks, ask_ticks, pushes, push_sim_ms)
    logger.info("sim script: {} bid {} ask {} over {} pushes", market.spec.symbol, bid, ask,
                pushes)
