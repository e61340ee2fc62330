"""Keep CPython's full garbage collections short in a long-running service.

A full (generation 2) collection walks every container object the process holds. A
service holds many that live for hours: modules, protobuf descriptors and schemas, and
its data — the gateway's held objects and watch window, storage's watch cache. Measured
in the benchmark, the gateway paused 25-106 ms per full collection and storage up to
73 ms, each freeing nothing; every request in flight waits that long, which is what a
p99 sees.

Bulk loads (a list of thousands of objects, parsed and kept) run with collections
paused, and what they kept is frozen at once (``bulk_load``): the parsed tree is all
alive until it is dropped, and the objects kept live long, so collecting either
part-way walks them all for nothing (seeding 14,000 ConfigMaps: 73-76 ms pauses).

What has lived a while is moved out of the collector's sight (``gc.freeze``: a list
splice, no walk), and the young generations are collected as usual; the collector's
own full collections are switched off. What is frozen is still freed by reference
counting when dropped; only a reference cycle that became garbage is kept, so at a
long interval everything is unfrozen and collected once, which bounds that to what
piles up in one interval (one pause per interval instead of one whenever the heap
grew by a quarter, which a gateway taking a thousand watch connections does in a
second).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Iterator

log = logging.getLogger(__name__)

FREEZE_EVERY = 5.0  # seconds
COLLECT_EVERY = 900.0  # seconds: a full collection of everything, frozen or not
NEVER = 1 << 30  # young collections before the collector would start a full one


async def keep_collections_short(
    freeze_every: float = FREEZE_EVERY, collect_every: float = COLLECT_EVERY
) -> None:
    """Run for the life of the service (cancel it to stop)."""
    young, middle, old = gc.get_threshold()
    gc.set_threshold(young, middle, NEVER)
    try:
        await _freeze_and_collect(freeze_every, collect_every)
    finally:
        gc.set_threshold(young, middle, old)


async def _freeze_and_collect(freeze_every: float, collect_every: float) -> None:
    last_full = time.monotonic()
    while True:
        await asyncio.sleep(freeze_every)
        if time.monotonic() - last_full >= collect_every:
            gc.unfreeze()
            began = time.perf_counter()
            found = gc.collect()
            last_full = time.monotonic()
            took = (time.perf_counter() - began) * 1e3
            log.info("full collection: %d unreachable, %.0f ms", found, took)
        gc.collect(1)  # the young die young; what survives is long-lived
        gc.freeze()


@contextlib.contextmanager
def bulk_load() -> Iterator[None]:
    """No automatic collection inside (a synchronous bulk decode: no ``await``), and
    what is alive at the end frozen."""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if was_enabled:
            gc.enable()
