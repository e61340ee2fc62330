"""Decoding that can take long runs off the event loop, one body at a time.

Why: the gateway serves every client from one event loop. A 2.9 MiB YAML body decoded on
it held every other client (readiness probes included) for 10 s, three of them for 27 s;
a 3 MiB Protobuf body for 15 s. kube-apiserver decodes each request on its own goroutine.

How: a body small enough to decode in about a millisecond decodes inline, so an ordinary
create pays nothing for this but a comparison. A larger one is decoded on a pool of
``WORKERS`` threads; more wait their turn in the pool's queue, holding no thread and not
the loop. CPython runs one thread's Python at a time and hands the interpreter to a
waiting thread every ``sys.getswitchinterval()`` (5 ms), so the loop keeps answering while
a decode runs. One worker: with two, the decoders fight the loop for the interpreter
(three 2.9 MiB YAML bodies and the 3 MiB Protobuf one: the loop lagged up to 70-130 ms
instead of 40 ms, and all four took longer, not shorter). The pool's size also bounds how
many large bodies are being turned into objects at once, and so the memory they take.
"""

from __future__ import annotations

import asyncio
import functools
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import ParamSpec, TypeVar

# Above these sizes a body is decoded off the loop. JSON: orjson reads ~0.5-1 GB/s, but a
# non-compact body is scanned again for duplicate keys by the stdlib (~2 ms at 64 KiB). YAML
# and Protobuf are read by Python code, ~50-600 ns a byte (16 KiB: at most ~10 ms).
INLINE_JSON_BYTES = 64 * 1024
INLINE_BYTES = 16 * 1024
WORKERS = 1

P = ParamSpec("P")
T = TypeVar("T")

_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _executor() -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(max_workers=WORKERS, thread_name_prefix="kapi-decode")
        return _pool


def inline(size: int, *, json: bool) -> bool:
    """Whether a body of ``size`` bytes is decoded on the loop."""
    return size <= (INLINE_JSON_BYTES if json else INLINE_BYTES)


async def off_loop(fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)`` on the decode pool, once a worker is free."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(_executor(), functools.partial(fn, *args, **kwargs))


async def run(size: int, json: bool, fn: Callable[P, T], *args: P.args, **kwargs: P.kwargs) -> T:
    """``fn(*args, **kwargs)``: inline for a small body, else on the decode pool."""
    if inline(size, json=json):
        return fn(*args, **kwargs)
    return await off_loop(fn, *args, **kwargs)
