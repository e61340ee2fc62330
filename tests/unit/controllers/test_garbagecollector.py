"""The garbage collector's decisions, case by case from kube's garbagecollector_test.go
(attemptToDeleteItem with dangling, solid and waiting owners; foreground deletion with
blocking dependents; orphaning): the graph fed as its informers would, one attempt, and
what it asks the fake client."""

from __future__ import annotations

from typing import Any

from kapi.kube.resources import CONFIGMAPS, DEPLOYMENTS, PODS, REPLICASETS, Resource
from services.controllers import garbagecollector as gc_module
from services.controllers.garbagecollector import GarbageCollector
from tests.unit.controllers.fakes import FakeClient, context

Obj = dict[str, Any]
NS = "default"


class PatchingClient(FakeClient):
    """The fake client with merge patches recorded (the collector's only other write)."""

    def __init__(self) -> None:
        super().__init__()
        self.patches: list[tuple[str, str, Obj]] = []

    async def patch(self, res: Resource, namespace: str, name: str, body: Obj, **_: Any) -> Obj:
        self.actions.append(("patch", res.resource, name))
        self.patches.append((res.resource, name, body))
        return self.objects[(res.resource, namespace, name)]


def obj(
    res: Resource,
    name: str,
    *owners: Obj,
    finalizers: tuple[str, ...] = (),
    deleting: bool = False,
) -> Obj:
    meta: Obj = {
        "name": name,
        "namespace": NS,
        "uid": f"{name}-uid",
        "resourceVersion": "7",
        "ownerReferences": list(owners),
    }
    if finalizers:
        meta["finalizers"] = list(finalizers)
    if deleting:
        meta["deletionTimestamp"] = "2026-12-06T00:00:00Z"
    return {"apiVersion": res.api_version, "kind": res.kind, "metadata": meta}


def ref(owner: Obj, *, block: bool = False) -> Obj:
    found: Obj = {
        "apiVersion": owner["apiVersion"],
        "kind": owner["kind"],
        "name": owner["metadata"]["name"],
        "uid": owner["metadata"]["uid"],
        "controller": True,
    }
    if block:
        found["blockOwnerDeletion"] = True
    return found


def collector(*live: tuple[Resource, Obj]) -> tuple[GarbageCollector, PatchingClient]:
    """A collector whose graph has seen ``live`` (which the client also serves)."""
    client = PatchingClient()
    ctx, _ = context(client, "garbage-collector")
    gc = GarbageCollector(ctx)
    for res in (PODS, REPLICASETS, DEPLOYMENTS, CONFIGMAPS):
        gc.kinds[(res.group, res.kind)] = res
    for res, item in live:
        client.put(res, item)
        gc._observe(item, res)
    return gc, client


async def test_a_dependent_whose_owner_is_gone_is_deleted_in_the_background() -> None:
    owner = obj(REPLICASETS, "rs")  # never stored: the owner is gone (404)
    pod = obj(PODS, "p", ref(owner))
    gc, client = collector((PODS, pod))
    await gc._attempt_to_delete("p-uid")
    assert client.deletes == [("pods", NS, "p", "Background")]


async def test_an_owner_name_reused_by_another_uid_is_gone_too() -> None:
    owner = obj(REPLICASETS, "rs")
    pod = obj(PODS, "p", ref(owner))
    impostor = obj(REPLICASETS, "rs")
    impostor["metadata"]["uid"] = "another-uid"
    gc, client = collector((PODS, pod))
    client.put(REPLICASETS, impostor)
    await gc._attempt_to_delete("p-uid")
    assert client.deleted() == ["p"]


async def test_one_solid_owner_keeps_the_dependent_and_the_dangling_reference_goes() -> None:
    solid, gone = obj(CONFIGMAPS, "solid"), obj(CONFIGMAPS, "gone")
    pod = obj(PODS, "p", ref(solid), ref(gone))
    gc, client = collector((CONFIGMAPS, solid), (PODS, pod))
    await gc._attempt_to_delete("p-uid")
    assert client.deleted() == []
    [(resource, name, patch)] = client.patches
    assert (resource, name) == ("pods", "p")
    assert patch["metadata"]["ownerReferences"] == [ref(solid)]
    # The uid and resourceVersion the decision was made on go with the patch.
    assert patch["metadata"]["uid"] == "p-uid"
    assert patch["metadata"]["resourceVersion"] == "7"


async def test_a_dependent_with_its_owner_there_is_left_alone() -> None:
    owner = obj(REPLICASETS, "rs")
    pod = obj(PODS, "p", ref(owner))
    gc, client = collector((REPLICASETS, owner), (PODS, pod))
    await gc._attempt_to_delete("p-uid")
    assert (client.deleted(), client.patches) == ([], [])


async def test_the_dependent_s_own_finalizers_choose_its_propagation() -> None:
    owner = obj(DEPLOYMENTS, "d")
    rs = obj(REPLICASETS, "rs", ref(owner), finalizers=(gc_module.ORPHAN,))
    gc, client = collector((REPLICASETS, rs))
    await gc._attempt_to_delete("rs-uid")
    assert client.deletes == [("replicasets", NS, "rs", "Orphan")]


async def test_foreground_waits_for_blocking_dependents_then_lets_the_owner_go() -> None:
    owner = obj(REPLICASETS, "rs", finalizers=(gc_module.FOREGROUND,), deleting=True)
    pod = obj(PODS, "p", ref(owner, block=True))
    gc, client = collector((REPLICASETS, owner), (PODS, pod))
    assert "rs-uid" in gc.graph and gc.graph["rs-uid"].deleting_dependents
    await gc._attempt_to_delete("rs-uid")
    assert client.patches == []  # a blocking dependent is still there
    # The dependent's owner waits in the foreground: it goes, in the foreground too
    # only if it has dependents of its own (it has none: background).
    await gc._attempt_to_delete("p-uid")
    assert client.deletes == [("pods", NS, "p", "Background")]
    # Once the informer reports it gone, the owner's finalizer is removed.
    gc._gone(pod, PODS)
    await gc._attempt_to_delete("rs-uid")
    [(resource, name, patch)] = client.patches
    assert (resource, name) == ("replicasets", "rs")
    assert patch["metadata"]["finalizers"] is None


async def test_a_non_blocking_dependent_does_not_hold_a_foreground_deletion() -> None:
    owner = obj(REPLICASETS, "rs", finalizers=(gc_module.FOREGROUND,), deleting=True)
    pod = obj(PODS, "p", ref(owner))
    gc, client = collector((REPLICASETS, owner), (PODS, pod))
    await gc._attempt_to_delete("rs-uid")
    [(_, name, patch)] = client.patches
    assert name == "rs" and patch["metadata"]["finalizers"] is None


async def test_orphaning_removes_the_reference_from_each_dependent_then_the_finalizer() -> None:
    owner = obj(REPLICASETS, "rs", finalizers=(gc_module.ORPHAN,), deleting=True)
    other = obj(CONFIGMAPS, "other")
    a, b = obj(PODS, "a", ref(owner), ref(other)), obj(PODS, "b", ref(owner))
    gc, client = collector((REPLICASETS, owner), (CONFIGMAPS, other), (PODS, a), (PODS, b))
    await gc._attempt_to_orphan("rs-uid")
    patched = {name: patch["metadata"] for _, name, patch in client.patches}
    assert patched["a"]["ownerReferences"] == [ref(other)]
    assert patched["b"]["ownerReferences"] is None
    assert patched["rs"]["finalizers"] is None
    assert [name for _, name, _ in client.patches][-1] == "rs"  # the finalizer goes last
    assert client.deleted() == []


async def test_a_virtual_owner_that_exists_waits_for_its_informer() -> None:
    owner = obj(REPLICASETS, "rs")
    pod = obj(PODS, "p", ref(owner))
    gc, client = collector((PODS, pod))
    assert gc.graph["rs-uid"].virtual
    client.put(REPLICASETS, owner)
    await gc._attempt_to_delete("rs-uid")
    assert "rs-uid" in gc.graph and client.deleted() == []
    # Absent after all: it leaves the graph and its dependents are looked at again.
    client.objects.pop(("replicasets", NS, "rs"))
    await gc._attempt_to_delete("rs-uid")
    assert "rs-uid" not in gc.graph
    await gc._attempt_to_delete("p-uid")
    assert client.deleted() == ["p"]
