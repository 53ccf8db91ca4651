"""`laptop-agents status | pause | resume`: talk to a running daemon's control API.

Prints the JSON answer (status) or one short line (pause/resume) and returns the exit code:
0 on success, 1 when the daemon is unreachable or answers an error (the error on one line on
stderr). The token comes from LA_API_TOKEN (settings.api_token).
"""

from __future__ import annotations

import asyncio
import sys
from typing import Any

import aiohttp
import orjson

from laptop_agents.api.token import client_token
from laptop_agents.config import Settings

TIMEOUT_S = 5.0


class ClientError(Exception):
    """One line explaining why the request failed."""


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
                  body: dict[str, Any] | None = None) -> Any:
    base = (url or default_url(settings)).rstrip("/")
    timeout = aiohttp.ClientTimeout(total=TIMEOUT_S)
    data = orjson.dumps(body) if body is not None else None
    headers = _headers(settings)
    if data is not None:
        headers["Content-Type"] = "application/json"
    try:
        async with aiohttp.ClientSession(timeout=timeout) as session, session.request(
            method, base + path, data=data, headers=headers
        ) as response:
            raw = await response.read()
            status = response.status
    except (aiohttp.ClientError, TimeoutError, OSError) as error:
        raise ClientError(f"cannot reach the daemon at {base}: {error or type(error).__name__}"
                          ) from None
    try:
        payload = orjson.loads(raw) if raw else None
    except orjson.JSONDecodeError:
        payload = None
    if status >= 400:
        message = payload.get("error") if isinstance(payload, dict) else None
        raise ClientError(f"{method} {path} failed: HTTP {status}: {message or raw[:200]!r}")
    return payload


def _run(coro: Any) -> tuple[int, Any]:
    try:
        return 0, asyncio.run(coro)
    except ClientError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1, None


def _gate_line(status: Any) -> str:
    gate = status.get("gate", {}) if isinstance(status, dict) else {}
    reasons = gate.get("reasons") or []
    allowed = gate.get("trading_allowed")
    state = "trading allowed" if allowed else "trading paused"
    return f"{state}; reasons: {', '.join(reasons) if reasons else 'none'}"


def cli_status(settings: Settings, url: str | None) -> int:
    code, status = _run(request(settings, url, "GET", "/status"))
    if code == 0:
        print(orjson.dumps(status, option=orjson.OPT_INDENT_2).decode())
    return code


def cli_pause(settings: Settings, url: str | None, reason: str | None) -> int:
    body = {"reason": reason} if reason else {}
    code, status = _run(request(settings, url, "POST", "/pause", body))
    if code == 0:
        print(f"paused: {_gate_line(status)}")
    return code


def cli_resume(settings: Settings, url: str | None) -> int:
    code, status = _run(request(settings, url, "POST", "/resume"))
    if code == 0:
        print(f"resumed: {_gate_line(status)}")
    return code
