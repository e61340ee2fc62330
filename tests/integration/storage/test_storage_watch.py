"""The storage conformance suite, watch part: every watch is served by the watch cache.

Mirrors k8s.io/apiserver ``pkg/storage/testing/watcher_tests.go`` and the
sig-api-machinery watch conformance tests; each test names what it follows. On the
memory backend and a real etcd (``conftest.py``).
"""

from __future__ import annotations

from contextlib import aclosing

import orjson
import pytest
from storage_helpers import (
    StoreFactory,
    cache_of,
    caught_up,
    drain,
    meta,
    next_event,
    next_events,
    next_non_bookmarks,
    pod,
)

from services.storage.cache import CacheConfig
from services.storage.model import ResourceRef
from services.storage.store import Store
from services.storage.watch import INITIAL_EVENTS_END

# --- watcher_tests.go ------------------------------------------------------------------


async def test_watch_from_revision(store: Store, pods: ResourceRef) -> None:
    """RunTestWatch / RunTestWatchFromNonZero: the changes after a revision, in order."""
    a = await store.create(pods, "ns", "a", pod("a"))
    b = await store.create(pods, "ns", "b", pod("b"))
    async with aclosing(store.watch(pods, "ns", resource_version=str(a.resource_version))) as w:
        updated = await store.update(
            pods, "ns", "a", pod("a", v="2"), expected_revision=a.resource_version
        )
        deleted = await store.delete(pods, "ns", "b")
        assert await next_events(w, 3) == [
            ("ADDED", "b", b.resource_version),
            ("MODIFIED", "a", updated.resource_version),
            ("DELETED", "b", deleted.resource_version),
        ]


async def test_watch_from_zero(store: Store, pods: ResourceRef) -> None:
    """RunTestWatchFromZero: the current state as ADDED first, then changes; works after
    the history is compacted."""
    a = await store.create(pods, "ns", "a", pod("a"))
    a2 = await store.update(pods, "ns", "a", pod("a", v="2"), expected_revision=a.resource_version)
    await store.backend.compact(a2.resource_version)
    initial = [("ADDED", "a", a2.resource_version)]
    for rv in ("", "0"):
        async with aclosing(store.watch(pods, "ns", resource_version=rv)) as w:
            assert await next_events(w, len(initial)) == initial
            b = await store.create(pods, "ns", f"b{rv}", pod(f"b{rv}"))
            assert await next_events(w, 1) == [("ADDED", f"b{rv}", b.resource_version)]
        initial.append(("ADDED", f"b{rv}", b.resource_version))


async def test_delete_trigger_watch(store: Store, pods: ResourceRef) -> None:
    """RunTestDeleteTriggerWatch / RunTestWatchDeleteEventObjectHaveLatestRV: DELETED
    carries the last state, with the delete's revision as its resourceVersion."""
    a = await store.create(pods, "ns", "a", pod("a", keep="me"))
    async with aclosing(store.watch(pods, "ns", resource_version=str(a.resource_version))) as w:
        deleted = await store.delete(pods, "ns", "a")
        event = await next_event(w)
    assert event.type == "DELETED"
    assert event.resource_version == deleted.resource_version
    assert meta(event.object)["resourceVersion"] == str(deleted.resource_version)
    assert meta(event.object)["labels"] == {"keep": "me"}


async def test_namespace_and_cluster_scoped_watch(
    store: Store, pods: ResourceRef, nodes: ResourceRef
) -> None:
    """RunTestNamespaceScopedWatch / RunTestClusterScopedWatch."""
    start = str(await store.backend.current_revision())
    async with (
        aclosing(store.watch(pods, "ns2", resource_version=start)) as in_ns,
        aclosing(store.watch(nodes, resource_version=start)) as cluster,
    ):
        await store.create(pods, "ns1", "x", pod("x", "ns1"))
        await store.create(pods, "ns2", "y", pod("y", "ns2"))
        await store.create(nodes, "", "n1", orjson.dumps({"metadata": {"name": "n1"}}))
        assert [e[:2] for e in await next_events(in_ns, 1)] == [("ADDED", "y")]
        assert [e[:2] for e in await next_events(cluster, 1)] == [("ADDED", "n1")]


async def test_watch_with_selectors(store: Store, pods: ResourceRef) -> None:
    """Watchers conformance: an object that stops matching is DELETED, one that starts
    matching ADDED; changes outside the selection are not seen."""
    a = await store.create(pods, "ns", "a", pod("a", app="web"))
    b = await store.create(pods, "ns", "b", pod("b", app="db"))
    start = str(b.resource_version)
    async with aclosing(
        store.watch(pods, "ns", label_selector="app=web", resource_version=start)
    ) as w:
        moved = await store.update(
            pods, "ns", "a", pod("a", app="db"), expected_revision=a.resource_version
        )
        await store.update(
            pods, "ns", "b", pod("b", app="db", v="2"), expected_revision=b.resource_version
        )  # never matched: unseen
        back = await store.update(
            pods, "ns", "a", pod("a", app="web"), expected_revision=moved.resource_version
        )
        again = await store.update(
            pods, "ns", "a", pod("a", app="web", v="3"), expected_revision=back.resource_version
        )
        gone = await store.delete(pods, "ns", "a")
        events = await next_events(w, 4)
    assert events == [
        ("DELETED", "a", moved.resource_version),
        ("ADDED", "a", back.resource_version),
        ("MODIFIED", "a", again.resource_version),
        ("DELETED", "a", gone.resource_version),
    ]


async def test_watch_with_field_selector(store: Store, pods: ResourceRef) -> None:
    start = str(await store.backend.current_revision())
    async with aclosing(
        store.watch(pods, field_selector="metadata.name=b", resource_version=start)
    ) as w:
        await store.create(pods, "ns", "a", pod("a"))
        b = await store.create(pods, "ns", "b", pod("b"))
        assert await next_events(w, 1) == [("ADDED", "b", b.resource_version)]


async def test_watch_compacted(store: Store, pods: ResourceRef) -> None:
    """RunTestWatchError (compaction) / RunTestWatchFromZero: a watch from before the
    cache's window gets an in-band ERROR 410 naming the oldest resourceVersion it can
    start from, then the stream ends; a watch from that one works."""
    a = await store.create(pods, "ns", "a", pod("a"))
    a2 = await store.update(pods, "ns", "a", pod("a", v="2"), expected_revision=a.resource_version)
    a3 = await store.update(pods, "ns", "a", pod("a", v="3"), expected_revision=a2.resource_version)
    await store.backend.compact(a3.resource_version)
    async with aclosing(store.watch(pods, "ns", resource_version=str(a.resource_version))) as w:
        event = await next_event(w)
        assert event.type == "ERROR"
        status = orjson.loads(event.object)
        assert (status["code"], status["reason"]) == (410, "Expired")
        # The cache listed at the latest revision: history before it is not served.
        assert status["message"] == (
            f"too old resource version: {a.resource_version} ({a3.resource_version})"
        )
        with pytest.raises(StopAsyncIteration):
            await next_event(w)
    # The oldest resourceVersion still watchable is the one the message names.
    async with aclosing(store.watch(pods, "ns", resource_version=str(a3.resource_version))) as w:
        b = await store.create(pods, "ns", "b", pod("b"))
        assert await next_events(w, 1) == [("ADDED", "b", b.resource_version)]


async def test_watcher_timeout(store: Store, pods: ResourceRef) -> None:
    """RunTestWatcherTimeout: the stream ends cleanly when its timeout passes."""
    start = str(await store.backend.current_revision())
    async with aclosing(store.watch(pods, resource_version=start, timeout_seconds=0.2)) as w:
        with pytest.raises(StopAsyncIteration):
            await next_event(w)


async def test_watch_bookmarks(store: Store, pods: ResourceRef) -> None:
    """RunTestWatchDispatchBookmarkEvents / WithCorrectResourceVersion: a bookmark
    carries the last revision the stream has covered, never less."""
    start = await store.create(pods, "ns", "a", pod("a"))
    async with aclosing(
        store.watch(
            pods,
            "ns",
            label_selector="app=web",
            allow_bookmarks=True,
            resource_version=str(start.resource_version),
        )
    ) as w:
        first = await next_event(w)
        assert first.type == "BOOKMARK"
        assert orjson.loads(first.object) == {
            "metadata": {"resourceVersion": str(start.resource_version)}
        }
        unseen = await store.create(pods, "ns", "b", pod("b", app="db"))  # filtered out
        while True:  # bookmarks move up to the filtered event's revision
            event = await next_event(w)
            assert event.type == "BOOKMARK"
            assert event.resource_version >= start.resource_version
            if event.resource_version == unseen.resource_version:
                break


async def test_send_initial_events(store: Store, pods: ResourceRef) -> None:
    """RunWatchSemantics (sendInitialEvents): ADDED per object, then the end bookmark."""
    a = await store.create(pods, "ns", "a", pod("a"))
    b = await store.create(pods, "ns", "b", pod("b"))
    async with aclosing(
        store.watch(
            pods,
            "ns",
            send_initial_events=True,
            allow_bookmarks=True,
            resource_version=str(a.resource_version),
        )
    ) as w:
        assert await next_events(w, 2) == [
            ("ADDED", "a", a.resource_version),
            ("ADDED", "b", b.resource_version),
        ]
        end = await next_event(w)
    assert end.type == "BOOKMARK"
    assert end.resource_version >= b.resource_version
    assert meta(end.object)["annotations"] == {INITIAL_EVENTS_END: "true"}


@pytest.mark.parametrize(
    ("rv", "send_initial_events", "bookmarks", "expected"),
    [
        ("", False, False, ["ADDED a", "ADDED b"]),
        ("0", False, False, ["ADDED a", "ADDED b"]),
        ("A", False, False, ["ADDED b"]),
        ("B", False, False, []),
        ("", True, True, ["ADDED a", "ADDED b", "END"]),
        ("0", True, True, ["ADDED a", "ADDED b", "END"]),
        ("A", True, True, ["ADDED a", "ADDED b", "END"]),
        ("", True, False, ["ADDED a", "ADDED b"]),
    ],
)
async def test_watch_semantics(
    store: Store,
    pods: ResourceRef,
    rv: str,
    send_initial_events: bool,
    bookmarks: bool,
    expected: list[str],
) -> None:
    """RunWatchSemantics / RunSendInitialEventsBackwardCompatibility: what a watch sends
    first for each resourceVersion and sendInitialEvents, then the changes, each once."""
    a = await store.create(pods, "ns", "a", pod("a"))
    b = await store.create(pods, "ns", "b", pod("b"))
    start = {"A": a.resource_version, "B": b.resource_version}
    watch = store.watch(
        pods,
        "ns",
        resource_version=str(start.get(rv, rv)),
        send_initial_events=send_initial_events,
        allow_bookmarks=bookmarks,
    )
    async with aclosing(watch) as w:
        got = []
        while len(got) < len(expected):
            event = await next_event(w)
            if event.type == "BOOKMARK":
                annotations = meta(event.object).get("annotations")
                if annotations is None:
                    continue  # a periodic bookmark
                assert annotations == {INITIAL_EVENTS_END: "true"}
                assert event.resource_version >= b.resource_version
                got.append("END")
            else:
                got.append(f"{event.type} {meta(event.object)['name']}")
        assert got == expected
        c = await store.create(pods, "ns", "c", pod("c"))
        assert await next_non_bookmarks(w, 1) == [("ADDED", "c", c.resource_version)]


async def test_watch_list_match_single(store: Store, pods: ResourceRef) -> None:
    """RunWatchListMatchSingle: watch-list with a name selector sends that object only."""
    await store.create(pods, "ns", "a", pod("a"))
    b = await store.create(pods, "ns", "b", pod("b"))
    watch = store.watch(
        pods,
        "ns",
        field_selector="metadata.name=b",
        send_initial_events=True,
        allow_bookmarks=True,
    )
    async with aclosing(watch) as w:
        assert await next_events(w, 1) == [("ADDED", "b", b.resource_version)]
        end = await next_event(w)
        assert end.type == "BOOKMARK"
        assert meta(end.object)["annotations"] == {INITIAL_EVENTS_END: "true"}


async def test_send_initial_events_from_the_future(store: Store, pods: ResourceRef) -> None:
    """Watch-list not older than a revision never reached: an in-band 504 ERROR."""
    a = await store.create(pods, "ns", "a", pod("a"))
    future = a.resource_version + 1000
    watch = store.watch(
        pods,
        "ns",
        resource_version=str(future),
        send_initial_events=True,
        allow_bookmarks=True,
    )
    events = await drain(watch)
    assert [e.type for e in events] == ["ERROR"]
    status = orjson.loads(events[0].object)
    assert (status["code"], status["reason"]) == (504, "Timeout")
    assert status["message"].startswith(f"Timeout: Too large resource version: {future}")


async def test_watch_window_overflow(make_store: StoreFactory, pods: ResourceRef) -> None:
    """A bounded window: once events are dropped from it, a watch from before them gets
    410 naming the oldest resourceVersion still served, and that one replays the rest."""
    store = make_store(cache=CacheConfig(window_min_events=1, window_max_events=3))
    first = await store.create(pods, "ns", "p0", pod("p0"))
    await caught_up(store, pods, first.resource_version)
    made = [await store.create(pods, "ns", f"p{i}", pod(f"p{i}")) for i in range(1, 6)]
    await caught_up(store, pods, made[-1].resource_version)
    events = await drain(store.watch(pods, "ns", resource_version=str(first.resource_version)))
    assert [e.type for e in events] == ["ERROR"]
    oldest = made[1].resource_version  # p1 and p2 were dropped; p3.. are kept
    status = orjson.loads(events[0].object)
    assert (status["code"], status["message"]) == (
        410,
        f"too old resource version: {first.resource_version} ({oldest})",
    )
    async with aclosing(store.watch(pods, "ns", resource_version=str(oldest))) as w:
        assert await next_events(w, 3) == [
            ("ADDED", f"p{i}", made[i - 1].resource_version) for i in (3, 4, 5)
        ]


async def test_delayed_watch_delivery(store: Store, pods: ResourceRef) -> None:
    """RunTestDelayedWatchDelivery: events written while the client does not read are
    all delivered, in order, once it reads."""
    start = await store.create(pods, "ns", "start", pod("start"))
    async with aclosing(store.watch(pods, "ns", resource_version=str(start.resource_version))) as w:
        first = await store.create(pods, "ns", "x0", pod("x0"))
        assert await next_events(w, 1) == [("ADDED", "x0", first.resource_version)]
        made = [await store.create(pods, "ns", f"x{i}", pod(f"x{i}")) for i in range(1, 50)]
        assert await next_events(w, 49) == [
            ("ADDED", f"x{i}", m.resource_version) for i, m in enumerate(made, 1)
        ]


async def test_watch_close_releases_the_watcher(store: Store, pods: ResourceRef) -> None:
    """RunTestWatchContextCancel: a watch the client closes leaves the cache."""
    a = await store.create(pods, "ns", "a", pod("a"))
    cache = await cache_of(store, pods)
    async with aclosing(store.watch(pods, "ns", resource_version="0")) as w:
        assert await next_events(w, 1) == [("ADDED", "a", a.resource_version)]
        assert cache.watcher_count == 1
    assert cache.watcher_count == 0


async def test_concurrent_watches_see_the_same_order(store: Store, pods: ResourceRef) -> None:
    """Conformance "should receive events on concurrent watches in same order"."""
    start = str(await store.backend.current_revision())
    watches = [store.watch(pods, resource_version=start) for _ in range(3)]
    revision = 0
    for i in range(10):
        created = await store.create(pods, "ns", f"o{i % 4}{i}", pod(f"o{i % 4}{i}"))
        revision = created.resource_version
        if i % 3 == 0:
            revision = (await store.delete(pods, "ns", f"o{i % 4}{i}")).resource_version
    seen = []
    for w in watches:
        async with aclosing(w):
            events = []
            while not events or events[-1][2] < revision:
                events += await next_events(w, 1)
            seen.append(events)
    assert len(seen[0]) == 14
    assert seen[0] == seen[1] == seen[2]


async def test_restart_watching_from_the_last_resource_version(
    store: Store, pods: ResourceRef
) -> None:
    """Conformance "should be able to restart watching from the last resource version
    observed by the previous watch": nothing lost, nothing repeated."""
    start = str(await store.backend.current_revision())
    made = [await store.create(pods, "ns", f"r{i}", pod(f"r{i}")) for i in range(6)]
    async with aclosing(store.watch(pods, resource_version=start)) as w:
        first = await next_events(w, 3)
    async with aclosing(store.watch(pods, resource_version=str(first[-1][2]))) as w:
        rest = await next_events(w, 3)
    assert first + rest == [("ADDED", f"r{i}", m.resource_version) for i, m in enumerate(made)]


async def test_bookmark_before_the_timeout(make_store: StoreFactory, pods: ResourceRef) -> None:
    """kube-apiserver sends a bookmark 2 s before a watch times out, so the client
    resumes from a recent resourceVersion; then the stream ends."""
    store = make_store(bookmark_interval=3600)
    a = await store.create(pods, "ns", "a", pod("a"))
    watch = store.watch(
        pods,
        "ns",
        resource_version=str(a.resource_version),
        allow_bookmarks=True,
        timeout_seconds=2.05,
    )
    events = await drain(watch)
    assert [(e.type, e.resource_version) for e in events] == [("BOOKMARK", a.resource_version)]
