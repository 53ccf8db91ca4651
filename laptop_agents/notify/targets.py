"""LA_WEBHOOK_URL: where notifications go, shown in logs without their secrets.

The setting holds one URL, several separated by commas, or a JSON list of URLs (for a URL that
contains a comma). A URL is a Telegram Bot API ``sendMessage`` URL when its host is
``api.telegram.org`` or its path has the shape ``/bot<token>/sendMessage`` (so a local
receiver can stand in for Telegram); its ``chat_id`` query parameter is then required.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Literal
from urllib.parse import parse_qs, urlsplit, urlunsplit

TELEGRAM_HOST = "api.telegram.org"
_TELEGRAM_PATH = re.compile(r"^/bot(?P<token>[^/]+)/sendMessage/?$")
# Parts of a URL at least this long are scrubbed from every log line (shorter ones, such as a
# chat id, would turn every matching number in the log into ***).
MIN_SECRET_CHARS = 8
# A path segment this long (or with a colon, as a bot token has) is a token, not "sendMessage".
LONG_SEGMENT_CHARS = 16


@dataclass(frozen=True, slots=True)
class Target:
    """One receiver: where to POST, in which form, and how the logs name it."""

    url: str  # the URL posted to (a Telegram URL without its query)
    kind: Literal["json", "telegram"]
    redacted: str  # scheme://host[:port]/… : no user, path or query
    chat_id: int | str | None = None  # Telegram only


def redact(url: str) -> str:
    """``scheme://host[:port]/…``: nothing of the path, the query or the user part."""
    parts = urlsplit(url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    shown = f"{host}:{port}" if port is not None else host
    return f"{parts.scheme or '?'}://{shown}/…"


def _is_telegram(url: str) -> bool:
    parts = urlsplit(url)
    return parts.hostname == TELEGRAM_HOST or bool(_TELEGRAM_PATH.match(parts.path))


def _chat_id(value: str) -> int | str:
    try:
        return int(value)
    except ValueError:
        return value  # "@channelname"


def parse_target(url: str) -> Target:
    """One URL as a target; ValueError (naming only the redacted form) when it cannot be one."""
    url = url.strip()
    parts = urlsplit(url)
    shown = redact(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{shown} is not an http:// or https:// URL with a host")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError:
        raise ValueError(f"{shown} has an invalid port") from None
    if not _is_telegram(url):
        return Target(url=url, kind="json", redacted=shown)
    if not _TELEGRAM_PATH.match(parts.path):
        raise ValueError(f"{shown}: a Telegram URL must end in /bot<token>/sendMessage")
    chat = parse_qs(parts.query).get("chat_id")
    if not chat or not chat[0].strip():
        raise ValueError(f"{shown}: a Telegram URL needs ?chat_id=<id>")
    bare = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
    return Target(url=bare, kind="telegram", redacted=shown, chat_id=_chat_id(chat[0].strip()))


def split_urls(text: str) -> list[str]:
    """The URLs of the setting: a JSON list, or comma-separated."""
    text = text.strip()
    if text.startswith("["):
        try:
            parsed = json.loads(text)
        except ValueError:
            raise ValueError("looks like a JSON list but is not valid JSON") from None
        if not isinstance(parsed, list) or not all(isinstance(u, str) for u in parsed):
            raise ValueError("must be a JSON list of URL strings")
        urls = [u.strip() for u in parsed]
    else:
        urls = [u.strip() for u in text.split(",")]
    return [u for u in urls if u]


def parse_targets(text: str | None) -> list[Target]:
    """Every target of LA_WEBHOOK_URL (none when unset or blank)."""
    if text is None:
        return []
    return [parse_target(url) for url in split_urls(text)]


def url_secrets(text: str | None) -> list[str]:
    """What of the setting must never reach a log: each whole URL, its path, its query, the
    user part, long path segments and query values, and a Telegram bot token."""
    if text is None:
        return []
    try:
        urls = split_urls(text)
    except ValueError:
        return [text]
    found: list[str] = []
    for url in urls:
        parts = urlsplit(url)
        found += [url, parts.path, parts.query, parts.netloc.rpartition("@")[0]]
        found += [s for s in parts.path.split("/") if len(s) >= LONG_SEGMENT_CHARS or ":" in s]
        found += [v for values in parse_qs(parts.query).values() for v in values]
        telegram = _TELEGRAM_PATH.match(parts.path)
        if telegram:
            found.append(telegram["token"])
    return sorted({s for s in found if len(s) >= MIN_SECRET_CHARS}, key=len, reverse=True)


__all__ = ["TELEGRAM_HOST", "Target", "parse_target", "parse_targets", "redact", "split_urls",
           "url_secrets"]
