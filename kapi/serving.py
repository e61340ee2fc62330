"""Running a gRPC service until SIGTERM/SIGINT, the same way for every service."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any, TypeVar

import grpc.aio
import uvloop

from kapi import gc_policy

log = logging.getLogger(__name__)

GRACE_SECONDS = 3.0

T = TypeVar("T")


def run(main: Coroutine[Any, Any, T]) -> T:
    """Run a service's ``main`` on uvloop: every service is a loop of small socket
    reads and writes (gRPC, HTTP), which uvloop does in C at a fraction of asyncio's
    per-callback cost (one grpc.aio hop: ~3,300 -> ~3,900 calls/s measured here). Its
    long-lived objects are kept out of full garbage collections (``kapi.gc_policy``)."""
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(_with_gc_policy(main))


async def _with_gc_policy(main: Coroutine[Any, Any, T]) -> T:
    policy = asyncio.create_task(gc_policy.keep_collections_short(), name="gc policy")
    try:
        return await main
    finally:
        policy.cancel()


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
