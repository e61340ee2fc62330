"""The watch cache: one backend watch per resource, fan-out, slow watchers, and what
happens when the backend goes away and comes back. On the memory backend and a real
etcd, plus an etcd killed and restarted under a live watch."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import aclosing
from typing import Any

import orjson
import pytest
from storage_helpers import (
    Cuttable,
    StoreFactory,
    cache_of,
    caught_up,
    drain,
    meta,
    names,
    next_event,
    next_events,
    next_non_bookmarks,
    pod,
)

from services.storage import storage_errors
from services.storage.backend import Backend
from services.storage.cache import CacheConfig
from services.storage.etcd_backend import progress_supported
from services.storage.memory_backend import MemoryBackend
from services.storage.model import ResourceRef
from services.storage.store import Store
from tests.conftest import EtcdProcess


async def test_one_backend_watch_per_resource(
    make_store: StoreFactory, backend: Backend, pods: ResourceRef, nodes: ResourceRef
) -> None:
    """However many clients watch and list, the backend sees one watch per resource."""
    counting = Cuttable(backend)
    store = make_store(backend=counting)
    await store.create(pods, "ns", "a", pod("a"))
    selectors = ["", "metadata.name=a", "spec.nodeName=n1", "metadata.namespace=ns"]
    watches = [
        store.watch(pods, ns, field_selector=fs, resource_version=rv)
        for ns in ("", "ns", "other")
        for fs in selectors
        for rv in ("", "0")
    ]
    await store.create(nodes, "", "n1", orjson.dumps({"metadata": {"name": "n1"}}))
    watches.append(store.watch(nodes, resource_version="0"))
    # Start those that have a first event to give (an initial ADDED).
    first = await asyncio.gather(*(asyncio.wait_for(anext(w), 5) for w in watches[:6]))
    first.append(await asyncio.wait_for(anext(watches[-1]), 5))
    assert [e.type for e in first] == ["ADDED"] * 7
    for rv in ("0", "", "1"):
        await store.list(pods, resource_version=rv)
    for w in watches:
        await w.aclose()
    assert counting.watches == 1 + 1  # pods, nodes


NODES = ["n0", "n1", "n2", "n3"]


async def test_fan_out_by_selector(store: Store, pods: ResourceRef) -> None:
    """Watchers indexed by field value (kubelets watching spec.nodeName), by name, by
    namespace and by label each get exactly their events, in order; a pod that moves
    node is DELETED for one and ADDED for the other."""
    start = str(await store.backend.current_revision())
    per_node = {
        n: store.watch(pods, field_selector=f"spec.nodeName={n}", resource_version=start)
        for n in NODES
    }
    everything = store.watch(pods, resource_version=start)
    by_name = store.watch(pods, field_selector="metadata.name=p1", resource_version=start)
    by_label = store.watch(pods, "ns2", label_selector="app=web", resource_version=start)
    p0 = await store.create(pods, "ns1", "p0", pod("p0", "ns1", node="n0"))
    p1 = await store.create(pods, "ns2", "p1", pod("p1", "ns2", node="n1", app="web"))
    p2 = await store.create(pods, "ns2", "p2", pod("p2", "ns2", node="n1"))
    moved = await store.update(
        pods,
        "ns2",
        "p1",
        pod("p1", "ns2", node="n2", app="web"),
        expected_revision=p1.resource_version,
    )
    gone = await store.delete(pods, "ns1", "p0")
    expected = {
        "n0": [("ADDED", "p0", p0.resource_version), ("DELETED", "p0", gone.resource_version)],
        "n1": [
            ("ADDED", "p1", p1.resource_version),
            ("ADDED", "p2", p2.resource_version),
            ("DELETED", "p1", moved.resource_version),
        ],
        "n2": [("ADDED", "p1", moved.resource_version)],
    }
    for node, events in expected.items():
        async with aclosing(per_node[node]) as w:
            assert await next_events(w, len(events)) == events
    async with aclosing(everything) as w:
        assert [e[:2] for e in await next_events(w, 5)] == [
            ("ADDED", "p0"),
            ("ADDED", "p1"),
            ("ADDED", "p2"),
            ("MODIFIED", "p1"),
            ("DELETED", "p0"),
        ]
    for w in (by_name, by_label):
        async with aclosing(w):
            assert await next_events(w, 2) == [
                ("ADDED", "p1", p1.resource_version),
                ("MODIFIED", "p1", moved.resource_version),
            ]
    # n3 saw nothing: its next event is the first one on n3.
    async with aclosing(per_node["n3"]) as w:
        p3 = await store.create(pods, "ns1", "p3", pod("p3", "ns1", node="n3"))
        assert await next_events(w, 1) == [("ADDED", "p3", p3.resource_version)]


async def test_slow_watcher_is_closed(make_store: StoreFactory, pods: ResourceRef) -> None:
    """A watcher whose buffer is full is closed — its stream ends — without holding up
    the others; resuming from its last resourceVersion gives it the rest, once each."""
    store = make_store(cache=CacheConfig(watcher_buffer=4))
    start = str(await store.backend.current_revision())
    slow = store.watch(pods, resource_version=start)
    fast = store.watch(pods, resource_version=start)
    first = await store.create(pods, "ns", "x0", pod("x0"))
    assert await next_events(slow, 1) == [("ADDED", "x0", first.resource_version)]
    made = [first]
    async with aclosing(fast):
        assert await next_events(fast, 1) == [("ADDED", "x0", first.resource_version)]
        for i in range(1, 10):  # the fast watcher reads as the writes come
            made.append(await store.create(pods, "ns", f"x{i}", pod(f"x{i}")))
            assert await next_events(fast, 1) == [("ADDED", f"x{i}", made[-1].resource_version)]
    assert await drain(slow) == []  # closed once 4 events were waiting
    cache = await cache_of(store, pods)
    assert cache.watcher_count == 0
    async with aclosing(store.watch(pods, resource_version=str(first.resource_version))) as w:
        assert await next_events(w, 9) == [
            ("ADDED", f"x{i}", m.resource_version) for i, m in enumerate(made) if i
        ]


async def test_resumes_after_the_backend_went_away(
    make_store: StoreFactory, backend: Backend, pods: ResourceRef
) -> None:
    """The backend's watch fails (etcd restarted): the cache resumes from its last
    revision; clients see what was written meanwhile, with no gap and no duplicate,
    and meanwhile reads at resourceVersion 0 are served from the cache."""
    cuttable = Cuttable(backend)
    store = make_store(backend=cuttable)
    a = await store.create(pods, "ns", "a", pod("a"))
    async with aclosing(store.watch(pods, "ns", resource_version=str(a.resource_version))) as w:
        await caught_up(store, pods, a.resource_version)
        await cuttable.cut()
        b = await store.create(pods, "ns", "b", pod("b"))
        a2 = await store.update(
            pods, "ns", "a", pod("a", v="2"), expected_revision=a.resource_version
        )
        assert names((await store.list(pods, "ns", resource_version="0")).items) == ["a"]
        cuttable.restore()
        c = await store.create(pods, "ns", "c", pod("c"))
        assert await next_events(w, 3) == [
            ("ADDED", "b", b.resource_version),
            ("MODIFIED", "a", a2.resource_version),
            ("ADDED", "c", c.resource_version),
        ]
    assert cuttable.watches >= 2


async def test_relists_after_a_compaction_during_the_outage(
    make_store: StoreFactory, backend: Backend, pods: ResourceRef
) -> None:
    """If the history the cache would resume from was compacted meanwhile, it lists
    again: watches end (clients resume, get 410 and relist) and lists show the new
    state."""
    cuttable = Cuttable(backend)
    store = make_store(backend=cuttable)
    a = await store.create(pods, "ns", "a", pod("a"))
    watch = store.watch(pods, "ns", resource_version=str(a.resource_version))
    await caught_up(store, pods, a.resource_version)
    await cuttable.cut()
    b = await store.create(pods, "ns", "b", pod("b"))
    c = await store.create(pods, "ns", "c", pod("c"))
    await backend.compact(c.resource_version)
    cuttable.restore()
    assert await drain(watch) == []  # ended by the relist
    await caught_up(store, pods, c.resource_version)
    assert names((await store.list(pods, "ns", resource_version="0")).items) == ["a", "b", "c"]
    events = await drain(store.watch(pods, "ns", resource_version=str(b.resource_version)))
    assert [(e.type, orjson.loads(e.object)["code"]) for e in events] == [("ERROR", 410)]


async def test_consistent_watch_when_the_cache_lags(
    make_store: StoreFactory, backend: Backend, pods: ResourceRef
) -> None:
    """A watch from "" must start from a state at least as new as etcd's: when the cache
    has not caught up, its initial state comes from the backend, and the events the
    cache applies later are not sent twice."""
    cuttable = Cuttable(backend)
    store = make_store(backend=cuttable)
    a = await store.create(pods, "ns", "a", pod("a"))
    await caught_up(store, pods, a.resource_version)
    await cuttable.cut()  # the cache stops hearing of changes
    b = await store.create(pods, "ns", "b", pod("b"))
    async with aclosing(store.watch(pods, "ns", resource_version="")) as w:
        assert await next_events(w, 2) == [
            ("ADDED", "a", a.resource_version),
            ("ADDED", "b", b.resource_version),
        ]
        cuttable.restore()
        b2 = await store.update(
            pods, "ns", "b", pod("b", v="2"), expected_revision=b.resource_version
        )
        assert await next_events(w, 1) == [("MODIFIED", "b", b2.resource_version)]


async def test_bookmarks_from_progress_notifications(pods: ResourceRef, nodes: ResourceRef) -> None:
    """Where the backend's progress notifications are safe, bookmarks follow the store's
    revision even when nothing changes under the watched prefix."""
    backend = MemoryBackend()
    store = Store(backend, bookmark_interval=0.02)
    try:
        a = await store.create(pods, "ns", "a", pod("a"))
        watch = store.watch(pods, resource_version=str(a.resource_version), allow_bookmarks=True)
        async with aclosing(watch) as w:
            first = await next_event(w)
            assert (first.type, first.resource_version) == ("BOOKMARK", a.resource_version)
            other = await store.create(nodes, "", "n1", orjson.dumps({"metadata": {"name": "n1"}}))
            while (event := await next_event(w)).resource_version < other.resource_version:
                assert event.type == "BOOKMARK"
            assert (event.type, event.resource_version) == ("BOOKMARK", other.resource_version)
    finally:
        await store.close()
        await backend.close()


@pytest.mark.parametrize(
    ("version", "safe"),
    [
        ("3.5.1", False),
        ("3.5.12", False),
        ("3.5.13", True),
        ("3.4.30", False),
        ("3.4.31", True),
        ("3.6.0", True),
        ("3.6.0-alpha.0", True),
        ("garbage", False),
    ],
)
def test_etcd_progress_is_trusted_from_fixed_versions(version: str, safe: bool) -> None:
    """etcd-io/etcd#15220: older etcds may answer a progress request ahead of events."""
    assert progress_supported(version) is safe


@pytest.mark.integration
async def test_etcd_progress_notifications(
    etcd: EtcdProcess,
    pods: ResourceRef,
    nodes: ResourceRef,
    prefix: str,
) -> None:
    """The etcd watch stream's progress request plumbing (forced on: this etcd is older
    than the versions whose progress is trusted by default)."""
    backend = etcd.backend(trust_progress=True)
    try:
        current = await backend.current_revision()
        stream = backend.watch(f"{prefix}/pods/", current + 1)
        pending = asyncio.ensure_future(stream.__anext__())
        await asyncio.sleep(0)
        other = await backend.create(f"{prefix}/minions/n1", b"{}")
        while not stream.request_progress():  # the stream is being created
            await asyncio.sleep(0.01)
        batch = await asyncio.wait_for(pending, 5)
        assert batch.events == []
        assert batch.revision >= other
        await stream.aclose()
        assert await etcd.backend().progress_is_safe() is False  # etcd 3.5.1
    finally:
        await backend.close()


@pytest.mark.integration
async def test_survives_an_etcd_restart(etcd_factory: Callable[[], Any], pods: ResourceRef) -> None:
    """etcd killed under a live watch and restarted on the same data: the watch stays
    open and gets what is written after, exactly once; resourceVersion=0 reads keep
    being served from the cache while etcd is down; quorum reads fail with 503."""
    etcd = etcd_factory()
    backend = etcd.backend()
    store = Store(backend, future_wait=0.3)
    try:
        a = await store.create(pods, "ns", "a", pod("a"))
        async with aclosing(store.watch(pods, "ns", resource_version=str(a.resource_version))) as w:
            b = await store.create(pods, "ns", "b", pod("b"))
            assert await next_events(w, 1) == [("ADDED", "b", b.resource_version)]
            etcd.stop()
            assert names((await store.list(pods, "ns", resource_version="0")).items) == ["a", "b"]
            with pytest.raises(storage_errors.Unavailable):
                await store.get(pods, "ns", "a")
            etcd.start()
            deadline = asyncio.get_running_loop().time() + 15
            while True:
                try:
                    c = await store.create(pods, "ns", "c", pod("c"))
                    break
                except storage_errors.Unavailable:
                    assert asyncio.get_running_loop().time() < deadline
                    await asyncio.sleep(0.1)
            assert await next_non_bookmarks(w, 1) == [("ADDED", "c", c.resource_version)]
            d = await store.create(pods, "ns", "d", pod("d"))
            assert await next_non_bookmarks(w, 1) == [("ADDED", "d", d.resource_version)]
        assert meta((await store.get(pods, "ns", "c")).object)["name"] == "c"
    finally:
        await store.close()
        await backend.close()
