"""Logging: loguru to stderr (journald-aware), optional JSON lines and rotating file, no secrets.

- stderr, human format with the time by default. Under systemd (``JOURNAL_STREAM`` names our
  stderr) each line starts with an sd-daemon ``<N>`` priority instead, so ``journalctl -p``
  filters by level; journald adds its own timestamp.
- ``LA_LOG_JSON=true``: one JSON object per line (time, level, message, module, function,
  line, extra, and exception when there is one).
- ``LA_LOG_FILE``: an extra rotating file sink (size-based, a bounded number kept), for launchd
  where nobody rotates stderr; ``LA_LOG_STDERR=false`` then avoids writing everything twice.
- Every configured secret (``settings.secrets()``: API key, API secret, API token) is replaced
  by ``***`` in the message, the extra fields and exception text before any sink sees the
  record, so a sink added later (a test's capture, say) is covered too.
- The standard library's loggers (aiohttp) are routed into loguru at WARNING and above.
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, TextIO

import orjson
from loguru import logger

if TYPE_CHECKING:
    from loguru import Record

    from laptop_agents.config import Settings

REDACTED = "***"

# sd-daemon(3) priorities, so journald stores the right level for each line.
JOURNAL_PRIORITY = {
    "TRACE": 7,
    "DEBUG": 7,
    "INFO": 6,
    "SUCCESS": 6,
    "WARNING": 4,
    "ERROR": 3,
    "CRITICAL": 2,
}

# Keys this module stores in record["extra"] for its own formatting; never printed as extras.
_PRIVATE_PREFIX = "_la_"
_EXC_KEY = "_la_exception"

Style = Literal["human", "json", "journal", "journal-json"]


class SecretScrubber:
    """Replaces every secret value in a loguru record (a loguru patcher)."""

    def __init__(self, secrets: Iterable[str]) -> None:
        # Longest first, so a secret containing another is replaced whole.
        self._secrets = sorted({s for s in secrets if s}, key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return text

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, Mapping):
            return {self._value(k): self._value(v) for k, v in value.items()}
        if isinstance(value, list | tuple | set | frozenset):
            return [self._value(v) for v in value]
        if self._secrets and isinstance(value, bytes | bytearray):
            return self.scrub(bytes(value).decode("utf-8", "replace"))
        if self._secrets and not isinstance(value, int | float | bool | type(None)):
            shown = str(value)
            if any(secret in shown for secret in self._secrets):
                return self.scrub(shown)
        return value

    def __call__(self, record: Record) -> None:
        record["message"] = self.scrub(record["message"])
        extra = record["extra"]
        for key, value in list(extra.items()):
            extra[key] = self._value(value)
        exception = record["exception"]
        if exception is not None and exception.type is not None:
            # Sinks would format the traceback themselves, after this patcher, with the
            # secret in it; format it here instead, scrubbed, and hand sinks the text.
            text = "".join(
                traceback.format_exception(exception.type, exception.value, exception.traceback)
            )
            extra[_EXC_KEY] = self.scrub(text).rstrip("\n")
            record["exception"] = None


def render(record: Record, style: Style) -> str:
    """One log record as text (no trailing newline); a traceback adds lines."""
    level = record["level"].name
    extras = {k: v for k, v in record["extra"].items() if not k.startswith(_PRIVATE_PREFIX)}
    exception = record["extra"].get(_EXC_KEY)
    if style in ("json", "journal-json"):
        payload: dict[str, Any] = {
            "time": record["time"].isoformat(timespec="milliseconds"),
            "level": level,
            "message": record["message"],
            "module": record["name"],
            "function": record["function"],
            "line": record["line"],
            "extra": extras,
        }
        if exception:
            payload["exception"] = exception
        line = orjson.dumps(payload, default=str).decode()
        return f"<{JOURNAL_PRIORITY.get(level, 6)}>{line}" if style == "journal-json" else line
    suffix = "".join(f" {key}={value}" for key, value in extras.items())
    text = f"{record['name']}: {record['message']}{suffix}"
    if exception:
        text = f"{text}\n{exception}"
    if style == "journal":
        # journald splits on newlines; every line needs its priority or it becomes INFO.
        prefix = f"<{JOURNAL_PRIORITY.get(level, 6)}>"
        return "\n".join(f"{prefix}{part}" for part in text.split("\n"))
    stamp = record["time"].strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]
    return f"{stamp} {level:<8} {text}"


class _Formatter:
    """A loguru format function: renders the whole line itself, so no markup is parsed."""

    def __init__(self, style: Style) -> None:
        self.style = style
        self._key = f"{_PRIVATE_PREFIX}line_{style.replace('-', '_')}"

    def __call__(self, record: Record) -> str:
        record["extra"][self._key] = render(record, self.style)
        return "{extra[" + self._key + "]}\n"


class InterceptHandler(logging.Handler):
    """Routes standard-library log records (aiohttp, asyncio) into loguru."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            level: str | int = logger.level(record.levelname).name
        except ValueError:
            level = record.levelno
        # Name the stdlib logger ("aiohttp.client") rather than the logging module's frame.
        def origin(patched: Record) -> None:
            patched["name"] = record.name
            patched["function"] = record.funcName
            patched["line"] = record.lineno

        logger.patch(origin).opt(exception=record.exc_info).log(level, record.getMessage())


def stream_is_journal(stream: TextIO, environ: Mapping[str, str] | None = None) -> bool:
    """True when ``stream`` is the journald stream systemd connected (JOURNAL_STREAM=dev:ino).

    The variable is inherited by children whose stderr may be a pipe or a file, so the device
    and inode are compared with the stream's own, as sd_journal_stream_fd(3) recommends.
    """
    env = os.environ if environ is None else environ
    value = env.get("JOURNAL_STREAM", "")
    device, _, inode = value.partition(":")
    if not device.isdigit() or not inode.isdigit():
        return False
    try:
        info = os.fstat(stream.fileno())
    except (OSError, ValueError, AttributeError):
        return False
    return info.st_dev == int(device) and info.st_ino == int(inode)


def stderr_style(settings: Settings, stream: TextIO,
                 environ: Mapping[str, str] | None = None) -> Style:
    journal = stream_is_journal(stream, environ)
    if settings.log_json:
        return "journal-json" if journal else "json"
    return "journal" if journal else "human"


def logs_to_stderr(settings: Settings) -> bool:
    """Whether setup_logging() writes the log to stderr.

    Without a file sink stderr stays on whatever LA_LOG_STDERR says: silence helps nobody.
    """
    return settings.log_stderr or settings.log_file is None


def setup_logging(
    settings: Settings,
    *,
    stream: TextIO | None = None,
    environ: Mapping[str, str] | None = None,
) -> None:
    """Replace loguru's handlers with the configured sinks (idempotent).

    ``stream`` (default ``sys.stderr``) and ``environ`` (default ``os.environ``) are for tests.
    """
    out = sys.stderr if stream is None else stream
    logger.remove()
    logger.configure(patcher=SecretScrubber(settings.secrets()), extra={})
    if logs_to_stderr(settings):
        logger.add(
            out,
            level=settings.log_level,
            format=_Formatter(stderr_style(settings, out, environ)),
            colorize=False,
            backtrace=False,
            diagnose=False,  # variable values in tracebacks could hold secrets
        )
    if settings.log_file is not None:
        path = settings.log_file.expanduser()
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        logger.add(
            path,
            level=settings.log_level,
            format=_Formatter("json" if settings.log_json else "human"),
            rotation=settings.log_file_max_bytes,
            retention=settings.log_file_keep,
            enqueue=True,  # file writes happen on loguru's thread, not on the event loop
            colorize=False,
            backtrace=False,
            diagnose=False,
            encoding="utf-8",
        )
    logging.basicConfig(handlers=[InterceptHandler()], level=logging.WARNING, force=True)
