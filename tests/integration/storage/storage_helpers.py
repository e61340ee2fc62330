"""Helpers of the storage tests: objects, reading watch streams, backend wrappers."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import orjson

from services.storage import storage_errors
from services.storage.backend import Backend, KeyValue, Page, WatchBatch, WatchStream
from services.storage.cache import WatchCache
from services.storage.model import ResourceRef, WatchEvent
from services.storage.store import Store

StoreFactory = Callable[..., Store]

# Waiting for an event at all, not a latency budget: a hang fails here, not at the
# session timeout.
EVENT_TIMEOUT = 5.0


def pod(name: str, namespace: str = "ns", *, node: str = "n1", **labels: str) -> bytes:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return orjson.dumps(
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"nodeName": node}}
    )


def meta(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = orjson.loads(data)
    return dict(obj["metadata"])


def names(items: list[bytes]) -> list[str]:
    return [meta(item)["name"] for item in items]


async def cache_of(store: Store, ref: ResourceRef) -> WatchCache:
    """The store's watch cache of ``ref`` (started if it was not)."""
    return await store.caches.get(store.keys.root(ref) + "/", namespaced=ref.namespaced)


async def caught_up(store: Store, ref: ResourceRef, revision: int) -> WatchCache:
    """Wait until the watch cache of ``ref`` has applied ``revision``."""
    cache = await cache_of(store, ref)
    loop = asyncio.get_running_loop()
    deadline = loop.time() + EVENT_TIMEOUT
    while cache.revision < revision:
        assert loop.time() < deadline, f"the cache stays at {cache.revision} < {revision}"
        await asyncio.sleep(0.005)
    return cache


async def next_event(events: AsyncIterator[WatchEvent]) -> WatchEvent:
    return await asyncio.wait_for(anext(events), EVENT_TIMEOUT)


def summary(event: WatchEvent) -> tuple[str, str, int]:
    """(type, name, resourceVersion from the object) of an event."""
    metadata = meta(event.object)
    return (event.type, metadata.get("name", ""), int(metadata["resourceVersion"]))


async def next_events(events: AsyncIterator[WatchEvent], n: int) -> list[tuple[str, str, int]]:
    """The next ``n`` events as (type, name, resourceVersion)."""
    return [summary(await next_event(events)) for _ in range(n)]


async def next_non_bookmarks(
    events: AsyncIterator[WatchEvent], n: int
) -> list[tuple[str, str, int]]:
    """The next ``n`` events that are not bookmarks."""
    out: list[tuple[str, str, int]] = []
    while len(out) < n:
        event = await next_event(events)
        if event.type != "BOOKMARK":
            out.append(summary(event))
    return out


async def drain(events: AsyncIterator[WatchEvent]) -> list[WatchEvent]:
    """Every event until the stream ends (which it must, within EVENT_TIMEOUT)."""

    async def collect() -> list[WatchEvent]:
        return [event async for event in events]

    return await asyncio.wait_for(collect(), EVENT_TIMEOUT)


class _Watch:
    """A watch stream of ``Cuttable`` that fails once the backend is cut."""

    def __init__(self, owner: Cuttable, inner: WatchStream) -> None:
        self._owner = owner
        self._inner = inner
        self._next: asyncio.Task[WatchBatch] | None = None

    def __aiter__(self) -> _Watch:
        return self

    async def __anext__(self) -> WatchBatch:
        if self._owner.is_cut:
            self._owner.cut_seen.set()
            raise storage_errors.Unavailable("cut")
        self._next = asyncio.ensure_future(self._inner.__anext__())
        cut = asyncio.ensure_future(self._owner.cut_event.wait())
        try:
            done, _ = await asyncio.wait({self._next, cut}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            cut.cancel()
        if self._next in done:
            return self._next.result()
        self._next.cancel()
        self._owner.cut_seen.set()
        raise storage_errors.Unavailable("cut")

    def request_progress(self) -> bool:
        return self._inner.request_progress()

    async def aclose(self) -> None:
        if self._next is not None:
            self._next.cancel()
        await self._inner.aclose()


class Cuttable:
    """A backend wrapper for failure tests.

    ``await cut()``: as if etcd went away for the store — open watches fail with
    ``Unavailable`` and new ones too, until ``restore()``; with ``reads=True`` reads
    fail as well. It returns once the store's watch has failed. Writes still work (the
    test writes "while etcd is down" for the cache).
    ``before[method]``: an async hook run once just before the next call of ``method``
    (to interleave a concurrent write). ``interleave``: every call yields to other
    tasks first, so concurrent callers interleave even on the memory backend. Counts
    ``watch`` calls.
    """

    def __init__(self, inner: Backend, *, interleave: bool = False) -> None:
        self.inner = inner
        self.interleave = interleave  # yield to other tasks in every call
        self.is_cut = False
        self.reads_cut = False
        self.cut_event = asyncio.Event()
        self.cut_seen = asyncio.Event()
        self.watches = 0
        self.before: dict[str, Callable[[], Awaitable[None]]] = {}

    async def cut(self, *, reads: bool = False) -> None:
        """Cut, and return once the store's watch has failed (the cache is deaf)."""
        self.is_cut = True
        self.reads_cut = reads
        self.cut_seen = asyncio.Event()
        self.cut_event.set()
        await asyncio.wait_for(self.cut_seen.wait(), EVENT_TIMEOUT)

    def restore(self) -> None:
        self.is_cut = self.reads_cut = False
        self.cut_event = asyncio.Event()

    async def _enter(self, method: str, *, read: bool = False) -> None:
        if self.interleave:
            await asyncio.sleep(0)
        if read and self.reads_cut:
            raise storage_errors.Unavailable("cut")
        hook = self.before.pop(method, None)
        if hook is not None:
            await hook()

    def watch(self, prefix: str, from_revision: int) -> WatchStream:
        self.watches += 1
        return _Watch(self, self.inner.watch(prefix, from_revision))

    async def create(self, key: str, value: bytes) -> int:
        await self._enter("create")
        return await self.inner.create(key, value)

    async def get(self, key: str) -> KeyValue:
        await self._enter("get", read=True)
        return await self.inner.get(key)

    async def list(
        self, prefix: str, *, revision: int = 0, start_key: str = "", limit: int = 0
    ) -> Page:
        await self._enter("list", read=True)
        return await self.inner.list(prefix, revision=revision, start_key=start_key, limit=limit)

    async def update(self, key: str, value: bytes, expected_revision: int) -> int:
        await self._enter("update")
        return await self.inner.update(key, value, expected_revision)

    async def delete(self, key: str, expected_revision: int | None = None) -> tuple[KeyValue, int]:
        await self._enter("delete")
        return await self.inner.delete(key, expected_revision)

    async def current_revision(self) -> int:
        await self._enter("current_revision", read=True)
        return await self.inner.current_revision()

    async def compact(self, revision: int) -> None:
        await self.inner.compact(revision)

    async def close(self) -> None:
        await self.inner.close()
