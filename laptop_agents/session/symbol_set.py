"""SymbolSet: the engines of every traded symbol, and what the runner does to all of them.

One :class:`SymbolEngine` per symbol (its history, last accepted quote, price guard, trading
gate and strategy) over one paper account (the brokers share a wallet: paper/wallet.py).
Each symbol has its own gate, so a stale or suspect feed pauses only that symbol, and a lost
connection pauses only the symbols on it; what holds for the whole account (the daily loss
cap, the kill file, a pause of everything, shutting down) reaches every gate. The first
symbol is the primary: the one-symbol fields of /status describe it.

A manual pause is kept per symbol in the journal (``pause:<SYMBOL>`` in its meta table) when
several symbols trade; with one symbol it stays the journal's one pause row, as it always was.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Executor

from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.data.price_guard import PriceGuard
from laptop_agents.models import Tick
from laptop_agents.paper.models import BrokerEvent
from laptop_agents.session.describe import describe_position
from laptop_agents.session.gate import PauseReason, PauseStore, TradingGate
from laptop_agents.session.ports import MarketData
from laptop_agents.session.symbol_engine import SymbolEngine
from laptop_agents.session.timeline import Timeline
from laptop_agents.storage.journal import Journal

PAUSE_KEY = "pause:{}"


class SymbolPauseStore:
    """One symbol's manual pause in the journal's meta table."""

    def __init__(self, journal: Journal, symbol: str) -> None:
        self._journal, self._key = journal, PAUSE_KEY.format(symbol)

    def set_pause(self, paused: bool, reason: str | None) -> None:
        self._journal.set_meta(self._key, json.dumps({"paused": paused, "reason": reason}))

    def state(self) -> tuple[bool, str | None]:
        """This symbol's pause; without one of its own, the account-wide pause row."""
        raw = self._journal.get_meta(self._key)
        if raw is None:
            return self._journal.pause_state()
        try:
            saved = json.loads(raw)
            return bool(saved["paused"]), saved.get("reason")
        except (ValueError, KeyError, TypeError):
            # Unreadable (hand-edited journal): paused, so an operator looks before entries.
            logger.warning("journal meta {} is unreadable ({!r}); the symbol starts paused",
                           self._key, raw[:80])
            return True, "unreadable pause state in the journal"


def symbol_gate(settings: Settings, journal: Journal, symbol: str, several: bool,
                guard: PriceGuard, risk_reason: Callable[[], str | None],
                timeline: Timeline) -> TradingGate:
    """The gate of one symbol: its own feed, quotes and warm-up; the account's cap."""
    store: PauseStore
    if several:
        store = symbol_store = SymbolPauseStore(journal, symbol)
        paused, reason = symbol_store.state()
    else:
        store = journal
        paused, reason = journal.pause_state()
    return TradingGate(stale_after=settings.stale_after, kill_file=settings.kill_file,
                       store=store, manual_pause=(bool(paused), reason),
                       risk_reason=risk_reason, suspect_for=guard.suspect_for,
                       monotonic=timeline.mono)


class SymbolSet:
    def __init__(self, engines: list[SymbolEngine], journal: Journal) -> None:
        if not engines:
            raise ValueError("no symbol to trade")
        self.by_symbol: dict[str, SymbolEngine] = {e.symbol: e for e in engines}
        self.primary = engines[0]
        self._journal = journal

    def __iter__(self) -> Iterator[SymbolEngine]:
        return iter(self.by_symbol.values())

    def __len__(self) -> int:
        return len(self.by_symbol)

    @property
    def several(self) -> bool:
        return len(self.by_symbol) > 1

    def get(self, symbol: str | None) -> SymbolEngine | None:
        """The engine of ``symbol`` (None: the primary); None when it is not traded."""
        return self.primary if symbol is None else self.by_symbol.get(symbol.upper())

    def gates(self, symbols: tuple[str, ...] = ()) -> list[TradingGate]:
        """The gates of ``symbols`` (empty: every symbol's)."""
        if not symbols:
            return [e.gate for e in self]
        return [e.gate for s in symbols if (e := self.by_symbol.get(s)) is not None]

    def start_after(self) -> int | Mapping[str, int] | None:
        """Where each symbol's live candles start: after its newest warm-up candle."""
        if not self.several:
            history = self.primary.history
            return history[-1].open_time if history else None
        return {e.symbol: e.history[-1].open_time for e in self if e.history}

    # --- all symbols at once ----------------------------------------------------------------
    async def warm_up(self) -> None:
        """Every symbol's history at once: their REST reads queue fairly on the one client's
        rate limiter (first come, first served), so no symbol waits for all the others."""
        async with asyncio.TaskGroup() as group:
            for engine in self:
                group.create_task(engine.warm_up(), name=f"warm-up {engine.symbol}")

    async def subscribe(self, provider: MarketData, interval: str) -> None:
        for engine in self:
            await provider.subscribe_kline(engine.symbol, interval)
            await provider.subscribe_ticker(engine.symbol)

    async def decide_forever(self, executor: Executor, on_decision: Callable[[], None]) -> None:
        """Every symbol's strategy loop; their decisions share one worker thread."""
        async with asyncio.TaskGroup() as group:
            for engine in self:
                group.create_task(engine.decide_forever(executor, on_decision=on_decision),
                                  name=f"strategy {engine.symbol}")

    def watchdog(self, on_gate: Callable[[Mapping[PauseReason, str], str | None], None]
                 = lambda active, symbol: None) -> bool:
        """The 100 ms pass over every symbol; True when some broker was asked. ``on_gate``
        gets each gate's reasons (and its symbol when several trade)."""
        checked = False
        several = self.several
        for engine in self:
            on_gate(engine.gate.refresh(), engine.symbol if several else None)
            checked = engine.watchdog_check() or checked
        return checked

    def mark_stale(self) -> None:
        for gate in self.gates():
            gate.mark_stale()

    def shutting_down(self) -> None:
        for gate in self.gates():
            gate.shutting_down()

    def pause(self, reason: str | None, symbol: str | None = None) -> None:
        """Pause one symbol, or every symbol (``symbol`` None)."""
        for engine in [self.by_symbol[symbol]] if symbol else self:
            engine.gate.pause(reason)

    def resume(self, symbol: str | None = None) -> None:
        for engine in [self.by_symbol[symbol]] if symbol else self:
            engine.gate.resume()
        if symbol is None and self.several:
            self._journal.set_pause(False, None)  # an account-wide row from one-symbol days

    def flatten(self, reason: str, fresh_only: bool = True,
                symbol: str | None = None) -> tuple[list[BrokerEvent], list[str]]:
        """Close every open position at its symbol's latest quote (or one symbol's): the
        events, and the symbols that could not be closed for want of a fresh price."""
        events: list[BrokerEvent] = []
        stuck: list[str] = []
        for engine in [self.by_symbol[symbol]] if symbol else self:
            if engine.broker.position is None and not engine.broker.working_orders:
                continue
            tick: Tick | None = engine.last_tick
            if tick is None or (fresh_only and not engine.gate.prices_fresh()):
                if engine.broker.position is not None:
                    stuck.append(engine.symbol)
                continue
            events += engine.broker.flatten(tick, reason)
        return events, stuck

    def flatten_on_exit(self) -> list[BrokerEvent]:
        """LA_FLATTEN_ON_EXIT: close what can be closed at a fresh price, say what cannot."""
        events, stuck = self.flatten("shutdown")
        for symbol in stuck:
            logger.error("LA_FLATTEN_ON_EXIT: no fresh {} price; the position is kept "
                         "(journaled)", symbol)
        if events:
            logger.info("position(s) closed on exit (LA_FLATTEN_ON_EXIT=true)")
        return events

    def log_kept(self) -> None:
        """What stays open across the restart (journaled)."""
        for engine in self:
            broker = engine.broker
            if broker.position is not None:
                logger.info("open position kept (journaled): {}",
                            describe_position(broker.position))
            if broker.working_orders:
                logger.info("{} working order(s) kept (journaled)", len(broker.working_orders))

    def close(self) -> None:
        for engine in self:
            engine.close()


__all__ = ["SymbolPauseStore", "SymbolSet", "symbol_gate"]
