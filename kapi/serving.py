"""Running a gRPC service until SIGTERM/SIGINT, the same way for every service."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable

import grpc.aio

log = logging.getLogger(__name__)

GRACE_SECONDS = 3.0


async def run_until_signalled(
    server: grpc.aio.Server,
    name: str,
    port: int,
    cleanup: Callable[[], Awaitable[None]] | None = None,
) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    log.info("%s serving on port %d", name, port)
    await stop.wait()
    log.info("%s stopping", name)
    await server.stop(GRACE_SECONDS)
    if cleanup is not None:
        await cleanup()
