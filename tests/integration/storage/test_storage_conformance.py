"""The storage conformance suite: one table of behaviours, run on every backend.

Mirrors k8s.io/apiserver ``pkg/storage/testing`` (store_tests.go, watcher_tests.go):
each test names the upstream function it follows. Runs on the memory backend (a unit
test) and on a real etcd (``integration``), through the domain ``Store``, so the two
backends cannot drift (conventions §8).
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import orjson
import pytest

from kapi import errors
from services.storage import storage_errors
from services.storage.backend import Backend
from services.storage.etcd_backend import EtcdBackend
from services.storage.memory_backend import MemoryBackend
from services.storage.model import ResourceRef, WatchEvent
from services.storage.store import Store
from services.storage.watch import INITIAL_EVENTS_END

EVENT_TIMEOUT = 5.0


@pytest.fixture(params=["memory", pytest.param("etcd", marks=pytest.mark.integration)])
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Backend]:
    impl: Backend
    if request.param == "memory":
        impl = MemoryBackend()
    else:
        impl = EtcdBackend([request.getfixturevalue("etcd")])
    try:
        yield impl
    finally:
        await impl.close()


@pytest.fixture
def store(backend: Backend) -> Store:
    return Store(backend, bookmark_interval=0.05)


@pytest.fixture
def prefix() -> str:
    """A fresh key space per test: tests share one etcd."""
    return f"/registry-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def pods(prefix: str) -> ResourceRef:
    return ResourceRef("", "pods", f"{prefix}/pods", namespaced=True)


@pytest.fixture
def nodes(prefix: str) -> ResourceRef:
    return ResourceRef("", "nodes", f"{prefix}/nodes", namespaced=False)


def pod(name: str, namespace: str = "ns", **labels: str) -> bytes:
    meta: dict[str, Any] = {"name": name, "namespace": namespace}
    if labels:
        meta["labels"] = labels
    return orjson.dumps(
        {"apiVersion": "v1", "kind": "Pod", "metadata": meta, "spec": {"nodeName": "n1"}}
    )


def meta(data: bytes) -> dict[str, Any]:
    obj: dict[str, Any] = orjson.loads(data)
    return dict(obj["metadata"])


def names(items: list[bytes]) -> list[str]:
    return [meta(item)["name"] for item in items]


async def next_event(events: AsyncIterator[WatchEvent]) -> WatchEvent:
    return await asyncio.wait_for(anext(events), EVENT_TIMEOUT)


async def next_events(events: AsyncIterator[WatchEvent], n: int) -> list[tuple[str, str, int]]:
    """The next ``n`` events as (type, name, resourceVersion)."""
    out = []
    for _ in range(n):
        event = await next_event(events)
        out.append(
            (
                event.type,
                meta(event.object).get("name", ""),
                int(meta(event.object)["resourceVersion"]),
            )
        )
    return out


# --- store_tests.go --------------------------------------------------------------------


async def test_create(store: Store, pods: ResourceRef) -> None:
    """RunTestCreate: stored with a revision; the stored bytes carry no resourceVersion."""
    obj = orjson.loads(pod("a"))
    obj["metadata"]["resourceVersion"] = "999"  # cleared on the way in
    created = await store.create(pods, "ns", "a", orjson.dumps(obj))
    assert created.resource_version > 0
    assert meta(created.object)["resourceVersion"] == str(created.resource_version)

    raw = await store.backend.get(f"{pods.key_prefix}/ns/a")  # the layout kube uses
    assert "resourceVersion" not in meta(raw.value)
    assert raw.mod_revision == created.resource_version

    got = await store.get(pods, "ns", "a")
    assert got == created


async def test_create_cluster_scoped_key(store: Store, nodes: ResourceRef) -> None:
    """RunTestClusterScopedWatch's layout: ``{prefix}/{name}`` without a namespace."""
    await store.create(nodes, "", "n1", orjson.dumps({"metadata": {"name": "n1"}}))
    raw = await store.backend.get(f"{nodes.key_prefix}/n1")
    assert meta(raw.value)["name"] == "n1"


async def test_create_with_key_exist(store: Store, pods: ResourceRef) -> None:
    """RunTestCreateWithKeyExist: a second create fails and changes nothing."""
    first = await store.create(pods, "ns", "a", pod("a", x="1"))
    with pytest.raises(storage_errors.KeyExists):
        await store.create(pods, "ns", "a", pod("a", x="2"))
    assert await store.get(pods, "ns", "a") == first


@pytest.mark.parametrize(
    ("case", "name", "rv", "expect"),
    [
        ("quorum read", "a", "", "ok"),
        ("any", "a", "0", "ok"),
        ("not older than current", "a", "current", "ok"),
        ("too large resource version", "a", "future", storage_errors.FutureRevision),
        ("missing", "missing", "", storage_errors.KeyNotFound),
    ],
)
async def test_get(
    store: Store, pods: ResourceRef, case: str, name: str, rv: str, expect: Any
) -> None:
    """RunTestGet."""
    created = await store.create(pods, "ns", "a", pod("a"))
    rv = {
        "current": str(created.resource_version),
        "future": str(created.resource_version + 100),
    }.get(rv, rv)
    if expect == "ok":
        assert await store.get(pods, "ns", name, resource_version=rv) == created
    else:
        with pytest.raises(expect):
            await store.get(pods, "ns", name, resource_version=rv)


async def test_unconditional_delete(store: Store, pods: ResourceRef) -> None:
    """RunTestUnconditionalDelete: returns the object as it was; then it is gone."""
    created = await store.create(pods, "ns", "a", pod("a"))
    deleted = await store.delete(pods, "ns", "a")
    assert deleted.object == created.object
    assert deleted.resource_version > created.resource_version
    with pytest.raises(storage_errors.KeyNotFound):
        await store.get(pods, "ns", "a")
    with pytest.raises(storage_errors.KeyNotFound):
        await store.delete(pods, "ns", "a")


async def test_conditional_delete(store: Store, pods: ResourceRef) -> None:
    """RunTestConditionalDelete: a stale expected revision is a Conflict."""
    created = await store.create(pods, "ns", "a", pod("a"))
    with pytest.raises(storage_errors.Conflict):
        await store.delete(pods, "ns", "a", expected_revision=created.resource_version - 1)
    await store.get(pods, "ns", "a")  # still there
    deleted = await store.delete(pods, "ns", "a", expected_revision=created.resource_version)
    assert meta(deleted.object)["name"] == "a"
    with pytest.raises(storage_errors.KeyNotFound):
        await store.delete(pods, "ns", "a", expected_revision=created.resource_version)


async def test_guaranteed_update_cas(store: Store, pods: ResourceRef) -> None:
    """RunTestGuaranteedUpdate / WithConflict: compare-and-swap on the revision."""
    created = await store.create(pods, "ns", "a", pod("a", v="1"))
    updated = await store.update(
        pods, "ns", "a", pod("a", v="2"), expected_revision=created.resource_version
    )
    assert updated.resource_version > created.resource_version
    assert meta(updated.object)["labels"] == {"v": "2"}
    assert await store.get(pods, "ns", "a") == updated

    with pytest.raises(storage_errors.Conflict):  # the writer that lost the race
        await store.update(
            pods, "ns", "a", pod("a", v="3"), expected_revision=created.resource_version
        )
    assert await store.get(pods, "ns", "a") == updated
    with pytest.raises(storage_errors.KeyNotFound):
        await store.update(pods, "ns", "missing", pod("missing"), expected_revision=1)
    with pytest.raises(errors.StatusError) as err:  # no blind puts
        await store.update(pods, "ns", "a", pod("a"), expected_revision=0)
    assert err.value.code == 400


LIST_OBJECTS = [  # (namespace, name, labels)
    ("ns1", "a", {"app": "web", "tier": "front"}),
    ("ns1", "b", {"app": "db"}),
    ("ns2", "a", {"app": "web", "tier": "back"}),
    ("ns2", "c", {}),
    ("ns3", "d", {"app": "web"}),
]


@pytest.mark.parametrize(
    ("case", "namespace", "label_selector", "field_selector", "expected"),
    [
        ("all namespaces", "", "", "", ["ns1/a", "ns1/b", "ns2/a", "ns2/c", "ns3/d"]),
        ("one namespace", "ns2", "", "", ["ns2/a", "ns2/c"]),
        ("namespace that is a prefix of none", "ns", "", "", []),
        ("label equality", "", "app=web", "", ["ns1/a", "ns2/a", "ns3/d"]),
        ("label inequality", "", "app!=web", "", ["ns1/b", "ns2/c"]),
        ("label set", "", "app in (db,cache)", "", ["ns1/b"]),
        ("label notin", "", "tier notin (front)", "", ["ns1/b", "ns2/a", "ns2/c", "ns3/d"]),
        ("label exists", "", "tier", "", ["ns1/a", "ns2/a"]),
        ("label does not exist", "", "!app", "", ["ns2/c"]),
        ("labels and namespace", "ns1", "app=web", "", ["ns1/a"]),
        ("field name", "", "", "metadata.name=a", ["ns1/a", "ns2/a"]),
        ("field namespace", "", "", "metadata.namespace!=ns1", ["ns2/a", "ns2/c", "ns3/d"]),
        ("labels and fields", "", "app=web", "metadata.namespace=ns3", ["ns3/d"]),
        ("no match", "", "app=none", "", []),
    ],
)
async def test_list(
    store: Store,
    pods: ResourceRef,
    case: str,
    namespace: str,
    label_selector: str,
    field_selector: str,
    expected: list[str],
) -> None:
    """RunTestList / RunTestNamespaceScopedList / RunTestGetListRecursivePrefix."""
    for ns, name, labels in LIST_OBJECTS:
        await store.create(pods, ns, name, pod(name, ns, **labels))
    current = await store.backend.current_revision()
    listed = await store.list(
        pods, namespace, label_selector=label_selector, field_selector=field_selector
    )
    assert [f"{meta(i)['namespace']}/{meta(i)['name']}" for i in listed.items] == expected
    assert listed.resource_version == current
    assert listed.continue_token == ""
    assert listed.remaining_item_count is None


async def test_list_rejects_bad_selectors(store: Store, pods: ResourceRef) -> None:
    with pytest.raises(errors.StatusError) as err:
        await store.list(pods, label_selector="a in b")
    assert (err.value.code, err.value.message) == (
        400,
        "unable to parse requirement: found 'b' expected: '('",
    )
    with pytest.raises(errors.StatusError) as err:
        await store.list(pods, field_selector="nonsense")
    assert err.value.code == 400


async def test_list_continuation(store: Store, pods: ResourceRef) -> None:
    """RunTestListContinuation: pages at the first page's revision, remaining counts."""
    for name in ["a", "b", "c"]:
        await store.create(pods, "ns", name, pod(name))
    first = await store.list(pods, "ns", limit=1)
    assert names(first.items) == ["a"]
    assert first.continue_token
    assert first.remaining_item_count == 2

    # Writes between pages are not seen: every page reads the first page's snapshot.
    await store.create(pods, "ns", "bb", pod("bb"))
    await store.delete(pods, "ns", "c")

    second = await store.list(pods, "ns", limit=1, continue_token=first.continue_token)
    assert names(second.items) == ["b"]
    assert second.resource_version == first.resource_version
    assert second.remaining_item_count == 1
    third = await store.list(pods, "ns", limit=5, continue_token=second.continue_token)
    assert names(third.items) == ["c"]
    assert third.resource_version == first.resource_version
    assert third.continue_token == ""
    assert third.remaining_item_count is None

    # A fresh list sees the writes.
    assert names((await store.list(pods, "ns")).items) == ["a", "b", "bb"]


async def test_list_continuation_with_filter(store: Store, pods: ResourceRef) -> None:
    """RunTestListContinuationWithFilter: pages filled past non-matching keys; no count."""
    for name, app in [("a", "x"), ("b", "y"), ("c", "y"), ("d", "x"), ("e", "x"), ("f", "y")]:
        await store.create(pods, "ns", name, pod(name, app=app))
    first = await store.list(pods, "ns", label_selector="app=x", limit=2)
    assert names(first.items) == ["a", "d"]
    assert first.continue_token
    assert first.remaining_item_count is None  # unknown with a selector
    second = await store.list(
        pods, "ns", label_selector="app=x", limit=2, continue_token=first.continue_token
    )
    assert names(second.items) == ["e"]
    assert second.continue_token == ""


async def test_list_paging_across_namespaces(store: Store, pods: ResourceRef) -> None:
    """RunTestListPaging: a token continues across namespace boundaries."""
    for ns, name, labels in LIST_OBJECTS:
        await store.create(pods, ns, name, pod(name, ns, **labels))
    seen, token = [], ""
    while True:
        page = await store.list(pods, limit=2, continue_token=token)
        seen += [f"{meta(i)['namespace']}/{meta(i)['name']}" for i in page.items]
        token = page.continue_token
        if not token:
            break
    assert seen == ["ns1/a", "ns1/b", "ns2/a", "ns2/c", "ns3/d"]


async def test_list_rejects_bad_continue(store: Store, pods: ResourceRef) -> None:
    with pytest.raises(errors.StatusError) as err:
        await store.list(pods, limit=1, continue_token="not-a-token")
    assert err.value.code == 400
    assert err.value.message.startswith("invalid continue token: continue key is not valid")


async def test_list_resource_version_match(store: Store, pods: ResourceRef) -> None:
    """RunTestListResourceVersionMatch: Exact reads the past; NotOlderThan the present."""
    a = await store.create(pods, "ns", "a", pod("a"))
    await store.create(pods, "ns", "b", pod("b"))
    exact = await store.list(
        pods, "ns", resource_version=str(a.resource_version), resource_version_match="Exact"
    )
    assert names(exact.items) == ["a"]
    assert exact.resource_version == a.resource_version
    newer = await store.list(
        pods, "ns", resource_version=str(a.resource_version), resource_version_match="NotOlderThan"
    )
    assert names(newer.items) == ["a", "b"]
    future = str(a.resource_version + 100)
    with pytest.raises(storage_errors.FutureRevision):
        await store.list(pods, "ns", resource_version=future, resource_version_match="NotOlderThan")
    with pytest.raises(storage_errors.FutureRevision):
        await store.list(pods, "ns", resource_version=future, resource_version_match="Exact")


async def test_compact_revision(store: Store, pods: ResourceRef) -> None:
    """RunTestCompactRevision / RunTestListInconsistentContinuation."""
    a = await store.create(pods, "ns", "a", pod("a"))
    await store.create(pods, "ns", "b", pod("b"))
    first = await store.list(pods, "ns", limit=1)
    update = await store.update(
        pods, "ns", "a", pod("a", v="2"), expected_revision=a.resource_version
    )
    await store.backend.compact(update.resource_version)

    with pytest.raises(storage_errors.Compacted):  # the page's snapshot is gone
        await store.list(pods, "ns", limit=1, continue_token=first.continue_token)
    with pytest.raises(storage_errors.Compacted):
        await store.list(
            pods, "ns", resource_version=str(a.resource_version), resource_version_match="Exact"
        )
    with pytest.raises(storage_errors.Compacted):
        await store.backend.compact(a.resource_version)
    # The state at and after the compaction point is all still there.
    at = await store.list(
        pods, "ns", resource_version=str(update.resource_version), resource_version_match="Exact"
    )
    assert names(at.items) == ["a", "b"]


@pytest.mark.parametrize(
    ("case", "operation", "expect"),
    [
        ("create", "create", "ok"),
        ("create existing", "create-existing", storage_errors.KeyExists),
        ("update", "update", "ok"),
        ("update stale", "update-stale", storage_errors.Conflict),
        ("update missing", "update-missing", storage_errors.KeyNotFound),
        ("delete", "delete", "ok"),
        ("delete stale", "delete-stale", storage_errors.Conflict),
        ("delete missing", "delete-missing", storage_errors.KeyNotFound),
    ],
)
async def test_dry_run(
    store: Store, pods: ResourceRef, case: str, operation: str, expect: Any
) -> None:
    """Dry runs check preconditions exactly as real writes do and write nothing."""
    existing = await store.create(pods, "ns", "a", pod("a", v="1"))
    rev = existing.resource_version
    calls = {
        "create": lambda: store.create(pods, "ns", "new", pod("new"), dry_run=True),
        "create-existing": lambda: store.create(pods, "ns", "a", pod("a"), dry_run=True),
        "update": lambda: store.update(
            pods, "ns", "a", pod("a", v="2"), expected_revision=rev, dry_run=True
        ),
        "update-stale": lambda: store.update(
            pods, "ns", "a", pod("a", v="2"), expected_revision=rev - 1, dry_run=True
        ),
        "update-missing": lambda: store.update(
            pods, "ns", "x", pod("x"), expected_revision=rev, dry_run=True
        ),
        "delete": lambda: store.delete(pods, "ns", "a", expected_revision=rev, dry_run=True),
        "delete-stale": lambda: store.delete(
            pods, "ns", "a", expected_revision=rev - 1, dry_run=True
        ),
        "delete-missing": lambda: store.delete(pods, "ns", "x", dry_run=True),
    }
    if expect == "ok":
        result = await calls[operation]()
        if operation == "create":
            assert result.resource_version == 0
            assert "resourceVersion" not in meta(result.object)
        elif operation == "update":
            assert meta(result.object)["labels"] == {"v": "2"}
            assert result.resource_version == rev
        else:
            assert result.object == existing.object
    else:
        with pytest.raises(expect):
            await calls[operation]()
    assert await store.backend.current_revision() == rev  # nothing written
    assert names((await store.list(pods, "ns")).items) == ["a"]
    assert await store.get(pods, "ns", "a") == existing


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
    """RunTestWatchError (compaction): an in-band ERROR 410, then the stream ends."""
    a = await store.create(pods, "ns", "a", pod("a"))
    a2 = await store.update(pods, "ns", "a", pod("a", v="2"), expected_revision=a.resource_version)
    a3 = await store.update(pods, "ns", "a", pod("a", v="3"), expected_revision=a2.resource_version)
    await store.backend.compact(a3.resource_version)
    async with aclosing(store.watch(pods, "ns", resource_version=str(a.resource_version))) as w:
        event = await next_event(w)
        assert event.type == "ERROR"
        status = orjson.loads(event.object)
        assert (status["code"], status["reason"]) == (410, "Expired")
        assert status["message"] == (
            f"too old resource version: {a.resource_version} ({a3.resource_version - 1})"
        )
        with pytest.raises(StopAsyncIteration):
            await next_event(w)
    # The oldest resourceVersion still watchable is the one the message names.
    async with aclosing(
        store.watch(pods, "ns", resource_version=str(a3.resource_version - 1))
    ) as w:
        assert await next_events(w, 1) == [("MODIFIED", "a", a3.resource_version)]


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
