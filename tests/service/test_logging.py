"""Logging: journald priorities, JSON lines, the rotating file, and no secret in any sink."""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Iterator
from io import StringIO
from pathlib import Path
from typing import Any

import orjson
import pytest
from loguru import logger

from laptop_agents.config import Settings, load_settings
from laptop_agents.logging_setup import setup_logging, stream_is_journal

API_KEY = "key-AKIA1234567890"
API_SECRET = "sec-9f8e7d6c5b4a"
API_TOKEN = "tok-correct-horse-battery"
SECRETS = (API_KEY, API_SECRET, API_TOKEN)


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    root_handlers, root_level = logging.root.handlers[:], logging.root.level
    yield
    logger.remove()
    logger.configure(patcher=lambda record: None)
    logger.add(sys.stderr)
    logging.root.handlers[:] = root_handlers
    logging.root.setLevel(root_level)


def _settings(**overrides: Any) -> Settings:
    return load_settings(bitunix_api_key=API_KEY, bitunix_api_secret=API_SECRET,
                         api_token=API_TOKEN, **overrides)


def _log_everything_secret() -> None:
    logger.info("connecting with key {} and token {}", API_KEY, API_TOKEN)
    logger.bind(secret=API_SECRET, nested={"headers": {"Authorization": f"Bearer {API_TOKEN}"}},
                items=[API_KEY, 3]).warning("signed request")
    logger.info("kwargs land in extra", token=API_TOKEN)
    try:
        raise ValueError(f"login failed for {API_KEY} / {API_SECRET}")
    except ValueError:
        logger.exception("private socket login failed")
    logging.getLogger("aiohttp.client").warning("GET /x?token=%s failed", API_TOKEN)


def _assert_no_secret(text: str) -> None:
    for secret in SECRETS:
        assert secret not in text
    assert "***" in text


def test_human_format_never_shows_secrets() -> None:
    stream = StringIO()
    setup_logging(_settings(), stream=stream, environ={})
    _log_everything_secret()
    text = stream.getvalue()
    _assert_no_secret(text)
    lines = text.splitlines()
    assert "connecting with key *** and token ***" in lines[0]
    assert " INFO " in lines[0] and lines[0][:4].isdigit()  # starts with the date
    assert "secret=***" in text and "ValueError: login failed for *** / ***" in text
    assert "aiohttp.client: GET /x?token=*** failed" in text  # stdlib routed, named


def test_json_lines_never_show_secrets() -> None:
    stream = StringIO()
    setup_logging(_settings(log_json=True), stream=stream, environ={})
    _log_everything_secret()
    text = stream.getvalue()
    _assert_no_secret(text)
    records = [orjson.loads(line) for line in text.splitlines()]
    assert len(records) == 5  # one object per line, traceback included
    first = records[0]
    assert {"time", "level", "message", "module", "extra"} <= first.keys()
    assert first["level"] == "INFO"
    assert first["module"] == __name__
    assert records[1]["extra"]["secret"] == "***"
    assert records[1]["extra"]["nested"] == {"headers": {"Authorization": "Bearer ***"}}
    assert records[1]["extra"]["items"] == ["***", 3]
    assert records[2]["extra"] == {"token": "***"}
    assert records[3]["level"] == "ERROR"
    assert "ValueError: login failed for *** / ***" in records[3]["exception"]
    assert records[4]["module"] == "aiohttp.client"


def test_sinks_added_later_are_scrubbed_too() -> None:
    setup_logging(_settings(), stream=StringIO(), environ={})
    captured: list[str] = []
    logger.add(captured.append, format="{message} {extra}")
    logger.bind(token=API_TOKEN).info("token is {}", API_TOKEN)
    assert captured and all(API_TOKEN not in line for line in captured)


def test_level_filter_and_stdlib_threshold() -> None:
    stream = StringIO()
    setup_logging(load_settings(log_level="WARNING"), stream=stream, environ={})
    logger.info("hidden")
    logger.warning("shown")
    logging.getLogger("aiohttp.access").info("access line")  # below WARNING: dropped
    text = stream.getvalue()
    assert "shown" in text and "hidden" not in text and "access line" not in text


def test_journald_priorities(tmp_path: Path) -> None:
    path = tmp_path / "journal-stream"
    with path.open("w+") as stream:
        info = os.fstat(stream.fileno())
        environ = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        assert stream_is_journal(stream, environ)
        setup_logging(load_settings(log_level="DEBUG"), stream=stream, environ=environ)
        logger.debug("d")
        logger.info("i")
        logger.success("s")
        logger.warning("w")
        logger.error("e\nsecond line")
        logger.critical("c")
        stream.flush()
    lines = path.read_text().splitlines()
    assert [line[:3] for line in lines] == ["<7>", "<6>", "<6>", "<4>", "<3>", "<3>", "<2>"]
    assert lines[4].endswith(": e") and lines[5] == "<3>second line"
    assert not lines[0][3:4].isdigit()  # journald stamps the time itself


def test_journal_stream_of_another_file_is_ignored(tmp_path: Path) -> None:
    other = tmp_path / "other"
    other.write_text("")
    info = os.stat(other)
    stream = StringIO()
    environ = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
    assert not stream_is_journal(stream, environ)
    setup_logging(load_settings(), stream=stream, environ=environ)
    logger.info("plain")
    assert not stream.getvalue().startswith("<")


def test_journal_json(tmp_path: Path) -> None:
    path = tmp_path / "journal-stream"
    with path.open("w+") as stream:
        info = os.fstat(stream.fileno())
        environ = {"JOURNAL_STREAM": f"{info.st_dev}:{info.st_ino}"}
        setup_logging(load_settings(log_json=True), stream=stream, environ=environ)
        logger.warning("w")
        stream.flush()
    line = path.read_text().strip()
    assert line.startswith("<4>{")
    assert orjson.loads(line[3:])["level"] == "WARNING"


def test_rotating_file_sink_scrubs_and_rotates(tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "laptop-agents.log"
    settings = _settings(log_file=log_file, log_file_max_bytes=10_000, log_file_keep=2,
                         log_stderr=False)
    stream = StringIO()
    setup_logging(settings, stream=stream)
    for number in range(120):
        logger.info("line {} token {} {}", number, API_TOKEN, "x" * 300)
    logger.complete()
    logger.remove()  # joins the enqueue thread, so everything is on disk
    files = sorted((tmp_path / "logs").iterdir())
    assert log_file in files
    rotated = [f for f in files if f != log_file]
    assert 1 <= len(rotated) <= 2  # rotated by size, only LA_LOG_FILE_KEEP kept
    content = "".join(f.read_text() for f in files)
    assert API_TOKEN not in content and "token ***" in content
    assert all(f.stat().st_size < 12_000 for f in files)
    assert stream.getvalue() == ""  # LA_LOG_STDERR=false


def test_file_sink_json(tmp_path: Path) -> None:
    log_file = tmp_path / "la.log"
    setup_logging(_settings(log_file=log_file, log_json=True), stream=StringIO())
    logger.bind(key=API_KEY).info("hello")
    logger.remove()
    record = orjson.loads(log_file.read_text().splitlines()[0])
    assert record["message"] == "hello" and record["extra"] == {"key": "***"}


def test_no_stderr_without_file_still_logs() -> None:
    stream = StringIO()
    setup_logging(load_settings(log_stderr=False), stream=stream, environ={})
    logger.warning("not silenced")
    assert "not silenced" in stream.getvalue()


def test_setup_is_idempotent() -> None:
    stream = StringIO()
    setup_logging(load_settings(), stream=stream, environ={})
    setup_logging(load_settings(), stream=stream, environ={})
    logger.info("once")
    assert stream.getvalue().count("once") == 1
