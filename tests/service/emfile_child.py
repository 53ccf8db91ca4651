"""Child process of test_resources: an asyncio server that has run out of file descriptors.

``python -m tests.service.emfile_child SECONDS [--handler]`` listens on 127.0.0.1, fills its
descriptor table, prints ``ready <port>`` and keeps serving for SECONDS while the parent
connects; accept() then fails with EMFILE on every attempt. With ``--handler`` the daemon's
ResourceErrorHandler is installed, as `laptop-agents run` does.
"""

from __future__ import annotations

import asyncio
import os
import resource
import sys
import time

from laptop_agents.config import load_settings
from laptop_agents.logging_setup import setup_logging
from laptop_agents.resources import install_resource_error_handler

FD_LIMIT = 128


async def main(seconds: float, handler: bool) -> None:
    if handler:
        install_resource_error_handler(asyncio.get_running_loop())
    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    resource.setrlimit(resource.RLIMIT_NOFILE, (FD_LIMIT, resource.getrlimit(
        resource.RLIMIT_NOFILE)[1]))
    hog = []
    try:
        while True:
            hog.append(os.open(os.devnull, os.O_RDONLY))
    except OSError:
        pass  # the table is full: every accept() from now on fails
    print(f"ready {port}", flush=True)
    started = time.monotonic()
    await asyncio.sleep(seconds)  # the observation window, not a synchronisation
    server.close()
    print(f"done {time.monotonic() - started:.3f}", flush=True)  # a busy loop wakes late


if __name__ == "__main__":
    setup_logging(load_settings(log_json=False, log_level="DEBUG"))
    asyncio.run(main(float(sys.argv[1]), "--handler" in sys.argv[2:]))
