"""The data directory (journal and state): created on demand, private to the service user.

Its location is ``LA_DATA_DIR``; the default (config.default_data_dir) is systemd's
StateDirectory when the daemon runs under systemd, else ``$XDG_STATE_HOME/laptop-agents``
(``~/.local/state/laptop-agents``). The journal holds the paper account's history, so the
directory is 0700: other local users have no business reading it.
"""

from __future__ import annotations

import stat
from pathlib import Path

from loguru import logger

from laptop_agents.errors import ConfigError

DATA_DIR_MODE = 0o700


def ensure_data_dir(path: Path) -> Path:
    """Create ``path`` (and its parents) with mode 0700, tighten it if looser; return it.

    Raises ConfigError (exit 78, no restart loop) when it cannot be created or is not a
    directory: a retry would fail the same way.
    """
    path = path.expanduser()
    try:
        path.mkdir(mode=DATA_DIR_MODE, parents=True, exist_ok=True)
    except FileExistsError:
        raise ConfigError(
            f"invalid setting LA_DATA_DIR: {path} exists and is not a directory"
        ) from None
    except OSError as error:
        raise ConfigError(
            f"invalid setting LA_DATA_DIR: cannot create {path}: {error.strerror or error}"
        ) from None
    if not path.is_dir():
        raise ConfigError(f"invalid setting LA_DATA_DIR: {path} is not a directory")
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        try:
            path.chmod(DATA_DIR_MODE)
        except OSError as error:
            # Someone else's directory we may still write to: work, but say so.
            logger.warning("data directory {} is mode {:o} and cannot be tightened: {}",
                           path, mode, error)
        else:
            logger.info("tightened data directory {} from mode {:o} to 700", path, mode)
    return path
