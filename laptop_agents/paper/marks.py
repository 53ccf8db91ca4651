"""MarkInputs: what a ledger's unrealised PnL depends on (its position, last tick and last
candle close), with a change count that keeps the PnL's memos honest.

A watchdog pass asks every symbol's broker for the whole account's equity, which is every
other symbol's unrealised PnL too: summed afresh each time, that is quadratic in the number of
symbols (2,500 marks per 100 ms pass at 50 symbols). Every assignment to one of these three
attributes counts a change, on the ledger and on its wallet; the ledger's PnL
(``Ledger.unrealized_pnl``) and the wallet's total (``Wallet.unrealized_total``) are computed
again only after one. Positions, ticks and Decimals are immutable, so assigning is the only way
they change.
"""

from __future__ import annotations

from decimal import Decimal
from typing import TYPE_CHECKING

from laptop_agents.models import Tick
from laptop_agents.paper.models import Position

if TYPE_CHECKING:
    from laptop_agents.paper.wallet import Wallet


class MarkInputs:
    wallet: Wallet

    def __init__(self) -> None:
        self._changes = 0
        self._upnl_at = -1  # the change count the memo below was computed at
        self._upnl = Decimal(0)
        self._position: Position | None = None
        self._last_tick: Tick | None = None
        self._last_close: Decimal | None = None

    def _changed(self) -> None:
        self._changes += 1
        self.wallet.changes += 1

    @property
    def position(self) -> Position | None:
        return self._position

    @position.setter
    def position(self, value: Position | None) -> None:
        self._position = value
        self._changed()

    @property
    def last_tick(self) -> Tick | None:
        return self._last_tick

    @last_tick.setter
    def last_tick(self, value: Tick | None) -> None:
        self._last_tick = value
        self._changed()

    @property
    def last_close(self) -> Decimal | None:
        return self._last_close

    @last_close.setter
    def last_close(self, value: Decimal | None) -> None:
        self._last_close = value
        self._changed()
