"""The data directory (journal and state): created on demand, private to the service user.

Its location is ``LA_DATA_DIR``; the default (config.default_data_dir) is systemd's
StateDirectory when the daemon runs under systemd, else ``$XDG_STATE_HOME/laptop-agents``
(``~/.local/state/laptop-agents``). The journal holds the paper account's history, so the
directory is 0700: other local users have no business reading it.

One daemon per data directory: :func:`lock_data_dir` takes an exclusive ``flock`` on
``<data dir>/daemon.lock`` and writes the holder's PID into it; a second daemon gets
:class:`~laptop_agents.errors.DataDirLockedError` (exit 75) naming that PID. The lock covers the
whole directory, so the simulator's and the exchange's journals (two files in it) cannot be
run side by side from one directory either. The kernel drops the lock when the process ends,
however it ends, so a crash never leaves a stale lock behind (the file itself stays).
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from pathlib import Path
from types import TracebackType

from loguru import logger

from laptop_agents.errors import ConfigError, DataDirLockedError

DATA_DIR_MODE = 0o700
LOCK_FILE_NAME = "daemon.lock"


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


class DataDirLock:
    """The held lock of one data directory; ``release()`` (or leaving the ``with``) frees it."""

    def __init__(self, path: Path, descriptor: int) -> None:
        self.path = path
        self._descriptor: int | None = descriptor

    def release(self) -> None:
        descriptor, self._descriptor = self._descriptor, None
        if descriptor is None:
            return
        # Empty first, so a reader never takes our PID for a live holder; closing unlocks.
        with contextlib.suppress(OSError):
            os.ftruncate(descriptor, 0)
        os.close(descriptor)

    def __enter__(self) -> DataDirLock:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.release()


def _read_pid(descriptor: int) -> int:
    """The PID written in the lock file, 0 when there is none (yet)."""
    try:
        text = os.pread(descriptor, 32, 0).decode("ascii", "replace").strip()
    except OSError:
        return 0
    return int(text) if text.isdigit() else 0


def lock_data_dir(path: Path) -> DataDirLock:
    """Take the data directory's exclusive lock for this process and record its PID.

    Raises DataDirLockedError (exit 75) when another process holds it, ConfigError (78) when
    the lock file cannot be opened or locked at all (a read-only or lock-less file system).
    """
    lock_path = path.expanduser() / LOCK_FILE_NAME
    try:
        descriptor = os.open(lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as error:
        raise ConfigError(
            f"invalid setting LA_DATA_DIR: cannot open {lock_path}: {error.strerror or error}"
        ) from None
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        pid = _read_pid(descriptor)
        os.close(descriptor)
        holder = f"pid {pid}" if pid else "a process that has not written its pid yet"
        raise DataDirLockedError(
            f"data directory {path} is in use by another laptop-agents daemon ({holder}); "
            "stop it first, or give this one its own LA_DATA_DIR"
        ) from None
    except OSError as error:
        os.close(descriptor)
        raise ConfigError(
            f"invalid setting LA_DATA_DIR: cannot lock {lock_path}: {error.strerror or error}"
        ) from None
    os.ftruncate(descriptor, 0)
    os.pwrite(descriptor, f"{os.getpid()}\n".encode("ascii"), 0)
    return DataDirLock(lock_path, descriptor)


def holder_pid(path: Path) -> int | None:
    """The PID of the process holding ``path``'s lock; None when no process holds it.

    0 means it is held by a process that has not yet written its PID (the instant between
    locking and writing). For commands that must not run beside a daemon (e.g. a reset).
    """
    lock_path = path.expanduser() / LOCK_FILE_NAME
    try:
        descriptor = os.open(lock_path, os.O_RDONLY | os.O_CLOEXEC)
    except FileNotFoundError:
        return None
    try:
        try:
            # A shared lock succeeds only when nobody holds the exclusive one. It is held just
            # for this check (closed below): a daemon starting in that instant would be
            # turned away with exit 75, which a retry (or the service manager) resolves.
            fcntl.flock(descriptor, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            return _read_pid(descriptor)
        return None
    finally:
        os.close(descriptor)
