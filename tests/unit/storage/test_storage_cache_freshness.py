"""What a consistent read one layer up needs from storage's watch cache, on the
in-memory backend: ``WatchCache.summary`` (object count, and a revision no held object
was modified after), ``WatchCache.wait_fresh`` (every change up to a revision is in,
asking the backend where it is when no event of the resource says so), and
``Store.current_revision`` (the backend's revision read after the call, shared by
concurrent callers, and each cache's summary once it has reached it)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import orjson
import pytest

from services.storage import storage_errors
from services.storage.backend import WatchBatch
from services.storage.cache import CacheConfig, WatchCache
from services.storage.memory_backend import MemoryBackend, MemoryWatch
from services.storage.model import ResourceRef
from services.storage.store import Store

CONFIGMAPS = ResourceRef("", "configmaps", True)
SECRETS = ResourceRef("", "secrets", True)

# Waiting for something to happen at all (a hang fails here), not a latency budget.
HANG = 5.0


def configmap(name: str, ns: str = "ns", **data: str) -> bytes:
    return orjson.dumps(
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": ns},
            "data": data,
        }
    )


def cm_key(name: str, ns: str = "ns") -> str:
    return f"/registry/configmaps/{ns}/{name}"


def secret_key(name: str, ns: str = "ns") -> str:
    return f"/registry/secrets/{ns}/{name}"


class CountingWatch:
    """A memory watch that counts progress requests; ``answers=False`` makes it a stream
    that cannot give safe progress notifications; ``lose`` progress requests are taken
    (True) but never reach the backend, as a request or an answer lost on the way."""

    def __init__(self, inner: MemoryWatch, *, answers: bool, lose: int) -> None:
        self.inner = inner
        self.answers = answers
        self.lose = lose
        self.requests = 0

    def __aiter__(self) -> CountingWatch:
        return self

    async def __anext__(self) -> WatchBatch:
        return await self.inner.__anext__()

    def request_progress(self) -> bool:
        self.requests += 1
        if not self.answers:
            return False
        if self.lose > 0:
            self.lose -= 1
            return True
        return self.inner.request_progress()

    async def aclose(self) -> None:
        await self.inner.aclose()


class Wrapped:
    """The memory backend, with its watches wrapped (``CountingWatch``) and its
    ``current_revision`` reads counted (and held at ``gate`` when one is set)."""

    def __init__(self, *, answers: bool = True, lose: int = 0) -> None:
        self.inner = MemoryBackend()
        self.answers = answers
        self.lose = lose
        self.watches: list[CountingWatch] = []
        self.revision_reads = 0
        self.gate: asyncio.Event | None = None

    def watch(self, prefix: str, from_revision: int) -> CountingWatch:
        stream = CountingWatch(
            self.inner.watch(prefix, from_revision), answers=self.answers, lose=self.lose
        )
        self.lose = 0  # only the first stream loses requests
        self.watches.append(stream)
        return stream

    async def current_revision(self) -> int:
        self.revision_reads += 1
        revision = await self.inner.current_revision()  # what etcd answers at once
        if self.gate is not None:
            await self.gate.wait()  # ...and the answer is slow to come back
        return revision

    @property
    def progress_requests(self) -> int:
        return sum(w.requests for w in self.watches)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)


async def started_cache(backend: Any, root: str = "/registry/configmaps/") -> WatchCache:
    cache = WatchCache(backend, root, namespaced=True, config=CacheConfig())
    cache.start()
    await cache.wait_ready()
    return cache


async def caught_up(cache: WatchCache, revision: int) -> None:
    """Until the cache has applied ``revision`` from its events (not by asking)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + HANG
    while cache.revision < revision:
        assert loop.time() < deadline, f"the cache stays at {cache.revision} < {revision}"
        await asyncio.sleep(0.002)


@pytest.fixture
async def memory() -> AsyncIterator[MemoryBackend]:
    backend = MemoryBackend()
    yield backend
    await backend.close()


# --- summary -----------------------------------------------------------------------------


async def test_summary_counts_objects_and_follows_the_last_put(memory: MemoryBackend) -> None:
    cache = await started_cache(memory)
    try:
        assert cache.summary() == (0, 0)
        a = await memory.create(cm_key("a"), configmap("a"))
        await caught_up(cache, a)
        assert cache.summary() == (1, a)
        b = await memory.create(cm_key("b"), configmap("b"))
        await caught_up(cache, b)
        assert cache.summary() == (2, b)
        a2 = await memory.update(cm_key("a"), configmap("a", v="2"), a)
        await caught_up(cache, a2)
        assert cache.summary() == (2, a2)
        # A delete removes one object and leaves the figure: no object left was
        # modified after the last put.
        _, gone = await memory.delete(cm_key("b"))
        await caught_up(cache, gone)
        assert cache.summary() == (1, a2)
        _, gone = await memory.delete(cm_key("a"))
        await caught_up(cache, gone)
        assert cache.summary() == (0, a2)
        assert cache.revision == gone
    finally:
        await cache.close()


async def test_writes_to_another_resource_change_nothing_in_the_summary(
    memory: MemoryBackend,
) -> None:
    cache = await started_cache(memory)
    try:
        a = await memory.create(cm_key("a"), configmap("a"))
        await caught_up(cache, a)
        await memory.create(secret_key("s"), b"{}")
        await memory.create(secret_key("t"), b"{}")
        c = await memory.create(cm_key("c"), configmap("c"))
        await caught_up(cache, c)
        assert cache.summary() == (2, c)
    finally:
        await cache.close()


async def test_the_first_list_gives_the_latest_modification_of_what_it_holds(
    memory: MemoryBackend,
) -> None:
    a = await memory.create(cm_key("a"), configmap("a"))
    await memory.create(cm_key("b"), configmap("b"))
    a2 = await memory.update(cm_key("a"), configmap("a", v="2"), a)
    await memory.create(cm_key("gone"), configmap("gone"))
    await memory.delete(cm_key("gone"))
    await memory.create(secret_key("s"), b"{}")
    cache = await started_cache(memory)
    try:
        # Listed at the latest revision: two objects, the newest of them written at
        # a2; neither the deleted object's writes nor the secret count.
        assert cache.revision == await memory.current_revision()
        assert cache.summary() == (2, a2)
    finally:
        await cache.close()


async def test_a_relist_after_compaction_gives_the_latest_modification_of_what_it_holds() -> None:
    memory = MemoryBackend(history_limit=4)
    cache = await started_cache(memory)
    try:
        a = await memory.create(cm_key("a"), configmap("a"))
        b = await memory.create(cm_key("b"), configmap("b"))
        await caught_up(cache, b)
        assert cache.summary() == (2, b)
        started_at = cache.window_start
        # Written without yielding: the cache's watch never runs meanwhile, and the
        # history it needs is compacted away, so it must list again.
        a2 = await memory.update(cm_key("a"), configmap("a", v="2"), a)
        for i in range(8):
            await memory.create(cm_key(f"tmp{i}"), configmap(f"tmp{i}"))
        for i in range(8):
            await memory.delete(cm_key(f"tmp{i}"))
        await memory.delete(cm_key("b"))
        last = await memory.create(secret_key("s"), b"{}")
        await caught_up(cache, last)
        assert cache.window_start > started_at  # it did list again
        assert cache.summary() == (1, a2)
    finally:
        await cache.close()


# --- wait_fresh -------------------------------------------------------------------------


async def test_wait_fresh_returns_at_once_when_the_cache_is_current() -> None:
    backend = Wrapped()
    cache = await started_cache(backend)
    try:
        a = await backend.inner.create(cm_key("a"), configmap("a"))
        await caught_up(cache, a)
        await cache.wait_fresh(a, timeout=0)
        await cache.wait_fresh(a - 1, timeout=0)
        assert backend.progress_requests == 0  # no need to ask
    finally:
        await cache.close()


async def test_wait_fresh_asks_for_progress_after_writes_to_another_resource() -> None:
    backend = Wrapped()
    cache = await started_cache(backend)
    try:
        a = await backend.inner.create(cm_key("a"), configmap("a"))
        await caught_up(cache, a)
        # etcd's revision moves on with writes no event of this cache tells of.
        await backend.inner.create(secret_key("s"), b"{}")
        other = await backend.inner.create(secret_key("t"), b"{}")
        await asyncio.wait_for(cache.wait_fresh(other, timeout=HANG), HANG + 1)
        assert cache.revision >= other
        assert backend.progress_requests >= 1
        assert cache.summary() == (1, a)  # nothing of its own changed
    finally:
        await cache.close()


async def test_concurrent_waits_for_several_revisions_all_return() -> None:
    backend = Wrapped()
    cache = await started_cache(backend)
    try:
        a = await backend.inner.create(cm_key("a"), configmap("a"))
        await caught_up(cache, a)
        first = await backend.inner.create(secret_key("s"), b"{}")
        early = asyncio.ensure_future(cache.wait_fresh(first, timeout=HANG))
        await asyncio.sleep(0)
        second = await backend.inner.create(secret_key("t"), b"{}")
        late = asyncio.ensure_future(cache.wait_fresh(second, timeout=HANG))
        await asyncio.wait_for(asyncio.gather(early, late), HANG + 1)
        assert cache.revision >= second
    finally:
        await cache.close()


async def test_wait_fresh_is_unavailable_when_the_stream_cannot_report_progress() -> None:
    backend = Wrapped(answers=False)
    cache = await started_cache(backend)
    try:
        a = await backend.inner.create(cm_key("a"), configmap("a"))
        await caught_up(cache, a)
        other = await backend.inner.create(secret_key("s"), b"{}")
        with pytest.raises(storage_errors.Unavailable):
            await asyncio.wait_for(cache.wait_fresh(other, timeout=0.2), HANG)
        assert cache.revision == a  # it did not pretend to have reached it
        # Its own events still bring it along.
        b = await backend.inner.create(cm_key("b"), configmap("b"))
        await asyncio.wait_for(cache.wait_fresh(b, timeout=HANG), HANG + 1)
    finally:
        await cache.close()


async def test_wait_fresh_times_out_when_no_answer_comes() -> None:
    backend = Wrapped(lose=1_000)  # every request, or its answer, is lost
    cache = await started_cache(backend)
    try:
        a = await backend.inner.create(cm_key("a"), configmap("a"))
        await caught_up(cache, a)
        other = await backend.inner.create(secret_key("s"), b"{}")
        with pytest.raises(storage_errors.Unavailable):
            await asyncio.wait_for(cache.wait_fresh(other, timeout=1.0), HANG)
        assert cache.revision == a
        # It kept asking while it waited (an overdue answer means: ask again, every
        # PROGRESS_RESEND = 0.1 s; a loaded machine may fit fewer than ten in the second).
        assert backend.progress_requests >= 2
    finally:
        await cache.close()


async def test_wait_fresh_asks_again_after_a_request_went_unanswered() -> None:
    """One lost progress request (or answer) must not leave the wait, or every later
    wait for this quiet resource, without an answer: an overdue request is sent again
    (as kube's progress requester asks again while anyone waits)."""
    backend = Wrapped(lose=1)
    cache = await started_cache(backend)
    try:
        a = await backend.inner.create(cm_key("a"), configmap("a"))
        await caught_up(cache, a)
        other = await backend.inner.create(secret_key("s"), b"{}")
        await asyncio.wait_for(cache.wait_fresh(other, timeout=2.0), HANG)
        assert cache.revision >= other
        assert backend.progress_requests == 2
        # And a later wait of the same quiet resource is answered too.
        later = await backend.inner.create(secret_key("t"), b"{}")
        await asyncio.wait_for(cache.wait_fresh(later, timeout=1.0), HANG)
        assert cache.revision >= later
    finally:
        await cache.close()


# --- Store.current_revision ------------------------------------------------------------


async def test_current_revision_sees_a_write_made_before_the_call(memory: MemoryBackend) -> None:
    store = Store(memory)
    try:
        assert (await store.current_revision([CONFIGMAPS]))[1] == [(0, 0)]
        made = await store.create(CONFIGMAPS, "ns", "a", configmap("a"))
        revision, summaries = await store.current_revision([CONFIGMAPS], timeout=HANG)
        assert revision >= made.resource_version
        assert summaries == [(1, made.resource_version)]
        # A write to another resource: the revision moves on, the summary does not.
        secret = await store.create(SECRETS, "ns", "s", b'{"metadata":{"name":"s"}}')
        revision, summaries = await store.current_revision([CONFIGMAPS, SECRETS], timeout=HANG)
        assert revision >= secret.resource_version
        assert summaries == [(1, made.resource_version), (1, secret.resource_version)]
        for i in range(10):
            added = await store.create(CONFIGMAPS, "ns", f"x{i}", configmap(f"x{i}"))
            revision, summaries = await store.current_revision([CONFIGMAPS], timeout=HANG)
            assert revision >= added.resource_version
            assert summaries == [(i + 2, added.resource_version)]
    finally:
        await store.close()


async def test_current_revision_is_unavailable_when_a_cache_cannot_confirm() -> None:
    """No safe progress notifications, and a revision this store did not write (another
    writer of etcd): nothing can tell the cache is current. It says so at once, rather
    than wait out its timeout."""
    backend = Wrapped(answers=False)
    store = Store(backend)
    try:
        made = await store.create(CONFIGMAPS, "ns", "a", configmap("a"))
        cache = await store.caches.get(store.keys.root(CONFIGMAPS) + "/", namespaced=True)
        await caught_up(cache, made.resource_version)
        await backend.inner.create(secret_key("s"), b"{}")  # behind the store's back
        with pytest.raises(storage_errors.Unavailable):
            await asyncio.wait_for(store.current_revision([CONFIGMAPS], timeout=HANG), 2.0)
    finally:
        await store.close()


async def test_current_revision_is_confirmed_by_the_stores_own_writes_elsewhere() -> None:
    """No safe progress notifications (etcd before 3.5.13), but every revision since the
    configmaps' last change is a write this store made to secrets: the cache is current,
    and says so without waiting for an event that will never come."""
    backend = Wrapped(answers=False)
    store = Store(backend)
    try:
        made = await store.create(CONFIGMAPS, "ns", "a", configmap("a"))
        cache = await store.caches.get(store.keys.root(CONFIGMAPS) + "/", namespaced=True)
        await caught_up(cache, made.resource_version)
        last = 0
        for i in range(5):
            body = orjson.dumps({"metadata": {"name": f"s{i}"}})
            last = (await store.create(SECRETS, "ns", f"s{i}", body)).resource_version
        revision, summaries = await asyncio.wait_for(
            store.current_revision([CONFIGMAPS], timeout=HANG), 2.0
        )
        assert revision == last
        assert summaries == [(1, made.resource_version)]
        assert cache.revision == last
        # A write of its own to configmaps is not "elsewhere": its event must come in.
        again = await store.create(CONFIGMAPS, "ns", "b", configmap("b"))
        revision, summaries = await asyncio.wait_for(
            store.current_revision([CONFIGMAPS], timeout=HANG), 2.0
        )
        assert revision == again.resource_version
        assert summaries == [(2, again.resource_version)]
    finally:
        await store.close()


async def test_concurrent_calls_share_backend_reads() -> None:
    backend = Wrapped()
    store = Store(backend)
    try:
        made = await store.create(CONFIGMAPS, "ns", "a", configmap("a"))
        await store.current_revision([CONFIGMAPS], timeout=HANG)  # the cache is started
        reads = backend.revision_reads
        answers = await asyncio.gather(
            *(store.current_revision([CONFIGMAPS], timeout=HANG) for _ in range(20))
        )
        assert all(r >= made.resource_version for r, _ in answers)
        assert all(s == [(1, made.resource_version)] for _, s in answers)
        assert backend.revision_reads - reads <= 2  # not one each
    finally:
        await store.close()


async def test_a_call_does_not_take_the_answer_of_a_read_begun_before_it() -> None:
    backend = Wrapped()
    store = Store(backend)
    try:
        await store.current_revision([CONFIGMAPS], timeout=HANG)  # the cache is started
        backend.gate = gate = asyncio.Event()
        reads = backend.revision_reads
        early = asyncio.ensure_future(store.current_revision([CONFIGMAPS], timeout=HANG))
        loop = asyncio.get_running_loop()
        deadline = loop.time() + HANG
        while backend.revision_reads == reads:  # that read has been answered by etcd
            assert loop.time() < deadline
            await asyncio.sleep(0.001)
        made = await store.create(CONFIGMAPS, "ns", "a", configmap("a"))
        late = asyncio.ensure_future(store.current_revision([CONFIGMAPS], timeout=HANG))
        await asyncio.sleep(0.01)
        backend.gate = None
        gate.set()
        (early_rev, _), (late_rev, late_summaries) = await asyncio.wait_for(
            asyncio.gather(early, late), HANG
        )
        assert early_rev < made.resource_version  # read before the write
        assert late_rev >= made.resource_version
        assert late_summaries == [(1, made.resource_version)]
    finally:
        await store.close()
