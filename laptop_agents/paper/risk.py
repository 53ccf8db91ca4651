"""DailyRisk: the UTC risk day and the daily loss cap of the paper broker.

The day is the UTC date of the exchange timestamp of each event (tick ``ts``, candle close,
``now_ms``). On the first event of a day the day-start equity and balance are recorded and a
cap pause is lifted; the day only moves forward. After every tick and candle, a loss of
``daily_loss_cap_pct`` of the day-start equity flattens the position (through the ledger) and
pauses entries until the next day. The day and the pause are journaled, so a restart keeps them.

One DailyRisk per account: with several symbols their brokers share it (through the wallet),
the equity it watches is the whole account's, and reaching the cap flattens every symbol.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.models import Tick
from laptop_agents.paper.ledger import Ledger
from laptop_agents.paper.models import BrokerEvent, EntriesPaused
from laptop_agents.paper.wallet import Ledger as AnyLedger
from laptop_agents.storage.journal import AccountRow, Journal

DAY_MS = 86_400_000


def utc_day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms // DAY_MS * 86_400, tz=UTC).strftime("%Y-%m-%d")


class DailyRisk:
    def __init__(self, settings: Settings, ledger: Ledger, journal: Journal | None) -> None:
        self.settings = settings
        # Read for equity and balance (the account's, whichever symbol's ledger reads them);
        # at the cap every ledger of its wallet is flattened.
        self._ledger = ledger
        self._journal = journal
        self.day: str | None = None
        # ts // DAY_MS of self.day: the day test costs one division (the broker makes it
        # itself on every tick before calling roll()).
        self.day_index = -1
        self.day_start_equity = settings.starting_equity
        self.day_start_balance = settings.starting_equity
        self.pause_reason: str | None = None  # set while the cap holds entries

    def restore(self, account: AccountRow) -> None:
        """The day, its start figures and the pause from the account row (after the ledger's
        totals, whose balance stands in for figures an older journal lacks)."""
        self.day = account.risk_day
        if self.day:
            self.day_index = int(datetime.strptime(self.day, "%Y-%m-%d").replace(
                tzinfo=UTC).timestamp()) * 1000 // DAY_MS
        self.day_start_equity = account.day_start_equity or self._ledger.balance
        self.day_start_balance = account.day_start_balance or self._ledger.balance
        self.pause_reason = account.risk_pause_reason

    def roll(self, ts: int, tick: Tick | None, ledger: Ledger | None = None) -> None:
        """On the first event of a new UTC day: new day-start equity, clear the cap pause.

        The day only moves forward: an event stamped in an earlier day (a late or forged
        timestamp) must never bring back an old day's budget and lift the cap."""
        index = ts // DAY_MS
        if index <= self.day_index:
            return
        day = utc_day(ts)
        self.day_index = index
        if self.pause_reason:
            logger.info("new UTC day {}: daily loss cap pause lifted", day)
        ledger = ledger or self._ledger  # ``tick`` is that ledger's symbol's
        equity, balance = ledger.equity(tick), ledger.balance
        if self._journal is not None:
            self._journal.save_risk_day(day, equity, balance, None)
        self.day, self.day_start_equity, self.day_start_balance = day, equity, balance
        self.pause_reason = None

    def check_cap(self, ts: int, tick: Tick | None,
                  ledger: Ledger | None = None) -> list[BrokerEvent]:
        """Flatten and pause entries when today's loss reached the cap (once a day).
        ``tick``: the latest quote of ``ledger``'s symbol (the one whose event this is)."""
        if self.pause_reason is not None or self.day is None:
            return []
        ledger, start = ledger or self._ledger, self.day_start_equity
        equity = ledger.equity(tick)
        loss = start - equity
        limit = self.settings.daily_loss_cap_pct * start
        if loss < limit:
            return []
        reason = (
            f"daily loss cap: equity {equity:.2f} is {loss:.2f} below the day-start "
            f"{start:.2f} (cap {self.settings.daily_loss_cap_pct * 100}%)"
        )
        logger.warning("{}; closing and pausing entries until the next UTC day", reason)
        events: list[BrokerEvent] = []
        for each in ledger.wallet.ledgers:
            own = tick if each is ledger else None
            close_tick = own or each.last_tick or self._synthetic_tick(each, ts)
            if close_tick is not None:
                events += each.flatten(close_tick, "daily_loss_cap")
            else:
                events += each.cancel_working_orders("daily_loss_cap")
        if self._journal is not None:
            self._journal.save_risk_day(self.day, start, self.day_start_balance, reason)
        self.pause_reason = reason
        return [*events, EntriesPaused(reason, ts)]

    @staticmethod
    def _synthetic_tick(ledger: AnyLedger, ts: int) -> Tick | None:
        """A quote at the last candle close, for closing when no tick was ever seen."""
        c = ledger.last_close
        if c is None:
            return None
        return Tick(ledger.symbol, c, c, Decimal(0), Decimal(0), c, ts)
