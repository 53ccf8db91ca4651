"""A notice as a webhook's JSON body, or as a Telegram message (plain text, no markup)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson

from laptop_agents.jsontypes import JSONObject, to_json
from laptop_agents.notify.events import Notice
from laptop_agents.notify.targets import Target

# The first line of a Telegram message: what happened, in words.
TITLES = {
    "entry": "Entry filled",
    "exit": "Position closed",
    "liquidation": "LIQUIDATED",
    "funding": "Funding settled",
    "paused": "Entries paused",
    "resumed": "Entries resumed",
    "daily_loss_cap": "Daily loss cap hit: no new entries today",
    "feed_lost": "Market data lost: entries paused",
    "feed_recovered": "Market data recovered",
    "price_suspect": "Prices suspect: entries paused",
    "started": "Daemon started",
    "stopped": "Daemon stopped",
}
# The second line: the event's main fields ({name} are payload fields, rendered as strings).
SUMMARIES = {
    "entry": "{side} {qty} @ {price} (fee {fee}, {reason})",
    "exit": "{side} {qty} {entry_price} -> {price}: PnL {pnl} ({reason}, fees {fee})",
    "liquidation": "{side} {qty} {entry_price} -> {price}: PnL {pnl} "
                   "(liquidation fee {liquidation_fee})",
    "funding": "{side} {qty}: rate {rate} at mark {mark}, paid {amount}",
    "paused": "{reason}",
    "daily_loss_cap": "{reason}",
    "feed_lost": "{reason}",
    "feed_recovered": "outage {outage_s} s",
    "price_suspect": "{reason}",
    "started": "source {source}, strategy {strategy}",
}


def iso_time(ts_ms: int) -> str:
    """ISO-8601 UTC with milliseconds, e.g. 2024-05-01T12:00:00.000Z."""
    moment = datetime.fromtimestamp(ts_ms / 1000, tz=UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def payload(notice: Notice, daemon: str) -> JSONObject:
    """The webhook body as a JSON object: Decimals as strings, enums as their values."""
    body: JSONObject = {"event": notice.event, "ts": notice.ts, "time": iso_time(notice.ts),
                        "symbol": notice.symbol, "daemon": daemon}
    fields = to_json(notice.fields)
    assert isinstance(fields, dict)
    for key, value in fields.items():
        body.setdefault(key, value)  # a field never overrides the envelope
    return body


class _Shown(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def telegram_text(notice: Notice, daemon: str) -> str:
    """A short readable message: title and symbol, the main fields, then when and where."""
    body = payload(notice, daemon)
    title = TITLES.get(notice.event, notice.event)
    head = f"{title} {notice.symbol}" if notice.symbol else title
    lines = [head]
    summary = SUMMARIES.get(notice.event)
    if summary:
        shown = _Shown({k: "-" if v is None else v for k, v in body.items()})
        lines.append(summary.format_map(shown))
    lines.append(f"{body['time']} · {daemon}")
    return "\n".join(lines)


def request_body(target: Target, notice: Notice, daemon: str) -> bytes:
    """What is POSTed to ``target`` (application/json either way)."""
    if target.kind == "telegram":
        return orjson.dumps({"chat_id": target.chat_id, "text": telegram_text(notice, daemon)})
    return orjson.dumps(payload(notice, daemon))


__all__ = ["SUMMARIES", "TITLES", "iso_time", "payload", "request_body", "telegram_text"]
