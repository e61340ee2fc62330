"""The storage conformance suite, store part: one table of behaviours on every backend.

Mirrors k8s.io/apiserver ``pkg/storage/testing/store_tests.go``: each test names the
upstream function it follows. Runs on the memory backend and on a real etcd
(``conftest.py``), through the domain ``Store``, so the two backends cannot drift
(conventions §8). Watches: ``test_storage_watch.py``; the watch cache itself:
``test_storage_cache.py``.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import pytest
from storage_helpers import Cuttable, StoreFactory, caught_up, meta, names, pod

from kapi import errors
from services.storage import storage_errors
from services.storage.backend import Backend
from services.storage.compactor import Compactor
from services.storage.model import Preconditions, ResourceRef
from services.storage.store import Store

# --- store_tests.go --------------------------------------------------------------------


async def test_create(store: Store, pods: ResourceRef, prefix: str) -> None:
    """RunTestCreate: stored with a revision; the stored bytes carry no resourceVersion."""
    obj = orjson.loads(pod("a"))
    obj["metadata"]["resourceVersion"] = "999"  # cleared on the way in
    created = await store.create(pods, "ns", "a", orjson.dumps(obj))
    assert created.resource_version > 0
    assert meta(created.object)["resourceVersion"] == str(created.resource_version)

    raw = await store.backend.get(f"{prefix}/pods/ns/a")  # the layout kube uses
    assert "resourceVersion" not in meta(raw.value)
    assert raw.mod_revision == created.resource_version

    got = await store.get(pods, "ns", "a")
    assert got == created


async def test_create_cluster_scoped_key(store: Store, nodes: ResourceRef, prefix: str) -> None:
    """RunTestClusterScopedWatch's layout: ``{prefix}/{name}`` without a namespace."""
    await store.create(nodes, "", "n1", orjson.dumps({"metadata": {"name": "n1"}}))
    raw = await store.backend.get(f"{prefix}/minions/n1")
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


async def test_concurrent_quorum_gets_each_get_their_own_object(
    store: Store, pods: ResourceRef
) -> None:
    """Quorum gets made together (the etcd backend reads them in one Txn) each answer
    for their own key: the object, or KeyNotFound."""
    created = {
        name: await store.create(pods, "ns", name, pod(name)) for name in ("a", "b", "c", "d")
    }
    wanted = ["a", "x", "b", "c", "y", "d"] * 20
    results = await asyncio.gather(
        *(store.get(pods, "ns", name) for name in wanted), return_exceptions=True
    )
    for name, result in zip(wanted, results, strict=True):
        if name in created:
            assert result == created[name]
        else:
            assert isinstance(result, storage_errors.KeyNotFound)


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


# --- resourceVersion on reads ------------------------------------------------------------


async def test_get_resource_versions(store: Store, pods: ResourceRef) -> None:
    """RunTestGet: "" is a quorum read; "0" and N come from the watch cache once it has
    caught up; N the cache has not reached is answered by the backend."""
    a = await store.create(pods, "ns", "a", pod("a"))
    a2 = await store.update(pods, "ns", "a", pod("a", v="2"), expected_revision=a.resource_version)
    assert await store.get(pods, "ns", "a") == a2
    # Not older than a2: the cache when it has it, else the backend; never the old a.
    assert await store.get(pods, "ns", "a", resource_version=str(a2.resource_version)) == a2
    await caught_up(store, pods, a2.resource_version)
    assert await store.get(pods, "ns", "a", resource_version="0") == a2
    assert await store.get(pods, "ns", "a", resource_version=str(a.resource_version)) == a2
    with pytest.raises(storage_errors.KeyNotFound):
        await store.get(pods, "ns", "missing", resource_version="0")


async def test_get_future_resource_version_waits(
    make_store: StoreFactory, pods: ResourceRef
) -> None:
    """A resourceVersion the store has not reached yet is waited for (kube-apiserver's
    watch cache waits up to 3 s), then served."""
    store = make_store(future_wait=10.0)
    await store.create(pods, "ns", "a", pod("a"))
    target = await store.backend.current_revision() + 1
    read = asyncio.create_task(store.get(pods, "ns", "a", resource_version=str(target)))
    for _ in range(5):
        await asyncio.sleep(0)
    assert not read.done()  # the revision does not exist yet
    b = await store.create(pods, "ns", "b", pod("b"))
    assert b.resource_version == target
    got = await asyncio.wait_for(read, 5)
    assert meta(got.object)["name"] == "a"


@pytest.mark.parametrize("call", ["get", "list", "list-exact"])
async def test_future_resource_version_times_out(
    store: Store, pods: ResourceRef, call: str
) -> None:
    """A revision not reached within the wait: FutureRevision (504 "Too large resource
    version" at the API), naming the current revision."""
    await store.create(pods, "ns", "a", pod("a"))
    current = await store.backend.current_revision()
    future = str(current + 1000)
    with pytest.raises(storage_errors.FutureRevision) as err:
        if call == "get":
            await store.get(pods, "ns", "a", resource_version=future)
        elif call == "list":
            await store.list(pods, "ns", resource_version=future)
        else:
            await store.list(pods, "ns", resource_version=future, resource_version_match="Exact")
    assert (err.value.revision, err.value.current) == (current + 1000, current)


LIST_RV_CASES = [
    # (case, resourceVersion, match, limit, expected names, expected list revision)
    ("quorum", "", "", 0, ["a", "b"], "current"),
    ("any, from the cache", "0", "", 0, ["a", "b"], "current"),
    ("any, not older than", "0", "NotOlderThan", 0, ["a", "b"], "current"),
    ("not older than B", "B", "NotOlderThan", 0, ["a", "b"], "current"),
    ("not older than A, default match", "A", "", 0, ["a", "b"], "current"),
    ("exact B sees a as it was", "B", "Exact", 0, ["a@A", "b"], "B"),
    ("exact A", "A", "Exact", 0, ["a@A"], "A"),
    ("legacy: a limit makes N exact", "B", "", 5, ["a@A", "b"], "B"),
    ("not older than, with a limit", "B", "NotOlderThan", 5, ["a", "b"], "current"),
]


@pytest.mark.parametrize(("case", "rv", "match", "limit", "expected", "revision"), LIST_RV_CASES)
async def test_list_resource_versions(
    store: Store,
    pods: ResourceRef,
    case: str,
    rv: str,
    match: str,
    limit: int,
    expected: list[str],
    revision: str,
) -> None:
    """RunTestList / RunTestListResourceVersionMatch / RunTestConsistentList."""
    a = await store.create(pods, "ns", "a", pod("a"))
    b = await store.create(pods, "ns", "b", pod("b"))
    a2 = await store.update(pods, "ns", "a", pod("a", v="2"), expected_revision=a.resource_version)
    await caught_up(store, pods, a2.resource_version)
    revisions = {"A": a.resource_version, "B": b.resource_version, "current": a2.resource_version}
    listed = await store.list(
        pods,
        "ns",
        resource_version=str(revisions.get(rv, rv)) if rv else rv,
        resource_version_match=match,
        limit=limit,
    )
    seen = [
        f"{meta(i)['name']}@A"
        if int(meta(i)["resourceVersion"]) == a.resource_version
        else meta(i)["name"]
        for i in listed.items
    ]
    assert seen == expected
    assert listed.resource_version == revisions[revision]
    assert listed.continue_token == ""


async def test_list_at_zero_ignores_the_limit(store: Store, pods: ResourceRef) -> None:
    """resourceVersion=0 with a limit: every object from the cache in one reply, no
    continue token (kube 1.32's cacher: "limits are ignored when resource version is
    zero"); the same limit at a quorum read pages from the backend."""
    for name in "abcd":
        last = await store.create(pods, "ns", name, pod(name))
    await caught_up(store, pods, last.resource_version)
    whole = await store.list(pods, "ns", resource_version="0", limit=3)
    assert names(whole.items) == ["a", "b", "c", "d"]
    assert whole.resource_version == last.resource_version
    assert whole.continue_token == ""
    page = await store.list(pods, "ns", limit=3)
    assert names(page.items) == ["a", "b", "c"]
    assert page.continue_token and page.remaining_item_count == 1


async def test_list_from_cache_paginates_not_older_than(store: Store, pods: ResourceRef) -> None:
    """A revision with NotOlderThan and a limit: the first page from the cache at its
    revision, the rest through the token at that same revision (a consistent snapshot)."""
    for name in "abcd":
        last = await store.create(pods, "ns", name, pod(name))
    await caught_up(store, pods, last.resource_version)
    first = await store.list(
        pods,
        "ns",
        resource_version=str(last.resource_version),
        resource_version_match="NotOlderThan",
        limit=3,
    )
    assert names(first.items) == ["a", "b", "c"]
    assert first.resource_version == last.resource_version
    assert first.remaining_item_count == 1
    await store.create(pods, "ns", "e", pod("e"))  # after the snapshot: not in it
    rest = await store.list(pods, "ns", limit=3, continue_token=first.continue_token)
    assert names(rest.items) == ["d"]
    assert rest.resource_version == first.resource_version
    assert rest.continue_token == ""


@pytest.mark.parametrize(
    ("label_selector", "field_selector", "namespace", "expected"),
    [
        ("app=web", "", "", ["ns1/a", "ns2/a"]),
        ("", "metadata.name=a", "", ["ns1/a", "ns2/a"]),
        ("", "metadata.name=a", "ns2", ["ns2/a"]),
        ("", "metadata.name=a,metadata.namespace=ns1", "", ["ns1/a"]),
        ("", "spec.nodeName=n2", "", ["ns1/b"]),
        ("", "spec.nodeName!=n2", "ns1", ["ns1/a"]),
        ("app", "metadata.namespace!=ns1", "", ["ns2/a"]),
    ],
)
async def test_list_from_cache_with_selectors(
    store: Store,
    pods: ResourceRef,
    label_selector: str,
    field_selector: str,
    namespace: str,
    expected: list[str],
) -> None:
    """The cache selects as the backend path does (same objects, same order)."""
    await store.create(pods, "ns1", "a", pod("a", "ns1", app="web"))
    await store.create(pods, "ns1", "b", pod("b", "ns1", node="n2"))
    last = await store.create(pods, "ns2", "a", pod("a", "ns2", app="web"))
    await caught_up(store, pods, last.resource_version)
    for rv in ("0", ""):
        listed = await store.list(
            pods,
            namespace,
            label_selector=label_selector,
            field_selector=field_selector,
            resource_version=rv,
        )
        assert [f"{meta(i)['namespace']}/{meta(i)['name']}" for i in listed.items] == expected


async def test_list_served_from_cache_while_backend_is_down(
    make_store: StoreFactory, backend: Backend, pods: ResourceRef
) -> None:
    """resourceVersion=0 never touches etcd: lists and gets keep working while it is
    down; a quorum read fails with Unavailable."""
    cuttable = Cuttable(backend)
    store = make_store(backend=cuttable)
    a = await store.create(pods, "ns", "a", pod("a"))
    await caught_up(store, pods, a.resource_version)
    await cuttable.cut(reads=True)
    assert names((await store.list(pods, "ns", resource_version="0")).items) == ["a"]
    assert await store.get(pods, "ns", "a", resource_version="0") == a
    with pytest.raises(storage_errors.Unavailable):
        await store.list(pods, "ns")
    with pytest.raises(storage_errors.Unavailable):
        await store.get(pods, "ns", "a")


# --- pagination ------------------------------------------------------------------------------


async def test_list_inconsistent_continuation(store: Store, pods: ResourceRef) -> None:
    """RunTestListInconsistentContinuation: a token whose snapshot was compacted is
    ContinueExpired, carrying a token that continues from the same key at the latest
    revision (so the rest reflects later writes)."""
    for name in "abc":
        await store.create(pods, "ns", name, pod(name))
    first = await store.list(pods, "ns", limit=1)
    assert names(first.items) == ["a"]
    await store.delete(pods, "ns", "c")
    bb = await store.create(pods, "ns", "bb", pod("bb"))
    await store.backend.compact(bb.resource_version)
    with pytest.raises(storage_errors.ContinueExpired) as err:
        await store.list(pods, "ns", limit=1, continue_token=first.continue_token)
    assert err.value.continue_token
    rest = await store.list(pods, "ns", limit=10, continue_token=err.value.continue_token)
    assert names(rest.items) == ["b", "bb"]
    assert rest.resource_version >= bb.resource_version
    assert rest.continue_token == ""


async def test_list_pagination_rare_object(store: Store, pods: ResourceRef) -> None:
    """RunTestListPaginationRareObject: a page with a selector is filled past the keys that
    do not match, in one call, however rare the match."""
    for i in range(150):
        await store.create(pods, "ns", f"p{i:03d}", pod(f"p{i:03d}"))
    await store.create(pods, "ns", "rare", pod("rare", app="rare"))
    listed = await store.list(pods, "ns", label_selector="app=rare", limit=1)
    assert names(listed.items) == ["rare"]
    assert listed.continue_token == ""


# --- writes with preconditions ---------------------------------------------------------------


def with_uid(name: str, uid: str, **labels: str) -> bytes:
    obj = orjson.loads(pod(name, **labels))
    obj["metadata"]["uid"] = uid
    return orjson.dumps(obj)


async def test_delete_with_preconditions(store: Store, pods: ResourceRef) -> None:
    """RunTestPreconditionalDeleteWithSuggestion / RunTestValidateDeletionWithSuggestion:
    a delete only when the current object's uid / resourceVersion are the expected."""
    created = await store.create(pods, "ns", "a", with_uid("a", "u1"))
    with pytest.raises(storage_errors.PreconditionFailed) as err:
        await store.delete(pods, "ns", "a", preconditions=Preconditions(uid="u2"))
    assert (
        err.value.message == "Precondition failed: UID in precondition: u2, UID in object meta: u1"
    )
    stale = Preconditions(resource_version=str(created.resource_version - 1))
    with pytest.raises(storage_errors.PreconditionFailed) as err:
        await store.delete(pods, "ns", "a", preconditions=stale)
    assert err.value.message == (
        f"Precondition failed: ResourceVersion in precondition: {created.resource_version - 1}, "
        f"ResourceVersion in object meta: {created.resource_version}"
    )
    assert await store.get(pods, "ns", "a") == created  # still there
    deleted = await store.delete(pods, "ns", "a", preconditions=Preconditions(uid="u1"))
    assert deleted.object == created.object
    with pytest.raises(storage_errors.KeyNotFound):
        await store.get(pods, "ns", "a")


async def test_delete_with_conflict_rechecks_the_latest(
    make_store: StoreFactory,
    backend: Backend,
    pods: ResourceRef,
    prefix: str,
) -> None:
    """RunTestDeleteWithConflict: the object changes between the precondition check and
    the delete: the delete re-reads, re-checks and deletes the latest."""
    hooked = Cuttable(backend)
    store = make_store(backend=hooked)
    created = await store.create(pods, "ns", "a", with_uid("a", "u1"))

    async def concurrent_update() -> None:
        await backend.update(
            f"{prefix}/pods/ns/a", with_uid("a", "u1", v="2"), created.resource_version
        )

    hooked.before["delete"] = concurrent_update
    deleted = await store.delete(pods, "ns", "a", preconditions=Preconditions(uid="u1"))
    assert meta(deleted.object)["labels"] == {"v": "2"}  # the latest, not the one checked
    with pytest.raises(storage_errors.KeyNotFound):
        await store.get(pods, "ns", "a")


def set_label(key: str, value: str) -> Any:
    def apply(obj: dict[str, Any]) -> dict[str, Any]:
        obj["metadata"].setdefault("labels", {})[key] = value
        return obj

    return apply


async def test_guaranteed_update(store: Store, pods: ResourceRef) -> None:
    """RunTestGuaranteedUpdate: applies the change to the current object, checks
    preconditions, and a change that changes nothing writes nothing."""
    created = await store.create(pods, "ns", "a", with_uid("a", "u1"))
    updated = await store.guaranteed_update(
        pods, "ns", "a", set_label("v", "2"), preconditions=Preconditions(uid="u1")
    )
    assert meta(updated.object)["labels"] == {"v": "2"}
    assert updated.resource_version > created.resource_version
    assert await store.get(pods, "ns", "a") == updated

    before = await store.backend.current_revision()
    same = await store.guaranteed_update(pods, "ns", "a", set_label("v", "2"))
    assert same == updated  # no-op: no write, no new resourceVersion
    assert await store.backend.current_revision() == before

    with pytest.raises(storage_errors.PreconditionFailed):
        await store.guaranteed_update(
            pods, "ns", "a", set_label("v", "3"), preconditions=Preconditions(uid="u2")
        )
    stale = Preconditions(resource_version=str(created.resource_version))
    with pytest.raises(storage_errors.PreconditionFailed):
        await store.guaranteed_update(pods, "ns", "a", set_label("v", "3"), preconditions=stale)
    with pytest.raises(storage_errors.KeyNotFound):
        await store.guaranteed_update(pods, "ns", "missing", set_label("v", "3"))
    assert await store.get(pods, "ns", "a") == updated


async def test_guaranteed_update_with_conflict(
    make_store: StoreFactory,
    backend: Backend,
    pods: ResourceRef,
    prefix: str,
) -> None:
    """RunTestGuaranteedUpdateWithConflict: a write lands between the read and the
    compare-and-swap: the change is applied again to the latest object, losing nothing."""
    hooked = Cuttable(backend)
    store = make_store(backend=hooked)
    created = await store.create(pods, "ns", "a", pod("a"))

    async def concurrent_update() -> None:
        await backend.update(f"{prefix}/pods/ns/a", pod("a", other="x"), created.resource_version)

    hooked.before["update"] = concurrent_update
    calls: list[dict[str, Any]] = []

    def change(obj: dict[str, Any]) -> dict[str, Any]:
        calls.append(dict(obj["metadata"].get("labels") or {}))
        return set_label("mine", "y")(obj)

    result = await store.guaranteed_update(pods, "ns", "a", change)
    assert calls == [{}, {"other": "x"}]  # tried on the stale object, then on the latest
    assert meta(result.object)["labels"] == {"other": "x", "mine": "y"}


# --- compaction ----------------------------------------------------------------------------


async def test_periodic_compaction(make_store: StoreFactory, pods: ResourceRef) -> None:
    """Compaction runs by itself every interval (kube-apiserver: every 5 minutes),
    compacting what is older than the revision seen one interval before."""
    store = make_store(compaction_interval=0.05)
    a = await store.create(pods, "ns", "a", pod("a"))
    await store.update(pods, "ns", "a", pod("a", v="2"), expected_revision=a.resource_version)
    store.start()
    deadline = asyncio.get_running_loop().time() + 10
    while store.compactor.compacted <= a.resource_version:
        assert asyncio.get_running_loop().time() < deadline, "no compaction happened"
        await asyncio.sleep(0.02)
    with pytest.raises(storage_errors.Compacted):
        await store.list(
            pods, "ns", resource_version=str(a.resource_version), resource_version_match="Exact"
        )


async def test_compaction_is_coordinated(backend: Backend, pods: ResourceRef, prefix: str) -> None:
    """Two storage replicas on one etcd: in an interval only the one that wins the
    compare-and-swap on compact_rev_key compacts; it compacts to the revision it saw one
    interval earlier."""
    first, second = Compactor(backend), Compactor(backend)
    assert await first.compact_once() == 0  # records where history stands; no compaction
    assert await second.compact_once() == 0  # lost the swap: learns first's write
    key = f"{prefix}/pods/ns/a"
    written = await backend.create(key, b"{}")
    compacted = await first.compact_once()
    assert 0 < compacted < written  # the revision of its previous swap
    with pytest.raises(storage_errors.Compacted):
        await backend.list(f"{prefix}/pods/", revision=compacted - 1)
    assert await second.compact_once() == 0  # the key moved again: first compacted
    assert (await backend.list(f"{prefix}/pods/", revision=written)).items


# --- what one write may store (not in store_tests.go: etcd's request limit) ---------------

LARGE = storage_errors.MAX_VALUE_BYTES


def padded(name: str, size: int) -> bytes:
    """A pod whose JSON is ``size`` bytes long."""
    body = pod(name)
    return body[:-1] + b',"x":"' + b"x" * (size - len(body) - 7) + b'"}'


async def test_a_value_larger_than_etcd_takes_is_refused(store: Store, pods: ResourceRef) -> None:
    """Refused before it is decoded or sent (TooLarge: a 413 at the API), whichever the
    backend: nothing is stored, nothing changes."""
    assert len(padded("a", LARGE + 1)) == LARGE + 1
    with pytest.raises(storage_errors.TooLarge):
        await store.create(pods, "ns", "a", padded("a", LARGE + 1))
    with pytest.raises(storage_errors.KeyNotFound):
        await store.get(pods, "ns", "a")
    created = await store.create(pods, "ns", "a", pod("a"))
    with pytest.raises(storage_errors.TooLarge):
        await store.update(
            pods, "ns", "a", padded("a", LARGE + 1), expected_revision=created.resource_version
        )
    with pytest.raises(storage_errors.TooLarge):
        await store.guaranteed_update(pods, "ns", "a", lambda obj: {**obj, "x": "x" * LARGE})
    assert await store.get(pods, "ns", "a") == created
