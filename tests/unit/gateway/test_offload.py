"""Decoding off the event loop (services/gateway/codec/offload.py): small bodies inline,
large ones on a bounded pool while the loop keeps serving. Shown by events, not clocks."""

from __future__ import annotations

import asyncio
import threading

from services.gateway.codec import offload

LARGE = offload.INLINE_BYTES + 1


async def test_small_bodies_decode_inline_on_the_loop() -> None:
    loop_thread = threading.get_ident()
    assert await offload.run(offload.INLINE_BYTES, False, threading.get_ident) == loop_thread
    json_size = offload.INLINE_JSON_BYTES
    assert await offload.run(json_size, True, threading.get_ident) == loop_thread


async def test_large_bodies_decode_on_another_thread() -> None:
    loop_thread = threading.get_ident()
    assert await offload.run(LARGE, False, threading.get_ident) != loop_thread
    assert await offload.run(offload.INLINE_JSON_BYTES + 1, True, threading.get_ident) != (
        loop_thread
    )


async def test_the_loop_keeps_serving_while_a_large_decode_runs() -> None:
    started, release = threading.Event(), threading.Event()

    def decode() -> str:
        started.set()
        release.wait(30)
        return "decoded"

    decoding = asyncio.create_task(offload.run(LARGE, False, decode))
    assert await asyncio.to_thread(started.wait, 30)
    served = []
    for i in range(3):  # other requests' work, while the decode holds its thread
        await asyncio.sleep(0)
        served.append(i)
    assert served == [0, 1, 2]
    assert not decoding.done()
    release.set()
    assert await decoding == "decoded"


async def test_at_most_workers_large_decodes_run_at_once() -> None:
    running, release = threading.Semaphore(0), threading.Event()
    lock = threading.Lock()
    active: list[int] = []
    most = 0

    def decode(i: int) -> int:
        nonlocal most
        with lock:
            active.append(i)
            most = max(most, len(active))
        running.release()
        release.wait(30)
        with lock:
            active.remove(i)
        return i

    jobs = [asyncio.create_task(offload.run(LARGE, False, decode, i)) for i in range(5)]
    for _ in range(offload.WORKERS):
        assert await asyncio.to_thread(running.acquire, True, 30)
    assert len(active) == offload.WORKERS  # the others wait in the pool's queue
    release.set()
    assert sorted(await asyncio.gather(*jobs)) == list(range(5))
    assert most == offload.WORKERS
