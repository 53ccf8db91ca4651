"""Capture what the code logs (loguru) inside a block."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from loguru import logger


@contextmanager
def captured_logs(level: str = "DEBUG") -> Iterator[list[tuple[str, str]]]:
    """(level name, message) of every loguru record emitted inside the block."""
    records: list[tuple[str, str]] = []
    sink = logger.add(lambda m: records.append((m.record["level"].name, m.record["message"])),
                      level=level)
    try:
        yield records
    finally:
        logger.remove(sink)
