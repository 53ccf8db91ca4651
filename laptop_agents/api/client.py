"""The control API's client: one request to a running daemon, its answer decoded.

The `laptop-agents status | positions | trades | candles | equity | flatten | pause | resume`
commands (cli_daemon.py) print what it returns; a failure is a :class:`ClientError` with one
line saying why, :class:`DaemonUnreachable` when nothing answers. The token comes from
LA_API_TOKEN (settings.api_token) or the generated token file. Query parameters are passed
through as given (``symbol`` only when the caller has one).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import aiohttp
import orjson

from laptop_agents.api.token import client_token
from laptop_agents.config import Settings

TIMEOUT_S = 5.0


class ClientError(Exception):
    """One line explaining why the request failed."""


class DaemonUnreachable(ClientError):
    """No daemon answers at the URL (refused, timed out, unknown host)."""

    def __init__(self, base: str, why: str) -> None:
        super().__init__(f"no daemon answering at {base} ({why}); start it with "
                         "'laptop-agents run'")
        self.base = base


def _why(error: BaseException) -> str:
    """The reason in a few words: 'connection refused', 'timed out after 5 s', ..."""
    if isinstance(error, TimeoutError):
        return f"timed out after {TIMEOUT_S:g} s"
    cause = getattr(error, "os_error", None) or error
    if isinstance(cause, ConnectionRefusedError):
        return "connection refused"
    text = str(getattr(cause, "strerror", None) or cause or type(error).__name__)
    return text.lower()


def default_url(settings: Settings) -> str:
    host = settings.api_host
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"  # IPv6 literal
    if host in ("0.0.0.0", "[::]"):
        host = "127.0.0.1"  # bound to every interface: talk to it over loopback
    return f"http://{host}:{settings.api_port}"


def _headers(settings: Settings) -> dict[str, str]:
    token = client_token(settings)
    return {"Authorization": f"Bearer {token}"} if token else {}


async def request(settings: Settings, url: str | None, method: str, path: str,
                  body: dict[str, Any] | None = None,
                  params: Mapping[str, str | int] | None = None) -> Any:
    base = (url or default_url(settings)).rstrip("/")
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    data = orjson.dumps(body) if body is not None else None
    headers = _headers(settings)
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.request(
            method, base + path, data=data, headers=headers,
            params={k: str(v) for k, v in (params or {}).items()}
        ) as response:
            raw = await response.read()
            status = response.status
    except (aiohttp.ClientConnectionError, TimeoutError, OSError) as error:
        raise DaemonUnreachable(base, _why(error)) from None
    except aiohttp.ClientError as error:
        raise ClientError(f"{method} {path} failed: {error or type(error).__name__}") from None
    try:
        payload = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        payload = None
    if status >= 400:
        message = payload.get("error") if isinstance(payload, dict) else None
        raise ClientError(f"{method} {path} failed: HTTP {status}: {message or raw[:200]!r}")
    return payload


def call(settings: Settings, url: str | None, method: str, path: str,
         body: dict[str, Any] | None = None,
         params: Mapping[str, str | int] | None = None) -> Any:
    """:func:`request` from synchronous code (the CLI)."""
    return asyncio.run(request(settings, url, method, path, body, params))


def gate_line(status: Any) -> str:
    """One line about the trading gate of a status answer."""
    gate = status.get("gate", {}) if isinstance(status, dict) else {}
    reasons = gate.get("reasons") or []
    allowed = gate.get("trading_allowed")
    state = "trading allowed" if allowed else "trading paused"
    return f"{state}; reasons: {', '.join(reasons) if reasons else 'none'}"
