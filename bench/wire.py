"""A minimal RFC 6455 server side on asyncio streams, for the frame blaster.

aiohttp's server writes one frame per ``send_str`` call (a few microseconds each); the blaster
must never be the bottleneck of an ingestion measurement, so it writes pre-encoded frames in
large chunks straight to the socket. Only what the Bitunix client needs: the upgrade, unmasked
text frames out, masked frames in (text, ping, pong, close), no extensions, no fragments.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import struct

GUID = b"258EAFA5-E914-47DA-95CA-C5AB0DC85B11"
MAX_HEAD = 16_384
MAX_CLIENT_FRAME = 1 << 20

OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA


class HandshakeError(Exception):
    pass


async def accept(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> str:
    """Read the HTTP upgrade request, answer 101; return the request path."""
    try:
        head = await reader.readuntil(b"\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError) as error:
        raise HandshakeError(f"bad request head: {error!r}") from None
    if len(head) > MAX_HEAD:
        raise HandshakeError("request head too large")
    lines = head.decode("latin-1").split("\r\n")
    parts = lines[0].split(" ")
    path = parts[1] if len(parts) > 1 else "/"
    headers = {}
    for line in lines[1:]:
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    key = headers.get("sec-websocket-key")
    if key is None or "websocket" not in headers.get("upgrade", "").lower():
        writer.write(b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\n\r\n")
        raise HandshakeError("not a WebSocket upgrade")
    digest = base64.b64encode(hashlib.sha1(key.encode() + GUID).digest()).decode()
    writer.write(
        "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
        f"Sec-WebSocket-Accept: {digest}\r\n\r\n".encode()
    )
    await writer.drain()
    return path


def frame(payload: bytes, opcode: int = OP_TEXT) -> bytes:
    """One unmasked, final server frame."""
    n = len(payload)
    first = 0x80 | opcode
    if n < 126:
        return bytes((first, n)) + payload
    if n < 65_536:
        return struct.pack("!BBH", first, 126, n) + payload
    return struct.pack("!BBQ", first, 127, n) + payload


def text(payload: str) -> bytes:
    return frame(payload.encode())


async def read_frame(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    """One client frame: (opcode, unmasked payload). Raises IncompleteReadError at EOF."""
    b0, b1 = await reader.readexactly(2)
    opcode = b0 & 0x0F
    masked = b1 & 0x80
    n = b1 & 0x7F
    if n == 126:
        (n,) = struct.unpack("!H", await reader.readexactly(2))
    elif n == 127:
        (n,) = struct.unpack("!Q", await reader.readexactly(8))
    if n > MAX_CLIENT_FRAME:
        raise ValueError(f"client frame of {n} bytes")
    mask = await reader.readexactly(4) if masked else b""
    data = await reader.readexactly(n)
    if masked:
        data = bytes(b ^ mask[i & 3] for i, b in enumerate(data))
    return opcode, data


def close_frame(code: int = 1000) -> bytes:
    return frame(struct.pack("!H", code), OP_CLOSE)
