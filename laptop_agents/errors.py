"""Errors that end the daemon, each with its own documented process exit code.

The codes follow sysexits(3) so service managers and shell scripts can tell them apart:
systemd's ``RestartPreventExitStatus`` lists EXIT_CONFIG so a bad configuration is not
restarted in a loop (see docs/operations.md). EXIT_LOCKED (another daemon holds the data
directory) is left restartable on purpose: the other daemon may stop, so a retry can work.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_NO_DATA = 1  # `probe`: the connection worked but no market data flowed
EXIT_USAGE = 2  # argparse: unknown command or flag
EXIT_FEED_REFUSED = 69  # EX_UNAVAILABLE: the exchange refused us N times in a row
EXIT_NO_DAEMON = 69  # EX_UNAVAILABLE: the CLI client found no daemon answering at the URL
EXIT_CLIENT = 1  # the CLI client: the daemon answered with an error (HTTP 4xx/5xx)
EXIT_INTERNAL = 70  # EX_SOFTWARE: a bug or an unexpected crash
EXIT_LOCKED = 75  # EX_TEMPFAIL: another daemon holds the data directory's lock
EXIT_AUTH = 77  # EX_NOPERM: the exchange rejected our credentials
EXIT_CONFIG = 78  # EX_CONFIG: an invalid setting; restarting will not help


class LaptopAgentsError(Exception):
    """Base class for errors that end the process with a specific exit code."""

    exit_code: int = EXIT_INTERNAL
    # Set once the daemon has logged it to stderr: the CLI then does not print it a second time,
    # so the failure is one line there.
    logged: bool = False


class ConfigError(LaptopAgentsError):
    """A setting is invalid; the message names it."""

    exit_code = EXIT_CONFIG


class FeedRefusedError(LaptopAgentsError):
    """The market-data endpoint refused the connection (or rejected the handshake) too often."""

    exit_code = EXIT_FEED_REFUSED


class AuthenticationError(LaptopAgentsError):
    """The exchange rejected the API key or the signature."""

    exit_code = EXIT_AUTH


class DataDirLockedError(LaptopAgentsError):
    """Another process holds the data directory's lock; the message names its PID."""

    exit_code = EXIT_LOCKED
