"""kapi.gc_policy: long-lived objects are frozen out of full collections, and a full
collection of everything still runs at its interval; bulk loads run uncollected."""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import Iterator

import pytest

from kapi import gc_policy


@pytest.fixture(autouse=True)
def thawed() -> Iterator[None]:
    """Every test starts and ends with nothing frozen and collection enabled."""
    gc.unfreeze()
    gc.enable()
    yield
    gc.unfreeze()
    gc.enable()


class Node:
    """A container the collector tracks; two of them make a cycle."""

    def __init__(self) -> None:
        self.other: Node | None = None


async def test_survivors_are_frozen_at_each_interval() -> None:
    keep = [Node() for _ in range(1000)]
    task = asyncio.create_task(gc_policy.keep_collections_short(0.01, 3600))
    try:
        for _ in range(200):
            await asyncio.sleep(0.01)
            if gc.get_freeze_count() >= len(keep):
                break
        assert gc.get_freeze_count() >= len(keep)
        young_and_old = {id(o) for generation in (0, 1, 2) for o in gc.get_objects(generation)}
        assert not any(id(n) in young_and_old for n in keep)
    finally:
        task.cancel()


async def test_the_collectors_own_full_collections_are_off_while_it_runs() -> None:
    before = gc.get_threshold()
    task = asyncio.create_task(gc_policy.keep_collections_short(3600, 3600))
    await asyncio.sleep(0)
    assert gc.get_threshold()[:2] == before[:2]
    assert gc.get_threshold()[2] >= 1 << 30
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task
    assert gc.get_threshold() == before


async def test_a_full_collection_frees_cycles_that_were_frozen() -> None:
    freed: list[int] = []

    class Watched(Node):
        def __del__(self) -> None:
            freed.append(1)

    a, b = Watched(), Watched()
    a.other, b.other = b, a
    del a, b  # garbage, but a cycle: only the collector can free it
    gc.freeze()
    gc.collect()
    assert freed == []  # frozen: out of the collector's sight
    task = asyncio.create_task(gc_policy.keep_collections_short(0.01, 0.0))
    try:
        for _ in range(200):
            await asyncio.sleep(0.01)
            if freed:
                break
        assert len(freed) == 2
    finally:
        task.cancel()


def test_bulk_load_collects_nothing_inside_and_freezes_what_it_kept() -> None:
    collections: list[int] = []

    def count(phase: str, info: dict[str, int]) -> None:
        if phase == "start":
            collections.append(info["generation"])

    gc.callbacks.append(count)
    try:
        with gc_policy.bulk_load():
            assert not gc.isenabled()
            kept = [Node() for _ in range(50_000)]  # far past the gen0 threshold
        assert collections == []
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(kept)
    finally:
        gc.callbacks.remove(count)


def test_bulk_load_leaves_collection_off_when_it_was_off() -> None:
    gc.disable()
    with gc_policy.bulk_load():
        pass
    assert not gc.isenabled()
