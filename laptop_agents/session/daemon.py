"""`laptop-agents run`: logging, the data directory, the simulator, signals, the API, exit codes.

Everything runs on one event loop with one ``aiohttp.ClientSession``: the embedded simulator
(source=sim), the WebSocket and REST clients, the engine's tasks and the control API.

Exit codes (see errors.py and docs/operations.md): 0 on a clean stop (signal or --duration);
69/77 when the feed refused us or rejected our credentials (raised for the CLI to map); 75 when
another daemon holds the data directory; 78 when the API port is taken or a setting is invalid;
70 for anything unexpected (traceback logged).
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import gc
import os

from loguru import logger

from laptop_agents.config import Settings
from laptop_agents.errors import EXIT_INTERNAL, EXIT_OK, ConfigError, LaptopAgentsError
from laptop_agents.metrics import Metrics
from laptop_agents.resources import fd_limits, install_resource_error_handler
from laptop_agents.session.async_session import AsyncRunner, run_async_session
from laptop_agents.session.ports import Notifier
from laptop_agents.session.signals import SignalHandler
from laptop_agents.session.startup import StoppedDuringStartup
from laptop_agents.strategy.base import Strategy

# Graceful shutdown must finish well inside the 5 s a service manager (and the tests) allow.
SHUTDOWN_BUDGET_S = 4.0


def run_daemon(settings: Settings, duration: float | None,
               strategy: Strategy | None = None) -> int:
    """Run until SIGINT/SIGTERM or ``duration`` wall seconds; return the process exit code.

    ConfigError, DataDirLockedError, FeedRefusedError and AuthenticationError propagate so the
    CLI prints one line and exits with their code; any other exception is logged with its
    traceback -> 70.
    """
    from laptop_agents.datadir import ensure_data_dir, lock_data_dir
    from laptop_agents.logging_setup import setup_logging
    from laptop_agents.resources import raise_fd_limit

    setup_logging(settings)
    raise_fd_limit()  # Linux's default soft limit (1024) is one small flood away from EMFILE
    ensure_data_dir(settings.data_dir)
    # Before anything writes to the directory (the token file, the journal): one daemon each.
    with lock_data_dir(settings.data_dir):
        return _run_locked(settings, duration, strategy)


def _run_locked(settings: Settings, duration: float | None, strategy: Strategy | None) -> int:
    from laptop_agents.api.token import ensure_api_token
    from laptop_agents.logging_setup import logs_to_stderr, setup_logging

    settings, token_path = ensure_api_token(settings)
    setup_logging(settings)  # again, so the scrubber also knows a generated token
    if token_path is not None:
        logger.info("API token for pause/resume/flatten: {} (or set LA_API_TOKEN)", token_path)
    try:
        return asyncio.run(serve(settings, duration, freeze_gc=True, strategy=strategy))
    except LaptopAgentsError as error:
        logger.error("{}", error)
        error.logged = logs_to_stderr(settings)
        raise
    except Exception:
        logger.exception("internal error; exiting with {}", EXIT_INTERNAL)
        return EXIT_INTERNAL


async def serve(
    settings: Settings,
    duration: float | None = None,
    *,
    stop: asyncio.Event | None = None,
    notifier: Notifier | None = None,
    install_signals: bool = True,
    strategy: Strategy | None = None,
    freeze_gc: bool = False,
) -> int:
    """The daemon on the running loop (run_daemon's body; tests call it in-process).

    ``freeze_gc`` (the daemon process only): see :func:`_freeze_after_ready`.
    """
    loop = asyncio.get_running_loop()
    restore_exception_handler = install_resource_error_handler(loop)
    stop = stop or asyncio.Event()
    if notifier is None:
        from laptop_agents.service import SdNotifier

        notifier = SdNotifier.from_env()
    signals = SignalHandler(stop)
    if install_signals:
        signals.install(loop)
    timer = loop.call_later(duration, _duration_over, stop, duration) if duration else None
    # The real daemon promises to be gone within 5 s of a signal, even if some clean-up hangs.
    deadline = asyncio.create_task(_shutdown_deadline(stop)) if install_signals else None
    try:
        async with contextlib.AsyncExitStack() as api_stack:  # the API outlives the engine

            async def serve_api(runner: AsyncRunner) -> None:
                if settings.api_enabled:
                    await _start_api(api_stack, runner, settings)
                runner.api_ready.set()
                if freeze_gc:
                    api_stack.callback(
                        asyncio.create_task(_freeze_after_ready(runner)).cancel)

            await run_async_session(settings, stop=stop, metrics=Metrics(), notifier=notifier,
                                    strategy=strategy, on_runner=serve_api)
        return EXIT_OK
    except StoppedDuringStartup:
        logger.info("stopped before start-up finished")
        return EXIT_OK
    finally:
        restore_exception_handler()
        if timer is not None:
            timer.cancel()
        if deadline is not None:
            deadline.cancel()
        if install_signals:
            signals.uninstall(loop)


async def _freeze_after_ready(runner: AsyncRunner) -> None:
    """Once ready, collect and freeze what start-up left, so later full collections skip it.

    Imports, pydantic's schemas, the settings and the warm-up leave ~80,000 long-lived
    objects; a generation-2 collection over them held the loop for 25-50 ms at a random moment
    while trading (an exit or an API answer waiting behind it). One collection at start-up,
    then ``gc.freeze()``: later collections only walk objects made since. Only the daemon
    process does this: in a test process the frozen objects would outlive their test.
    """
    await runner.engine.first_tick.wait()
    gc.collect()
    gc.freeze()
    logger.debug("start-up objects frozen out of the garbage collector: {}",
                 gc.get_freeze_count())


async def _shutdown_deadline(stop: asyncio.Event) -> None:
    await stop.wait()
    await asyncio.sleep(SHUTDOWN_BUDGET_S)
    logger.error("shutdown took longer than {:g}s; exiting now", SHUTDOWN_BUDGET_S)
    os._exit(EXIT_INTERNAL)


def _duration_over(stop: asyncio.Event, duration: float | None) -> None:
    logger.info("--duration {:g}s reached: stopping", duration)
    stop.set()


async def _start_api(stack: contextlib.AsyncExitStack, runner: AsyncRunner,
                     settings: Settings) -> None:
    from laptop_agents.api.app import create_app
    from laptop_agents.api.server import ApiServer, connection_cap

    fd_limit = fd_limits()[0]
    cap = connection_cap(settings.api_max_connections, fd_limit)
    if cap < settings.api_max_connections:
        logger.warning("LA_API_MAX_CONNECTIONS={} lowered to {}: the file-descriptor limit is "
                       "only {}", settings.api_max_connections, cap, fd_limit)
    server = ApiServer(create_app(runner.controller, settings), settings, max_connections=cap)
    try:
        await server.start()
    except OSError as error:
        if error.errno == errno.EADDRINUSE:
            raise ConfigError(
                f"invalid setting LA_API_PORT: {settings.api_host}:{settings.api_port} is "
                "already in use (another laptop-agents running?); stop it, or choose another "
                "port with LA_API_PORT (0 = any free port), or LA_API_ENABLED=false"
            ) from None
        raise ConfigError(
            f"invalid setting LA_API_HOST/LA_API_PORT: cannot listen on "
            f"{settings.api_host}:{settings.api_port}: {error.strerror or error}"
        ) from None
    stack.push_async_callback(server.close)
    for address in server.addresses:
        logger.info("control API listening on http://{}:{}/", *address)
