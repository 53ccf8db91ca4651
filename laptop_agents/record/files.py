"""Recording files: framing, compression, rotation, retention, and reading them back.

A recording is one or more segment files, ``<source>-<symbol>-<start>.rec`` then
``<...>.1.rec``, ``<...>.2.rec``: a new one begins past ``LA_RECORD_SEGMENT_MB`` or
``LA_RECORD_SEGMENT_HOURS``, and only the newest ``LA_RECORD_KEEP`` files of the directory are
kept. Each file is a series of gzip members (one per flush, so a crash loses at most the last
second); decompressed, it is ``MAGIC`` and then frames: a 4-byte big-endian length and that
many bytes of msgpack. The first frame is the header (a map); the last is END, or NEXT naming
the following segment. docs/replay.md has the layout and its size per hour.
"""

from __future__ import annotations

import gzip
import struct
import time
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from laptop_agents.record.codec import END, NEXT, Record, RecordingError, decode_record

MAGIC = b"LAREC\x01\n"
FORMAT_VERSION = 1
_LENGTH = struct.Struct(">I")
_encoder = msgspec.msgpack.Encoder()


def frames(values: list[Any]) -> bytes:
    parts: list[bytes] = []
    for value in values:
        payload = _encoder.encode(value)
        parts.append(_LENGTH.pack(len(payload)))
        parts.append(payload)
    return b"".join(parts)


def segment_name(stem: str, index: int) -> str:
    return f"{stem}.rec" if index == 0 else f"{stem}.{index}.rec"


class SegmentWriter:
    """Appends encoded records to the current segment; rotates and prunes. Runs in a thread
    (the recorder's flush), never on the event loop."""

    def __init__(self, directory: Path, stem: str, header: dict[str, Any], *,
                 max_bytes: int, max_seconds: float, keep: int) -> None:
        self.directory = directory
        self.stem = stem
        self.header = header
        self.max_bytes = max_bytes
        self.max_seconds = max_seconds
        self.keep = keep
        self.index = 0
        self.path = directory / segment_name(stem, 0)
        self.first = self.path
        self._opened = 0.0
        self._size = 0

    def open(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        header = dict(self.header, segment=self.index)
        if self.index:
            header["journal"] = None  # the state at the start is segment 0's
        self._opened = time.monotonic()
        self._size = 0
        self._append(MAGIC + frames([header]))
        self._prune()

    def _append(self, data: bytes) -> None:
        member = gzip.compress(data, compresslevel=6)
        with self.path.open("ab") as out:
            out.write(member)
        self._size += len(member)

    def write(self, records: list[list[object]]) -> None:
        if records:
            self._append(frames(records))
        if self._size >= self.max_bytes or time.monotonic() - self._opened >= self.max_seconds:
            self.index += 1
            following = self.directory / segment_name(self.stem, self.index)
            self._append(frames([[NEXT, following.name]]))
            self.path = following
            self.open()

    def close(self, records: list[list[object]]) -> None:
        self._append(frames([*records, [END]]))

    def _prune(self) -> None:
        files = sorted(self.directory.glob("*.rec"), key=lambda p: (p.stat().st_mtime, p.name))
        for old in files[:max(0, len(files) - self.keep)]:
            if old != self.path:
                old.unlink(missing_ok=True)


@dataclass
class Recording:
    header: dict[str, Any]
    records: list[Record] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)


def _frames_of(path: Path) -> list[Any]:
    try:
        data = gzip.decompress(path.read_bytes())
    except FileNotFoundError:
        raise RecordingError(f"{path}: no such recording") from None
    except (EOFError, OSError, zlib.error) as error:
        raise RecordingError(f"{path}: truncated or corrupt ({error})") from None
    if not data.startswith(MAGIC):
        raise RecordingError(f"{path}: not a laptop-agents recording")
    values: list[Any] = []
    at, end = len(MAGIC), len(data)
    while at < end:
        if at + 4 > end:
            raise RecordingError(f"{path}: truncated inside a record")
        (length,) = _LENGTH.unpack_from(data, at)
        at += 4
        if at + length > end:
            raise RecordingError(f"{path}: truncated inside a record")
        try:
            values.append(msgspec.msgpack.decode(data[at:at + length]))
        except msgspec.MsgspecError as error:
            raise RecordingError(f"{path}: corrupt record ({error})") from None
        at += length
    return values


def read_recording(path: Path) -> Recording:
    """The whole recording that begins with segment ``path`` (following NEXT records)."""
    recording: Recording | None = None
    current: Path | None = path
    while current is not None:
        values = _frames_of(current)
        header = values[0] if values else None
        if not isinstance(header, dict) or header.get("version") != FORMAT_VERSION:
            raise RecordingError(f"{current}: missing header or unknown format version")
        if recording is None:
            if header.get("segment") != 0:
                raise RecordingError(f"{current}: segment {header.get('segment')} of a "
                                     "recording; replay starts from its first file")
            recording = Recording(header)
        recording.files.append(current)
        current = None
        for value in values[1:]:
            record = decode_record(value)
            if isinstance(record, tuple):
                tag, name = record
                if tag == NEXT:
                    current = path.parent / name
                break
            recording.records.append(record)
        else:
            raise RecordingError(f"{recording.files[-1]}: ends without its end record "
                                 "(truncated, or the session did not stop cleanly)")
    assert recording is not None
    return recording


__all__ = ["FORMAT_VERSION", "MAGIC", "Recording", "SegmentWriter", "frames",
           "read_recording", "segment_name"]
