"""What the settings model (config.py) builds on: the environment prefix, the real exchange's
URLs, where the data lives by default, and how a validation error reads in one line."""

from __future__ import annotations

import ipaddress
import os
from pathlib import Path

from pydantic import ValidationError

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



__all__ = ["ENV_PREFIX", "MIN_API_TOKEN_CHARS", "REAL_PRIVATE_WS_URL", "REAL_REST_URL",
           "REAL_WS_URL", "default_data_dir", "format_validation_error", "is_loopback_host"]
