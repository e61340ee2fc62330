"""Many writers doing read-modify-write with retries lose no update, and every watcher
sees every revision exactly once, in order (memory backend and real etcd)."""

from __future__ import annotations

import asyncio
from contextlib import aclosing
from typing import Any

import orjson
from storage_helpers import EVENT_TIMEOUT, Cuttable, StoreFactory, next_event

from services.storage.backend import Backend
from services.storage.model import ResourceRef, WatchEvent

WRITERS = 8
INCREMENTS = 25  # per writer


def counter(value: int) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "counter", "namespace": "ns", "labels": {"app": "count"}},
            "data": {"n": str(value)},
        }
    )


async def test_read_modify_write_loses_nothing(
    make_store: StoreFactory, backend: Backend, prefix: str
) -> None:
    store = make_store(backend=Cuttable(backend, interleave=True))
    configmaps = ResourceRef("", "configmaps", True)
    tries = 0

    def increment(obj: dict[str, Any]) -> dict[str, Any]:
        nonlocal tries
        tries += 1
        obj["data"]["n"] = str(int(obj["data"]["n"]) + 1)
        return obj

    created = await store.create(configmaps, "ns", "counter", counter(0))
    start = str(created.resource_version)
    watches = [
        store.watch(configmaps, resource_version=start),
        store.watch(configmaps, "ns", resource_version=start),
        store.watch(configmaps, label_selector="app=count", resource_version=start),
        store.watch(configmaps, field_selector="metadata.name=counter", resource_version=start),
        store.watch(configmaps, "ns", resource_version=start, allow_bookmarks=True),
    ]
    total = WRITERS * INCREMENTS

    async def writer() -> list[int]:
        revisions = []
        for _ in range(INCREMENTS):
            stored = await store.guaranteed_update(configmaps, "ns", "counter", increment)
            revisions.append(stored.resource_version)
        return revisions

    async def watcher(events: Any) -> list[tuple[int, int]]:
        seen: list[tuple[int, int]] = []  # (resourceVersion, counter value)
        async with aclosing(events):
            while len(seen) < total:
                event: WatchEvent = await next_event(events)
                if event.type == "BOOKMARK":
                    assert not seen or event.resource_version >= seen[-1][0]
                    continue
                assert event.type == "MODIFIED"
                obj = orjson.loads(event.object)
                assert obj["metadata"]["resourceVersion"] == str(event.resource_version)
                seen.append((event.resource_version, int(obj["data"]["n"])))
        return seen

    # Every watcher is registered (its first read started) before the writers begin.
    readers = [asyncio.ensure_future(watcher(w)) for w in watches]
    await asyncio.sleep(0)
    written = await asyncio.wait_for(
        asyncio.gather(*(writer() for _ in range(WRITERS))), EVENT_TIMEOUT * 6
    )
    final = orjson.loads((await store.get(configmaps, "ns", "counter")).object)
    assert final["data"]["n"] == str(total)  # no update lost
    assert tries > total  # writers did collide, and retried
    revisions = sorted(r for per_writer in written for r in per_writer)
    assert len(set(revisions)) == total  # each write its own revision

    for seen in await asyncio.gather(*readers):
        # Each revision once, in order, and the counter going up by one at each.
        assert [rv for rv, _ in seen] == revisions
        assert [n for _, n in seen] == list(range(1, total + 1))
