"""What the settings model (config.py) builds on: the environment prefix, the real exchange's
URLs, where the data lives by default, and how a validation error reads in one line."""

from __future__ import annotations

import hashlib
import ipaddress
import json
import os
from collections.abc import Collection
from pathlib import Path

from pydantic import SecretStr, ValidationError

ENV_PREFIX = "LA_"

REAL_WS_URL = "wss://fapi.bitunix.com/public/"
REAL_PRIVATE_WS_URL = "wss://fapi.bitunix.com/private/"
REAL_REST_URL = "https://fapi.bitunix.com"

# A bearer token shorter than this is guessable by anyone who can reach the API port.
MIN_API_TOKEN_CHARS = 16


def default_data_dir() -> Path:
    """systemd's StateDirectory when set, else the XDG state directory of the user."""
    state_directory = os.environ.get("STATE_DIRECTORY")
    if state_directory:
        return Path(state_directory.split(":")[0])
    xdg = os.environ.get("XDG_STATE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".local" / "state"
    return base / "laptop-agents"


def is_loopback_host(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def format_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    location = [str(part) for part in first.get("loc", ()) if part != "__root__"]
    message = first.get("msg", "invalid value").removeprefix("Value error, ")
    if location:
        name = ENV_PREFIX + location[0].upper()
        got = first.get("input")
        hidden = isinstance(got, dict) or any(w in name for w in ("SECRET", "TOKEN", "WEBHOOK"))
        shown = "" if hidden else f" (got {got!r})"
        return f"invalid setting {name}: {message}{shown}"
    return f"invalid settings: {message}"



# --- the bodies of Settings' checks (config.py keeps only the declarations) -----------------
def symbol_list(value: str, known: Collection[str] | None = None) -> str:
    """Comma-separated distinct symbols, upper case; ``known``: the only ones allowed."""
    names = [name.strip().upper() for name in value.split(",") if name.strip()]
    if known is not None:
        unknown = [name for name in names if name not in known]
        if unknown:
            raise ValueError(f"{', '.join(unknown)} not simulated; known: "
                             f"{', '.join(list(known)[:12])}, … ({len(known)} in all)")
    if any(not name.isalnum() for name in names) or len(set(names)) != len(names):
        raise ValueError("must be distinct symbols separated by commas, e.g. BTCUSDT,ETHUSDT")
    return ",".join(names)


def json_object(value: str) -> str:
    """Only the shape: the strategy's own Params model checks the values at start-up."""
    try:
        parsed = json.loads(value)
    except ValueError as error:
        raise ValueError(f"is not JSON: {error}") from None
    if not isinstance(parsed, dict):
        raise ValueError('must be a JSON object, e.g. {"fast": 9}')
    return value


def strong_token(value: SecretStr | None) -> SecretStr | None:
    """Unset means "generate one into the data directory" (api/token.py); set-but-empty is
    almost always a broken env file, and must not silently become "no protection"."""
    if value is None:
        return None
    # HTTP strips surrounding whitespace from header values, so it can never be matched.
    token = value.get_secret_value().strip()
    if not token:
        raise ValueError(
            "is set but empty; unset it to have one generated into the data directory, "
            f"or set at least {MIN_API_TOKEN_CHARS} characters"
        )
    if len(token) < MIN_API_TOKEN_CHARS:
        raise ValueError(
            f"must be at least {MIN_API_TOKEN_CHARS} characters, e.g. the output of "
            "python3 -c 'import secrets; print(secrets.token_urlsafe(32))'"
        )
    return SecretStr(token)


def url_tag(source: str, ws_url: str, rest_url: str) -> str | None:
    """For ``source=bitunix`` pointed at other market URLs than the exchange's (a standalone
    simulator, a proxy): a short hash of those URLs, which names its own journal so that such
    a market never writes the live account's (session/wiring.py). None for the real exchange
    and for ``source=sim`` (whose journal is its own anyway)."""
    if source != "bitunix" or (ws_url == REAL_WS_URL and rest_url == REAL_REST_URL):
        return None
    return hashlib.sha256(f"{ws_url}\n{rest_url}".encode()).hexdigest()[:8]


__all__ = ["ENV_PREFIX", "MIN_API_TOKEN_CHARS", "REAL_PRIVATE_WS_URL", "REAL_REST_URL",
           "REAL_WS_URL", "default_data_dir", "format_validation_error", "is_loopback_host",
           "json_object", "strong_token", "symbol_list", "url_tag"]
