"""The bearer token that state-changing API requests must carry.

`LA_API_TOKEN` wins when set. Otherwise the daemon creates a random token on its first start
and keeps it in `<data dir>/api-token` (mode 0600, the data directory itself is 0700), so a
plain `make run` can be paused from its page or with `laptop-agents pause` by the user who
runs it, while other local users and arbitrary web pages still cannot change its state.
A non-loopback bind still needs an explicit LA_API_TOKEN (config.py refuses to start without),
and a set LA_API_TOKEN must be at least 16 characters (config.py: an empty one is an error,
never "no token").
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from pydantic import SecretStr

from laptop_agents.config import Settings

TOKEN_FILE_NAME = "api-token"


def token_file(settings: Settings) -> Path:
    return settings.data_dir / TOKEN_FILE_NAME


def read_token_file(settings: Settings) -> str | None:
    """The stored token, or None when there is no readable, non-empty token file."""
    try:
        token = token_file(settings).read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return token or None


def _write_token_file(path: Path, token: str) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    descriptor = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.replace(temporary, path)  # atomic: a reader never sees half a token


def ensure_api_token(settings: Settings) -> tuple[Settings, Path | None]:
    """Settings whose api_token is set, and the file it came from (None if LA_API_TOKEN)."""
    if settings.api_token is not None:  # validated non-empty by config.py
        return settings, None
    path = token_file(settings)
    token = read_token_file(settings)
    if token is None:
        token = secrets.token_urlsafe(32)
        _write_token_file(path, token)
    return settings.model_copy(update={"api_token": SecretStr(token)}), path


def client_token(settings: Settings) -> str | None:
    """What the CLI client sends: LA_API_TOKEN, else the token file of the local daemon."""
    if settings.api_token is not None:
        return settings.api_token.get_secret_value()
    return read_token_file(settings)
