"""One short line for a failed connection or request: ``host:port: cause``.

aiohttp's exception reprs run to 300 characters (the whole ConnectionKey, the nested
gaierror); a warning repeated on every retry should say in a glance what went wrong. Pure
functions, no I/O.
"""

from __future__ import annotations

import errno
import socket
import ssl
from urllib.parse import urlsplit

import aiohttp

MAX_DETAIL_CHARS = 80  # the fallback text of an unrecognised error is cut here
_DEFAULT_PORTS = {"http": 80, "ws": 80, "https": 443, "wss": 443}

DNS_FAILED = "DNS lookup failed: no network or unknown host"
# aiohttp >= 3.11 marks resolver failures itself (with aiodns the cause is no gaierror).
_DNS_ERROR: type[Exception] | None = getattr(aiohttp, "ClientConnectorDNSError", None)
_BY_ERRNO = {
    errno.ECONNREFUSED: "connection refused",
    errno.ECONNRESET: "connection reset by the server",
    errno.ECONNABORTED: "connection aborted",
    errno.ETIMEDOUT: "timed out",
    errno.ENETUNREACH: "network unreachable (no route or no network)",
    errno.EHOSTUNREACH: "host unreachable",
    errno.EMFILE: "out of file descriptors (EMFILE)",
    errno.ENFILE: "out of file descriptors (ENFILE)",
}


def _endpoint(url: str, error: BaseException) -> str:
    host = getattr(error, "host", None)  # ClientConnectorError knows where it tried
    port = getattr(error, "port", None)
    if not isinstance(host, str) or not host:
        try:
            parts = urlsplit(url)
            host, port = parts.hostname or url, parts.port or _DEFAULT_PORTS.get(parts.scheme)
        except ValueError:  # a malformed port: still say something useful
            host, port = url, None
    return f"{host}:{port}" if port else str(host)


def _short(text: str) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line if len(line) <= MAX_DETAIL_CHARS else line[: MAX_DETAIL_CHARS - 3] + "..."


def describe_cause(error: BaseException) -> str:
    """The cause alone: "connection refused", "timed out", "DNS lookup failed: ...", ..."""
    if isinstance(error, aiohttp.WSServerHandshakeError):
        return f"handshake rejected: HTTP {error.status}"
    if isinstance(error, aiohttp.ClientResponseError):
        return f"HTTP {error.status}"
    if isinstance(error, aiohttp.ServerDisconnectedError):
        return "server disconnected"
    cause: BaseException = error
    if isinstance(error, aiohttp.ClientConnectorCertificateError):
        cause = error.certificate_error
    elif isinstance(error, aiohttp.ClientConnectorError):
        cause = error.os_error
    if isinstance(cause, ssl.SSLError) or isinstance(error, aiohttp.ClientSSLError):
        reason = getattr(cause, "reason", None) or getattr(cause, "verify_message", None)
        return f"TLS handshake failed ({_short(str(reason))})" if reason else (
            "TLS handshake failed")
    if isinstance(cause, socket.gaierror) or (
            _DNS_ERROR is not None and isinstance(error, _DNS_ERROR)):
        return DNS_FAILED
    if isinstance(cause, TimeoutError):  # also asyncio's and aiohttp's timeouts
        return "timed out"
    if isinstance(cause, OSError) and cause.errno in _BY_ERRNO:
        return _BY_ERRNO[cause.errno]
    if isinstance(cause, OSError) and cause.strerror:
        return _short(cause.strerror)
    return _short(str(error)) or type(error).__name__


def describe_connect_error(url: str, error: BaseException) -> str:
    """``host:port: cause`` in one short line, e.g.
    ``fapi.bitunix.com:443: DNS lookup failed: no network or unknown host``."""
    return f"{_endpoint(url, error)}: {describe_cause(error)}"
