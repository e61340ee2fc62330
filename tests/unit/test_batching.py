"""Natural batching: calls that queue while others are in flight leave together, and
each keeps its own outcome."""

from __future__ import annotations

import asyncio

import pytest

from kapi import errors
from kapi.batching import Batcher


async def settle() -> None:
    """Let every task that can run, run."""
    for _ in range(5):
        await asyncio.sleep(0)


class Peer:
    """A scripted peer: records each batch, answers when the test releases it."""

    def __init__(self) -> None:
        self.batches: list[list[int]] = []
        self.release = asyncio.Event()
        self.down = False

    async def send(self, requests: list[int]) -> list[int | BaseException]:
        self.batches.append(list(requests))
        await self.release.wait()
        if self.down:
            raise errors.service_unavailable("the peer service is unavailable")
        return [errors.not_found("things", "", str(r)) if r < 0 else r * 10 for r in requests]


async def test_a_call_leaves_at_once_and_those_that_queue_behind_it_leave_together() -> None:
    peer = Peer()
    batcher: Batcher[int, int] = Batcher(peer.send, stall=60)
    calls = [asyncio.create_task(batcher.call(i)) for i in range(10)]
    await settle()
    assert peer.batches == [[0]]  # the first leaves alone, the rest wait for it
    peer.release.set()
    assert await asyncio.gather(*calls) == [i * 10 for i in range(10)]
    assert peer.batches == [[0], list(range(1, 10))]


async def test_a_stalled_batch_lets_the_next_leave_up_to_the_cap() -> None:
    peer = Peer()  # never answers until released
    batcher: Batcher[int, int] = Batcher(peer.send, stall=0.01, max_in_flight=3)
    calls = [asyncio.create_task(batcher.call(0))]
    await settle()
    calls += [asyncio.create_task(batcher.call(i)) for i in (1, 2)]
    await settle()
    assert peer.batches == [[0]]
    await asyncio.sleep(0.03)  # the first is stalled: the waiting ones go
    assert peer.batches == [[0], [1, 2]]
    calls += [asyncio.create_task(batcher.call(3))]
    await asyncio.sleep(0.03)
    calls += [asyncio.create_task(batcher.call(4))]
    await asyncio.sleep(0.03)
    assert peer.batches == [[0], [1, 2], [3]]  # three in flight: 4 waits
    peer.release.set()
    assert await asyncio.gather(*calls) == [0, 10, 20, 30, 40]
    assert peer.batches[-1] == [4]


async def test_each_call_gets_its_own_error() -> None:
    peer = Peer()
    peer.release.set()
    batcher: Batcher[int, int] = Batcher(peer.send, stall=60)
    results = await asyncio.gather(
        *(batcher.call(i) for i in (1, -2, 3, -4)), return_exceptions=True
    )
    assert results[0] == 10 and results[2] == 30
    for failed, name in ((results[1], "-2"), (results[3], "-4")):
        assert isinstance(failed, errors.StatusError)
        assert (failed.code, failed.message) == (404, f'things "{name}" not found')


async def test_a_failed_batch_fails_each_of_its_calls_and_the_next_goes_on() -> None:
    peer = Peer()
    batcher: Batcher[int, int] = Batcher(peer.send, stall=60)
    first = [asyncio.create_task(batcher.call(i)) for i in range(3)]
    await settle()
    peer.down = True
    peer.release.set()
    for call in first:
        with pytest.raises(errors.StatusError) as failed:
            await call
        assert failed.value.code == 503
    peer.down = False
    assert await batcher.call(7) == 70


async def test_batches_are_capped_and_callers_that_gave_up_are_not_sent() -> None:
    peer = Peer()
    batcher: Batcher[int, int] = Batcher(peer.send, stall=60, max_batch=3)
    first = asyncio.create_task(batcher.call(0))
    await settle()
    queued = [asyncio.create_task(batcher.call(i)) for i in range(1, 8)]
    await settle()
    queued[0].cancel()  # call 1 gives up while it waits
    await settle()
    peer.release.set()
    assert await first == 0
    assert await asyncio.gather(*queued[1:]) == [i * 10 for i in range(2, 8)]
    assert peer.batches == [[0], [2, 3], [4, 5, 6], [7]]


async def test_close_cancels_what_is_in_flight() -> None:
    peer = Peer()
    batcher: Batcher[int, int] = Batcher(peer.send)
    call = asyncio.create_task(batcher.call(1))
    await settle()
    await batcher.close()
    with pytest.raises(asyncio.CancelledError):
        await call
