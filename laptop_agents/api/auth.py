"""Who may do what: bearer token, Host (DNS-rebinding) and Origin (cross-site) checks.

Policy (docs/api.md, "Security model"):

* State-changing endpoints (every POST) need ``Authorization: Bearer <LA_API_TOKEN>``. With no
  token configured they are refused (403): a daemon must be given a token before anyone, even
  a local process or a browser tab, can pause it or close its position.
* Reads are open on loopback unless ``LA_API_READ_REQUIRES_TOKEN=true``.
* When bound to loopback, the Host header must name a loopback host, so a DNS-rebinding page
  (evil.example resolving to 127.0.0.1) is refused before any handler runs.
* A request carrying an Origin header (browsers add it to cross-site requests and WebSocket
  handshakes) must come from the API's own origin.
"""

from __future__ import annotations

import hmac
from typing import Any

from aiohttp import web
from yarl import URL

from laptop_agents.config import Settings, is_loopback_host

NO_TOKEN_MESSAGE = (
    "state-changing endpoints are disabled because no API token is configured: "
    "set LA_API_TOKEN (e.g. LA_API_TOKEN=$(openssl rand -hex 32)) and restart the daemon"
)


class ApiError(Exception):
    """An error answered as ``{"error": message}`` with this status (see the middleware)."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.headers = headers or {}


def bearer_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip()


def token_matches(settings: Settings, presented: str | None) -> bool:
    if settings.api_token is None or presented is None:
        return False
    expected = settings.api_token.get_secret_value().encode()
    return hmac.compare_digest(presented.encode(), expected)


def require_token(settings: Settings, request: web.Request, *, write: bool) -> None:
    if settings.api_token is None or not settings.api_token.get_secret_value():
        if write:
            raise ApiError(403, NO_TOKEN_MESSAGE)
        raise ApiError(
            403, "reads require a token (LA_API_READ_REQUIRES_TOKEN) but LA_API_TOKEN is not set"
        )
    presented = bearer_token(request)
    if presented is None:
        raise ApiError(
            401, "missing bearer token: send 'Authorization: Bearer <LA_API_TOKEN>'",
            {"WWW-Authenticate": 'Bearer realm="laptop-agents"'},
        )
    if not token_matches(settings, presented):
        raise ApiError(
            401, "invalid bearer token",
            {"WWW-Authenticate": 'Bearer realm="laptop-agents", error="invalid_token"'},
        )


def allowed_hosts(settings: Settings) -> frozenset[str] | None:
    """Host names accepted in the Host header, or None when any is (non-loopback bind)."""
    if not is_loopback_host(settings.api_host):
        return None
    return frozenset({"localhost", "127.0.0.1", "::1", settings.api_host.strip("[]").lower()})


def check_host(request: web.Request, hosts: frozenset[str] | None) -> None:
    if hosts is None:
        return
    raw = request.headers.get("Host")
    if raw is None:
        return  # HTTP/1.0 without Host: no browser sends that
    try:
        name = (URL(f"http://{raw}").host or "").strip("[]").lower()
    except ValueError:
        name = ""
    if name in hosts or name.endswith(".localhost"):
        return
    raise ApiError(403, f"Host {raw!r} is not allowed: the API answers loopback names only")


def same_origin(request: web.Request) -> bool:
    """True when there is no Origin header or it names this very server."""
    origin = request.headers.get("Origin")
    if origin is None:
        return True
    try:
        url = URL(origin)
    except ValueError:
        return False
    if url.scheme not in ("http", "https") or not url.host:
        return False  # includes "null" (sandboxed frames, file://)
    host = request.headers.get("Host", "")
    try:
        own = URL(f"{request.scheme}://{host}")
    except ValueError:
        return False
    return (url.scheme, (url.host or "").lower(), url.port) == (
        own.scheme, (own.host or "").lower(), own.port,
    )


def check_origin(request: web.Request) -> None:
    if not same_origin(request):
        raise ApiError(
            403, f"cross-origin request refused (Origin {request.headers.get('Origin')!r})"
        )


def describe(settings: Settings) -> dict[str, Any]:
    """The security settings, for logs and docs (no secret values)."""
    return {
        "token_configured": settings.api_token is not None,
        "read_requires_token": settings.api_read_requires_token,
        "host_check": allowed_hosts(settings) is not None,
    }
