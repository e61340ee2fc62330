"""The registry domain (services/registry/service.py) on the real storage domain.

Storage is the storage service's own ``Store`` over the in-memory backend, behind a small
adapter that plays the storage client: objects as JSON bytes, and storage errors turned
into Status errors by the storage servicer's one translation point. So what is stored,
listed, conflicted and watched here is what the services do, without a network. Admission
is a fake that records each call, so the order of a write can be checked.
"""

from __future__ import annotations

import asyncio
import base64
import copy
from collections.abc import AsyncIterator, Callable
from contextlib import aclosing
from typing import Any

import orjson
import pytest

from kapi import errors
from services.registry.catalog import Catalog
from services.registry.ports import AdmissionTarget, StoredList, Where
from services.registry.service import ReadOptions, Registry, Result, Target
from services.registry.strategies import BUILTIN
from services.storage.grpc.servicer import translated
from services.storage.memory_backend import MemoryBackend
from services.storage.model import ResourceRef
from services.storage.store import Store

Obj = dict[str, Any]
EVENT_TIMEOUT = 5.0


def _ref(where: Where) -> ResourceRef:
    return ResourceRef(where.group, where.resource, where.namespaced)


class MemoryStorage:
    """A ``StoragePort`` on the real ``Store`` + ``MemoryBackend``; logs each write."""

    def __init__(self, log: list[str]) -> None:
        self.store = Store(MemoryBackend(), bookmark_interval=0.05)
        self.log = log

    async def create(
        self, where: Where, namespace: str, name: str, obj: bytes, *, dry_run: bool = False
    ) -> bytes:
        self.log.append(f"storage create {where.resource}/{name}" + (" dry" if dry_run else ""))
        ref = _ref(where)
        with translated(ref, name):
            stored = await self.store.create(ref, namespace, name, obj, dry_run=dry_run)
        return stored.object

    async def get(
        self, where: Where, namespace: str, name: str, *, resource_version: str = ""
    ) -> bytes:
        ref = _ref(where)
        with translated(ref, name):
            stored = await self.store.get(ref, namespace, name, resource_version=resource_version)
        return stored.object

    async def list(
        self,
        where: Where,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        limit: int = 0,
        continue_token: str = "",
        resource_version: str = "",
        resource_version_match: str = "",
    ) -> StoredList:
        ref = _ref(where)
        with translated(ref):
            page = await self.store.list(
                ref,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                limit=limit,
                continue_token=continue_token,
                resource_version=resource_version,
                resource_version_match=resource_version_match,
            )
        return StoredList(
            page.items, page.resource_version, page.continue_token, page.remaining_item_count
        )

    async def update(
        self,
        where: Where,
        namespace: str,
        name: str,
        obj: bytes,
        *,
        expected_revision: int,
        dry_run: bool = False,
    ) -> bytes:
        self.log.append(f"storage update {where.resource}/{name}" + (" dry" if dry_run else ""))
        ref = _ref(where)
        with translated(ref, name):
            stored = await self.store.update(
                ref, namespace, name, obj, expected_revision=expected_revision, dry_run=dry_run
            )
        return stored.object

    async def delete(
        self,
        where: Where,
        namespace: str,
        name: str,
        *,
        expected_revision: int = 0,
        dry_run: bool = False,
    ) -> bytes:
        self.log.append(f"storage delete {where.resource}/{name}" + (" dry" if dry_run else ""))
        ref = _ref(where)
        with translated(ref, name):
            stored = await self.store.delete(
                ref, namespace, name, expected_revision=expected_revision, dry_run=dry_run
            )
        return stored.object

    async def watch(
        self,
        where: Where,
        namespace: str,
        *,
        label_selector: str = "",
        field_selector: str = "",
        resource_version: str = "",
        allow_bookmarks: bool = False,
        timeout_seconds: int = 0,
        send_initial_events: bool = False,
    ) -> AsyncIterator[tuple[str, bytes]]:
        ref = _ref(where)
        with translated(ref):
            events = self.store.watch(
                ref,
                namespace,
                label_selector=label_selector,
                field_selector=field_selector,
                resource_version=resource_version,
                allow_bookmarks=allow_bookmarks,
                timeout_seconds=timeout_seconds,
                send_initial_events=send_initial_events,
            )
            async with aclosing(events):
                async for event in events:
                    yield event.type, event.object


Hook = Callable[[str, AdmissionTarget, Obj | None], Obj | None]


class RecordingAdmission:
    """An ``AdmissionPort`` that logs each call; ``hook`` may change or reject the object."""

    def __init__(self, log: list[str]) -> None:
        self.log = log
        self.calls: list[tuple[str, AdmissionTarget, Obj | None, Obj | None]] = []
        self.hook: Hook | None = None

    async def admit(
        self,
        phase: str,
        target: AdmissionTarget,
        obj: Obj | None,
        old: Obj | None = None,
    ) -> tuple[Obj | None, list[str]]:
        self.log.append(f"{phase} {target.operation} {target.resource}/{target.name}")
        self.calls.append((phase, target, obj, old))
        out = self.hook(phase, target, obj) if self.hook else obj
        return out, [f"{phase} warning"] if phase == "validating" else []


class World:
    def __init__(self) -> None:
        self.log: list[str] = []
        self.storage = MemoryStorage(self.log)
        self.admission = RecordingAdmission(self.log)
        self.registry = Registry(Catalog(BUILTIN), self.storage, self.admission)


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def registry(world: World) -> Registry:
    return world.registry


# --- helpers ------------------------------------------------------------------------------


def cm_target(namespace: str = "ns", name: str = "") -> Target:
    return Target("", "v1", "configmaps", namespace=namespace, name=name)


def configmap(name: str = "c", **extra: Any) -> bytes:
    body: Obj = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}}
    body.update(extra)
    return orjson.dumps(body)


def loads(result: Result) -> Obj:
    out: Obj = orjson.loads(result.body)
    return out


async def make_namespace(registry: Registry, name: str = "ns") -> Obj:
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
    return loads(await registry.create(Target("", "v1", "namespaces"), orjson.dumps(body)))


async def make_configmap(registry: Registry, name: str = "c", **extra: Any) -> Obj:
    return loads(await registry.create(cm_target(), configmap(name, **extra)))


async def failure(awaitable: Any) -> errors.StatusError:
    with pytest.raises(errors.StatusError) as info:
        await awaitable
    return info.value


# --- create -------------------------------------------------------------------------------


async def test_create_returns_201_with_the_stored_object(registry: Registry) -> None:
    await make_namespace(registry)
    result = await registry.create(cm_target(), configmap(data={"k": "v"}))
    assert result.code == 201
    obj = loads(result)
    assert obj["kind"] == "ConfigMap"
    assert obj["data"] == {"k": "v"}
    meta = obj["metadata"]
    assert meta["namespace"] == "ns"
    assert int(meta["resourceVersion"]) > 0
    got = await registry.get(cm_target(name="c"), ReadOptions())
    assert loads(got) == obj


async def test_create_runs_admission_in_order(world: World) -> None:
    """Mutating admission, then validation, then validating admission, then storage."""
    await make_namespace(world.registry)
    world.log.clear()
    result = await world.registry.create(cm_target(), configmap())
    assert world.log == [
        "mutating CREATE configmaps/c",
        "validating CREATE configmaps/c",
        "storage create configmaps/c",
    ]
    assert result.warnings == ["validating warning"]
    target = world.admission.calls[-1][1]
    assert (target.group, target.version, target.kind, target.namespace) == (
        "",
        "v1",
        "ConfigMap",
        "ns",
    )


async def test_validation_runs_between_the_admission_phases(world: World) -> None:
    await make_namespace(world.registry)
    world.log.clear()
    err = await failure(world.registry.create(cm_target(), configmap(data={"a b": "v"})))
    assert (err.code, err.reason) == (422, "Invalid")
    assert world.log == ["mutating CREATE configmaps/c"]  # no validating admission, no write


async def test_mutating_admission_changes_what_is_validated_and_stored(world: World) -> None:
    await make_namespace(world.registry)

    def label(phase: str, target: AdmissionTarget, obj: Obj | None) -> Obj | None:
        assert obj is not None
        if phase == "mutating":
            return {**obj, "metadata": {**obj["metadata"], "labels": {"admitted": "yes"}}}
        return {**obj, "data": {"ignored": "validating plugins cannot change objects"}}

    world.admission.hook = label
    stored = await make_configmap(world.registry)
    assert stored["metadata"]["labels"] == {"admitted": "yes"}
    assert "data" not in stored


async def test_admission_rejection_stores_nothing(world: World) -> None:
    await make_namespace(world.registry)

    def reject(phase: str, target: AdmissionTarget, obj: Obj | None) -> Obj | None:
        if phase == "validating":
            raise errors.forbidden("configmaps", "", target.name, "no")
        return obj

    world.admission.hook = reject
    world.log.clear()
    err = await failure(world.registry.create(cm_target(), configmap()))
    assert err.code == 403
    assert not [line for line in world.log if line.startswith("storage")]
    err = await failure(world.registry.get(cm_target(name="c"), ReadOptions()))
    assert err.code == 404


async def test_create_twice_is_already_exists(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry)
    err = await failure(registry.create(cm_target(), configmap()))
    assert (err.code, err.reason, err.message) == (
        409,
        "AlreadyExists",
        'configmaps "c" already exists',
    )


async def test_create_with_generate_name(registry: Registry) -> None:
    await make_namespace(registry)
    body = orjson.dumps({"metadata": {"generateName": "gen-"}})
    obj = loads(await registry.create(cm_target(), body))
    assert obj["metadata"]["name"].startswith("gen-")
    assert len(obj["metadata"]["name"]) == len("gen-") + 5


async def test_namespace_creation_leaves_its_content_to_the_controllers(
    world: World,
) -> None:
    """The default ServiceAccount and kube-root-ca.crt are the controller manager's work
    (serviceaccount-controller, root-ca-certificate-publisher-controller), not the
    registry's."""
    ns = await make_namespace(world.registry, "team")
    assert ns["status"] == {"phase": "Active"}
    assert ns["spec"] == {"finalizers": ["kubernetes"]}
    assert ns["metadata"]["labels"] == {"kubernetes.io/metadata.name": "team"}
    assert "storage create serviceaccounts/default" not in world.log
    assert "storage create configmaps/kube-root-ca.crt" not in world.log


async def test_system_namespaces_are_created_once(registry: Registry) -> None:
    await registry.ensure_system_namespaces(None)
    await registry.ensure_system_namespaces(None)  # idempotent
    listed = loads(await registry.list(Target("", "v1", "namespaces"), ReadOptions()))
    names = [item["metadata"]["name"] for item in listed["items"]]
    assert names == ["default", "kube-node-lease", "kube-public", "kube-system"]


async def test_services_get_distinct_cluster_ips(registry: Registry) -> None:
    await make_namespace(registry)
    ips = set()
    for i in range(5):
        body = {"metadata": {"name": f"s{i}"}, "spec": {"ports": [{"port": 80}]}}
        svc = loads(
            await registry.create(Target("", "v1", "services", namespace="ns"), orjson.dumps(body))
        )
        assert svc["spec"]["clusterIPs"] == [svc["spec"]["clusterIP"]]
        ips.add(svc["spec"]["clusterIP"])
    assert len(ips) == 5


async def test_dry_run_create_stores_nothing(world: World) -> None:
    registry = world.registry
    await make_namespace(registry)
    result = await registry.create(cm_target(), configmap(), dry_run=True)
    assert result.code == 201
    assert loads(result)["metadata"]["name"] == "c"
    assert world.admission.calls[-1][1].dry_run is True
    err = await failure(registry.get(cm_target(name="c"), ReadOptions()))
    assert err.code == 404


# --- resolution errors ------------------------------------------------------------------


@pytest.mark.parametrize(
    "target",
    [
        Target("", "v1", "widgets", namespace="ns"),
        Target("apps", "v1", "configmaps", namespace="ns"),
        Target("", "v2", "configmaps", namespace="ns"),
        Target("", "v1", "configmaps", subresource="status", namespace="ns", name="c"),
    ],
)
async def test_unknown_resource_is_404(registry: Registry, target: Target) -> None:
    err = await failure(registry.list(target, ReadOptions()))
    assert (err.code, err.reason, err.message) == (
        404,
        "NotFound",
        "the server could not find the requested resource",
    )


async def test_get_of_a_missing_object(registry: Registry) -> None:
    err = await failure(registry.get(cm_target(name="nope"), ReadOptions()))
    assert (err.code, err.message) == (404, 'configmaps "nope" not found')
    err = await failure(
        registry.get(Target("apps", "v1", "deployments", namespace="ns", name="d"), ReadOptions())
    )
    assert err.message == 'deployments.apps "d" not found'


async def test_collection_verbs_a_type_lacks_are_405(registry: Registry) -> None:
    err = await failure(
        registry.create(Target("", "v1", "configmaps", namespace="ns", subresource=""), b"[]")
    )
    assert err.code == 400  # a body that is not an object
    err = await failure(
        registry.create(
            Target("", "v1", "pods", subresource="status", namespace="ns", name="p"), b"{}"
        )
    )
    assert (err.code, err.reason) == (405, "MethodNotAllowed")
    assert err.message == 'create is not supported on resources of kind "pods"'


# --- reads ---------------------------------------------------------------------------------


async def test_list_renders_the_kind_list(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry, "b")
    await make_configmap(registry, "a")
    result = await registry.list(cm_target(), ReadOptions())
    body = loads(result)
    assert list(body) == ["kind", "apiVersion", "metadata", "items"]
    assert (body["kind"], body["apiVersion"]) == ("ConfigMapList", "v1")
    assert [item["metadata"]["name"] for item in body["items"]] == ["a", "b"]
    list_rv = int(body["metadata"]["resourceVersion"])
    assert list_rv >= max(int(i["metadata"]["resourceVersion"]) for i in body["items"])


async def test_list_of_a_grouped_kind(registry: Registry) -> None:
    body = loads(
        await registry.list(Target("apps", "v1", "deployments", namespace="ns"), ReadOptions())
    )
    assert (body["kind"], body["apiVersion"], body["items"]) == (
        "DeploymentList",
        "apps/v1",
        [],
    )


async def test_list_pages(registry: Registry) -> None:
    await make_namespace(registry)
    for name in ("a", "b", "c"):
        await make_configmap(registry, name)
    first = loads(await registry.list(cm_target(), ReadOptions(limit=2)))
    assert [i["metadata"]["name"] for i in first["items"]] == ["a", "b"]
    assert first["metadata"]["remainingItemCount"] == 1
    token = first["metadata"]["continue"]
    rest = loads(await registry.list(cm_target(), ReadOptions(limit=2, continue_token=token)))
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c"]
    assert "continue" not in rest["metadata"]


async def test_list_with_selectors(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry, "a", metadata={"name": "a", "labels": {"tier": "web"}})
    await make_configmap(registry, "b")
    by_label = loads(await registry.list(cm_target(), ReadOptions(label_selector="tier=web")))
    assert [i["metadata"]["name"] for i in by_label["items"]] == ["a"]
    by_name = loads(await registry.list(cm_target(), ReadOptions(field_selector="metadata.name=b")))
    assert [i["metadata"]["name"] for i in by_name["items"]] == ["b"]


async def test_unsupported_field_selector_is_400(registry: Registry) -> None:
    err = await failure(
        registry.list(
            Target("", "v1", "pods", namespace="ns"), ReadOptions(field_selector="spec.foo=bar")
        )
    )
    assert (err.code, err.reason) == (400, "BadRequest")
    assert err.message.endswith("field label not supported: spec.foo")
    # kubectl adds 'Unable to find "/v1, Resource=pods" that match ...' itself
    assert err.message == "field label not supported: spec.foo"


async def test_type_specific_field_selectors(registry: Registry) -> None:
    pods = Target("", "v1", "pods", namespace="ns")
    await registry.list(pods, ReadOptions(field_selector="spec.nodeName=n1,status.phase!=Failed"))
    err = await failure(registry.list(cm_target(), ReadOptions(field_selector="spec.nodeName=n1")))
    # Types without selectors of their own answer with kube's default wording.
    assert err.message == (
        '"spec.nodeName" is not a known field selector: only "metadata.name", "metadata.namespace"'
    )


async def test_list_as_table(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry, "a", data={"x": "1", "y": "2"})
    body = loads(await registry.list(cm_target(), ReadOptions(rendering="table")))
    assert (body["kind"], body["apiVersion"]) == ("Table", "meta.k8s.io/v1")
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert "resourceVersion" in body["metadata"]
    (row,) = body["rows"]
    assert row["cells"][:2] == ["a", 2]
    obj = row["object"]
    assert (obj["kind"], obj["apiVersion"]) == ("PartialObjectMetadata", "meta.k8s.io/v1")
    assert obj["metadata"]["name"] == "a"
    assert obj["metadata"]["namespace"] == "ns"
    assert "data" not in obj


async def test_table_columns_follow_the_kind(registry: Registry) -> None:
    body = loads(
        await registry.list(Target("", "v1", "namespaces"), ReadOptions(rendering="table"))
    )
    assert [c["name"] for c in body["columnDefinitions"]] == ["Name", "Status", "Age"]
    v1beta1 = loads(
        await registry.list(Target("", "v1", "namespaces"), ReadOptions(rendering="table-v1beta1"))
    )
    assert v1beta1["apiVersion"] == "meta.k8s.io/v1beta1"


async def test_table_with_the_whole_object(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry, "a", data={"x": "1"})
    body = loads(
        await registry.list(cm_target(), ReadOptions(rendering="table", include_object="Object"))
    )
    assert body["rows"][0]["object"]["data"] == {"x": "1"}


async def test_get_as_partial_object_metadata(registry: Registry) -> None:
    await make_namespace(registry)
    stored = await make_configmap(registry, "a", data={"x": "1"})
    body = loads(await registry.get(cm_target(name="a"), ReadOptions(rendering="metadata")))
    assert body == {
        "kind": "PartialObjectMetadata",
        "apiVersion": "meta.k8s.io/v1",
        "metadata": stored["metadata"],
    }


async def test_list_as_partial_object_metadata(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry, "a")
    body = loads(await registry.list(cm_target(), ReadOptions(rendering="metadata")))
    assert (body["kind"], body["apiVersion"]) == ("PartialObjectMetadataList", "meta.k8s.io/v1")
    assert [i["kind"] for i in body["items"]] == ["PartialObjectMetadata"]


# --- update --------------------------------------------------------------------------------


async def test_update_with_a_stale_resource_version_is_a_conflict(registry: Registry) -> None:
    await make_namespace(registry)
    first = await make_configmap(registry)
    changed = {**first, "data": {"k": "1"}}
    await registry.update(cm_target(name="c"), orjson.dumps(changed))
    stale = {**first, "data": {"k": "2"}}
    err = await failure(registry.update(cm_target(name="c"), orjson.dumps(stale)))
    assert (err.code, err.reason) == (409, "Conflict")
    assert err.message == (
        'Operation cannot be fulfilled on configmaps "c": the object has been modified; '
        "please apply your changes to the latest version and try again"
    )
    assert err.details == {"name": "c", "kind": "configmaps"}


async def test_update_moves_the_resource_version(world: World) -> None:
    await make_namespace(world.registry)
    first = await make_configmap(world.registry)
    world.log.clear()
    result = await world.registry.update(
        cm_target(name="c"), orjson.dumps({**first, "data": {"k": "v"}})
    )
    updated = loads(result)
    assert result.code == 200
    assert int(updated["metadata"]["resourceVersion"]) > int(first["metadata"]["resourceVersion"])
    assert updated["metadata"]["uid"] == first["metadata"]["uid"]
    assert world.log == [
        "mutating UPDATE configmaps/c",
        "validating UPDATE configmaps/c",
        "storage update configmaps/c",
    ]
    _, _, obj, old = world.admission.calls[-1]
    assert old is not None and obj is not None
    assert old["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]


async def test_unconditional_update(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry)
    body = configmap(data={"k": "v"})  # no resourceVersion: last write wins
    assert loads(await registry.update(cm_target(name="c"), body))["data"] == {"k": "v"}


async def test_noop_update_does_not_write(world: World) -> None:
    await make_namespace(world.registry)
    first = await make_configmap(world.registry, data={"k": "v"})
    world.log.clear()
    result = await world.registry.update(cm_target(name="c"), orjson.dumps(first))
    assert loads(result)["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
    assert not [line for line in world.log if line.startswith("storage")]


async def test_update_of_a_missing_object_is_404(registry: Registry) -> None:
    err = await failure(registry.update(cm_target(name="c"), configmap()))
    assert (err.code, err.message) == (404, 'configmaps "c" not found')


async def test_update_name_must_match_the_url(registry: Registry) -> None:
    err = await failure(registry.update(cm_target(name="c"), configmap("d")))
    assert (err.code, err.message) == (
        400,
        "the name of the object (d) does not match the name on the URL (c)",
    )


async def test_update_cannot_change_immutable_fields(registry: Registry) -> None:
    await make_namespace(registry)
    body = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}}
    secrets = Target("", "v1", "secrets", namespace="ns")
    await registry.create(secrets, orjson.dumps(body))
    changed = {**body, "type": "example.com/custom"}
    err = await failure(
        registry.update(
            Target("", "v1", "secrets", namespace="ns", name="s"), orjson.dumps(changed)
        )
    )
    assert err.code == 422
    assert err.message == (
        'Secret "s" is invalid: type: Invalid value: "example.com/custom": field is immutable'
    )


async def test_service_update_without_cluster_ip_keeps_it(registry: Registry) -> None:
    """kubectl replace -f of the manifest that created it."""
    await make_namespace(registry)
    manifest = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s"},
        "spec": {"ports": [{"port": 80}]},
    }
    created = loads(
        await registry.create(Target("", "v1", "services", namespace="ns"), orjson.dumps(manifest))
    )
    target = Target("", "v1", "services", namespace="ns", name="s")
    result = await registry.update(target, orjson.dumps(manifest))
    assert loads(result)["spec"]["clusterIP"] == created["spec"]["clusterIP"]
    # the same manifest is no change at all
    assert loads(result)["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_deployment_generation(registry: Registry) -> None:
    await make_namespace(registry)
    body: Obj = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
            },
        },
    }
    deployments = Target("apps", "v1", "deployments", namespace="ns")
    created = loads(await registry.create(deployments, orjson.dumps(body)))
    assert created["metadata"]["generation"] == 1
    assert created["status"] == {}
    named = Target("apps", "v1", "deployments", namespace="ns", name="d")
    labelled = {**created, "metadata": {**created["metadata"], "labels": {"x": "y"}}}
    after_labels = loads(await registry.update(named, orjson.dumps(labelled)))
    assert after_labels["metadata"]["generation"] == 1
    scaled = {**after_labels, "spec": {**after_labels["spec"], "replicas": 3}}
    scaled["status"] = {"replicas": 99}  # ignored on the main resource
    after_scale = loads(await registry.update(named, orjson.dumps(scaled)))
    assert after_scale["metadata"]["generation"] == 2
    assert after_scale["status"] == {}


# --- delete -------------------------------------------------------------------------------


async def test_delete_answers_a_status_for_configmaps(registry: Registry) -> None:
    await make_namespace(registry)
    stored = await make_configmap(registry)
    result = await registry.delete(cm_target(name="c"), {})
    assert result.code == 200
    assert loads(result) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": "c", "kind": "configmaps", "uid": stored["metadata"]["uid"]},
    }
    err = await failure(registry.get(cm_target(name="c"), ReadOptions()))
    assert err.code == 404


async def test_delete_status_names_the_group(registry: Registry) -> None:
    await make_namespace(registry)
    body = {
        "metadata": {"name": "d"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": "x:1"}]},
            },
        },
    }
    await registry.create(Target("apps", "v1", "deployments", namespace="ns"), orjson.dumps(body))
    result = await registry.delete(
        Target("apps", "v1", "deployments", namespace="ns", name="d"), {}
    )
    details = loads(result)["details"]
    assert list(details) == ["name", "group", "kind", "uid"]
    assert (details["group"], details["kind"]) == ("apps", "deployments")


async def test_delete_answers_the_object_for_pods(registry: Registry) -> None:
    await make_namespace(registry)
    body = {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "x:1"}]}}
    pods = Target("", "v1", "pods", namespace="ns")
    created = loads(await registry.create(pods, orjson.dumps(body)))
    result = await registry.delete(Target("", "v1", "pods", namespace="ns", name="p"), {})
    deleted = loads(result)
    assert (deleted["kind"], deleted["metadata"]["uid"]) == ("Pod", created["metadata"]["uid"])


async def test_delete_of_a_namespace_marks_it_terminating(world: World) -> None:
    """kube's namespace REST: the first DELETE marks it Terminating and keeps it, content
    and all, while spec.finalizers is not empty; the namespace controller deletes the
    content, empties the finalizers through /finalize and deletes it again."""
    registry = world.registry
    await make_namespace(registry, "team")
    await registry.create(cm_target("team"), configmap("a"))
    namespace = Target("", "v1", "namespaces", name="team")
    ns = loads(await registry.delete(namespace, {}))
    assert ns["kind"] == "Namespace"
    assert ns["status"]["phase"] == "Terminating"
    assert ns["metadata"]["deletionTimestamp"]
    assert "finalizers" not in ns["metadata"]
    await registry.get(Target("", "v1", "configmaps", namespace="team", name="a"), ReadOptions())
    again = loads(await registry.delete(namespace, {}))
    assert again["metadata"]["resourceVersion"] == ns["metadata"]["resourceVersion"]
    ns["spec"]["finalizers"] = []
    ns["metadata"].pop("resourceVersion")
    finalize = Target("", "v1", "namespaces", name="team", subresource="finalize")
    # Emptying spec.finalizers of a terminating namespace deletes it (kube's
    # ShouldDeleteNamespaceDuringUpdate); an update that leaves them does not.
    relabelled = loads(await registry.get(namespace, ReadOptions()))
    relabelled["metadata"]["labels"]["x"] = "y"
    await registry.update(namespace, orjson.dumps(relabelled))
    await registry.get(namespace, ReadOptions())
    await registry.update(finalize, orjson.dumps(ns))
    err = await failure(registry.get(namespace, ReadOptions()))
    assert err.code == 404


@pytest.mark.parametrize(
    ("options", "finalizers"),
    [
        ({}, None),
        ({"propagationPolicy": "Background"}, None),
        ({"propagationPolicy": "Orphan"}, ["orphan"]),
        ({"propagationPolicy": "Foreground"}, ["foregroundDeletion"]),
        ({"orphanDependents": True}, ["orphan"]),
    ],
)
async def test_namespace_delete_options_set_gc_finalizers(
    registry: Registry, options: Obj, finalizers: list[str] | None
) -> None:
    await make_namespace(registry, "team")
    ns = loads(await registry.delete(Target("", "v1", "namespaces", name="team"), options))
    assert ns["metadata"].get("finalizers") == finalizers


async def test_delete_with_a_wrong_uid_precondition_is_a_conflict(registry: Registry) -> None:
    await make_namespace(registry)
    stored = await make_configmap(registry)
    err = await failure(registry.delete(cm_target(name="c"), {"preconditions": {"uid": "nope"}}))
    assert (err.code, err.reason) == (409, "Conflict")
    assert err.message == (
        'Operation cannot be fulfilled on configmaps "c": Precondition failed: UID in '
        f"precondition: nope, UID in object meta: {stored['metadata']['uid']}"
    )
    await registry.get(cm_target(name="c"), ReadOptions())  # still there


async def test_delete_with_matching_preconditions(registry: Registry) -> None:
    await make_namespace(registry)
    stored = await make_configmap(registry)
    meta = stored["metadata"]
    preconditions = {"uid": meta["uid"], "resourceVersion": meta["resourceVersion"]}
    await registry.delete(cm_target(name="c"), {"preconditions": preconditions})
    err = await failure(registry.get(cm_target(name="c"), ReadOptions()))
    assert err.code == 404


async def test_delete_with_a_stale_resource_version_precondition(registry: Registry) -> None:
    await make_namespace(registry)
    stored = await make_configmap(registry)
    err = await failure(
        registry.delete(cm_target(name="c"), {"preconditions": {"resourceVersion": "1"}})
    )
    assert err.code == 409
    assert err.message.endswith(
        "Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object "
        f"meta: {stored['metadata']['resourceVersion']}"
    )


async def test_an_object_with_finalizers_is_marked_not_removed(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry, metadata={"name": "c", "finalizers": ["example.com/keep"]})
    result = await registry.delete(cm_target(name="c"), {})
    marked = loads(result)
    assert marked["kind"] == "ConfigMap"  # the object, not a Status: it is not gone
    assert marked["metadata"]["deletionTimestamp"]
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    got = loads(await registry.get(cm_target(name="c"), ReadOptions()))
    assert got["metadata"]["deletionTimestamp"] == marked["metadata"]["deletionTimestamp"]
    again = loads(await registry.delete(cm_target(name="c"), {}))
    assert again["metadata"]["resourceVersion"] == got["metadata"]["resourceVersion"]


async def test_removing_the_last_finalizer_completes_the_deletion(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry, metadata={"name": "c", "finalizers": ["a/x", "b/y"]})
    await registry.delete(cm_target(name="c"), {})
    marked = loads(await registry.get(cm_target(name="c"), ReadOptions()))
    marked["metadata"]["finalizers"] = ["b/y"]
    kept = loads(await registry.update(cm_target(name="c"), orjson.dumps(marked)))
    assert kept["metadata"]["finalizers"] == ["b/y"]  # one left: still there
    kept["metadata"]["finalizers"] = []
    gone = loads(await registry.update(cm_target(name="c"), orjson.dumps(kept)))
    assert gone["metadata"]["name"] == "c"
    with pytest.raises(errors.StatusError) as missing:
        await registry.get(cm_target(name="c"), ReadOptions())
    assert missing.value.code == 404


async def test_delete_runs_admission_before_storage(world: World) -> None:
    await make_namespace(world.registry)
    await make_configmap(world.registry)
    world.log.clear()
    await world.registry.delete(cm_target(name="c"), {})
    assert world.log == [
        "mutating DELETE configmaps/c",
        "validating DELETE configmaps/c",
        "storage delete configmaps/c",
    ]
    _, _, obj, old = world.admission.calls[-1]
    assert obj is None and old is not None and old["metadata"]["name"] == "c"


async def test_dry_run_delete_keeps_the_object(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry)
    result = await registry.delete(cm_target(name="c"), {}, dry_run=True)
    assert loads(result)["status"] == "Success"
    await registry.get(cm_target(name="c"), ReadOptions())


async def test_dry_run_update_keeps_the_object(registry: Registry) -> None:
    await make_namespace(registry)
    first = await make_configmap(registry)
    result = await registry.update(
        cm_target(name="c"), orjson.dumps({**first, "data": {"k": "v"}}), dry_run=True
    )
    assert loads(result)["data"] == {"k": "v"}
    got = loads(await registry.get(cm_target(name="c"), ReadOptions()))
    assert "data" not in got


# --- watch ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "options", "code", "message"),
    [
        (
            cm_target(),
            ReadOptions(field_selector="spec.foo=x"),
            400,
            '"spec.foo" is not a known field selector: only "metadata.name", "metadata.namespace"',
        ),
        (
            Target("", "v1", "widgets"),
            ReadOptions(),
            404,
            "the server could not find the requested resource",
        ),
    ],
)
async def test_open_watch_raises_before_any_event(
    registry: Registry, target: Target, options: ReadOptions, code: int, message: str
) -> None:
    err = await failure(registry.open_watch(target, options))
    assert (err.code, err.message) == (code, message)


async def test_open_watch_rejects_a_bad_label_selector(registry: Registry) -> None:
    err = await failure(registry.open_watch(cm_target(), ReadOptions(label_selector="a in (")))
    assert (err.code, err.reason) == (400, "BadRequest")


async def test_watch_sends_current_objects_then_changes(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry, "a")
    events = await registry.open_watch(cm_target(), ReadOptions())
    async with aclosing(events):  # type: ignore[type-var]
        kind, data = await asyncio.wait_for(anext(events), EVENT_TIMEOUT)
        assert kind == "ADDED"
        assert orjson.loads(data)["metadata"]["name"] == "a"
        await make_configmap(registry, "b")
        kind, data = await asyncio.wait_for(anext(events), EVENT_TIMEOUT)
        assert (kind, orjson.loads(data)["metadata"]["name"]) == ("ADDED", "b")
        await registry.delete(cm_target(name="a"), {})
        kind, data = await asyncio.wait_for(anext(events), EVENT_TIMEOUT)
        assert (kind, orjson.loads(data)["metadata"]["name"]) == ("DELETED", "a")


async def test_watch_of_one_object_by_name(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry, "a")
    await make_configmap(registry, "b")
    events = await registry.open_watch(cm_target(name="b"), ReadOptions())
    async with aclosing(events):  # type: ignore[type-var]
        kind, data = await asyncio.wait_for(anext(events), EVENT_TIMEOUT)
        assert (kind, orjson.loads(data)["metadata"]["name"]) == ("ADDED", "b")


async def test_watch_as_table_sends_columns_once(registry: Registry) -> None:
    await make_namespace(registry)
    await make_configmap(registry, "a")
    await make_configmap(registry, "b")
    events = await registry.open_watch(cm_target(), ReadOptions(rendering="table"))
    async with aclosing(events):  # type: ignore[type-var]
        first = orjson.loads((await asyncio.wait_for(anext(events), EVENT_TIMEOUT))[1])
        second = orjson.loads((await asyncio.wait_for(anext(events), EVENT_TIMEOUT))[1])
    assert first["kind"] == "Table"
    assert [c["name"] for c in first["columnDefinitions"]] == ["Name", "Data", "Age"]
    assert second["columnDefinitions"] is None
    assert [len(first["rows"]), len(second["rows"])] == [1, 1]


# --- hostile input: what a write may cost, and metadata a client may not set -------------

JSON_PATCH = "application/json-patch+json"
MERGE_PATCH = "application/merge-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
REJECTED = "the server rejected our request due to an error in our request"


def deep(depth: int) -> str:
    """A JSON object nested ``depth`` deep."""
    return '{"a":' * depth + "1" + "}" * depth


async def stored_unchanged(registry: Registry, before: Obj, name: str = "c") -> None:
    after = loads(await registry.get(cm_target(name=name), ReadOptions()))
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


async def test_a_json_patch_has_at_most_10000_operations(registry: Registry) -> None:
    await make_namespace(registry)
    before = await make_configmap(registry, data={"k": "v"})
    test = b'{"op":"test","path":"/data/k","value":"v"}'
    ops = b"[" + b",".join([test] * 10_001) + b"]"
    err = await failure(registry.patch(cm_target(name="c"), JSON_PATCH, ops))
    assert (err.code, err.reason, err.message) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
        "got 10001",
    )
    await stored_unchanged(registry, before)


async def test_json_patch_copies_stop_at_their_budget(registry: Registry) -> None:
    """The issue's patch copied the annotations into themselves 25 times (2^25 their size:
    22 GiB). Small here: six such copies of 100 KB (6.4 MB without the budget) pass the
    1.5 MiB budget at the fifth, and the patch fails as kube fails one (422, no detail)."""
    await make_namespace(registry)
    before = await make_configmap(registry, metadata={"name": "c", "annotations": {"a": "x"}})
    annotations = "/metadata/annotations"
    copies = [{"op": "replace", "path": f"{annotations}/a", "value": "x" * 100_000}]
    copies += [{"op": "copy", "from": annotations, "path": f"{annotations}/c{i}"} for i in range(6)]
    err = await failure(registry.patch(cm_target(name="c"), JSON_PATCH, orjson.dumps(copies)))
    assert (err.code, err.reason, err.message, err.details) == (422, "Invalid", REJECTED, {})
    await stored_unchanged(registry, before)


@pytest.mark.parametrize(
    ("patch_type", "body", "message"),
    [
        (
            MERGE_PATCH,
            '{"data":' + deep(1000) + "}",
            "error decoding patch: invalid character '{' exceeded max depth",
        ),
        (
            STRATEGIC,
            '{"data":' + deep(1000) + "}",
            "error decoding patch: invalid character '{' exceeded max depth",
        ),
        (
            JSON_PATCH,
            '[{"op":"add","path":"/data/x","value":' + deep(1000) + "}]",
            "error decoding patch: invalid character '{' exceeded max depth",
        ),
        (
            APPLY,
            '{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":'
            + deep(1000)
            + "}",
            # go-yaml's own depth check comes first (kapi.yaml_input), at kapi's bound
            "error decoding YAML: error converting YAML to JSON: yaml: exceeded max depth of 200",
        ),
    ],
)
async def test_a_patch_nested_1000_deep_is_400(
    registry: Registry, patch_type: str, body: str, message: str
) -> None:
    """It was a RecursionError (500): each patch walks its values recursively."""
    await make_namespace(registry)
    before = await make_configmap(registry, data={"k": "v"})
    err = await failure(
        registry.patch(
            cm_target(name="c"), patch_type, body.encode(), field_manager="m", force=True
        )
        if patch_type == APPLY
        else registry.patch(cm_target(name="c"), patch_type, body.encode())
    )
    assert (err.code, err.reason, err.message) == (400, "BadRequest", message)
    await stored_unchanged(registry, before)


CRD = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": "crontabs.stable.example.com"},
    "spec": {
        "group": "stable.example.com",
        "scope": "Namespaced",
        "names": {"plural": "crontabs", "kind": "CronTab"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "schema": {"openAPIV3Schema": {"type": "object"}},
            }
        ],
    },
}
CRD_TARGET = Target(
    "apiextensions.k8s.io", "v1", "customresourcedefinitions", name="crontabs.stable.example.com"
)
EXAMPLE = "/spec/versions/0/schema/openAPIV3Schema/example"  # free-form JSON


async def test_a_patched_object_nested_too_deep_is_422(registry: Registry) -> None:
    """A patch within the depth limit that makes the object deeper than it (a value added
    deep in the object) is refused as kube's decoder refuses a patched object."""
    await registry.create(
        Target("apiextensions.k8s.io", "v1", "customresourcedefinitions"), orjson.dumps(CRD)
    )
    # Two values each within the limit, the second copied into the first's depths.
    body = (
        '[{"op":"add","path":"' + EXAMPLE + '","value":' + deep(120) + "},"
        '{"op":"copy","from":"' + EXAMPLE + '","path":"' + EXAMPLE + "/a" * 100 + '"}]'
    )
    err = await failure(registry.patch(CRD_TARGET, JSON_PATCH, body.encode()))
    assert (err.code, err.reason, err.message) == (
        422,
        "Invalid",
        " \"\" is invalid: patch: Invalid value: invalid character '{' exceeded max depth",
    )
    shallow = '[{"op":"add","path":"' + EXAMPLE + '","value":' + deep(150) + "}]"
    assert (await registry.patch(CRD_TARGET, JSON_PATCH, shallow.encode())).code == 200


@pytest.mark.parametrize("patch_type", [MERGE_PATCH, STRATEGIC, JSON_PATCH, APPLY])
async def test_a_patched_object_larger_than_storage_holds_is_413(
    registry: Registry, patch_type: str
) -> None:
    """Refused as soon as the patch is applied: managed fields, admission and validation
    spend no memory on an object storage would refuse."""
    crds = Target("apiextensions.k8s.io", "v1", "customresourcedefinitions")
    created = loads(await registry.create(crds, orjson.dumps(CRD)))
    big = "x" * (1600 * 1024)
    if patch_type == JSON_PATCH:
        body = orjson.dumps([{"op": "add", "path": EXAMPLE, "value": big}])
    else:
        bigger = copy.deepcopy(CRD)
        bigger["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["example"] = big
        body = orjson.dumps(bigger)
    err = await failure(
        registry.patch(CRD_TARGET, patch_type, body, field_manager="m", force=True)
        if patch_type == APPLY
        else registry.patch(CRD_TARGET, patch_type, body)
    )
    assert (err.code, err.reason, err.message) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 1572864",
    )
    now = loads(await registry.get(CRD_TARGET, ReadOptions()))
    assert now["metadata"]["resourceVersion"] == created["metadata"]["resourceVersion"]


async def test_a_malformed_patch_of_a_missing_object_is_404(registry: Registry) -> None:
    """The body is decoded before the object is read, but its error waits for the object:
    kube reports a missing object first."""
    await make_namespace(registry)
    for patch_type in (MERGE_PATCH, JSON_PATCH, STRATEGIC):
        err = await failure(registry.patch(cm_target(name="nope"), patch_type, b"{not json"))
        assert err.code == 404
    await make_configmap(registry, "c")
    err = await failure(registry.patch(cm_target(name="c"), MERGE_PATCH, b"{not json"))
    assert err.code == 400


async def test_an_object_larger_than_storage_holds_is_413(world: World) -> None:
    """100,000 labels are valid (kube limits no count), but not storable: 413 from storage,
    as the issue's 500 ``etcdserver: request is too large`` now is."""
    registry = world.registry
    await make_namespace(registry)
    labels = {f"k{i}": "v" for i in range(100_000)}
    body = configmap("l", metadata={"name": "l", "labels": labels})
    err = await failure(registry.create(cm_target(), body))
    assert (err.code, err.reason, err.message) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 1572864",
    )
    assert (await failure(registry.get(cm_target(name="l"), ReadOptions()))).code == 404


async def test_config_map_data_is_at_most_1_mib(registry: Registry) -> None:
    """kube's ValidateConfigMap: data and (decoded) binaryData together; the whole
    object's path, printed ``[]``."""
    await make_namespace(registry)
    err = await failure(registry.create(cm_target(), configmap(data={"a": "x" * (1600 * 1024)})))
    assert (err.code, err.reason, err.message) == (
        422,
        "Invalid",
        'ConfigMap "c" is invalid: []: Too long: may not be more than 1048576 bytes',
    )
    half = base64.b64encode(b"x" * (512 * 1024 + 1)).decode()
    err = await failure(
        registry.create(
            cm_target(), configmap(data={"a": "x" * (512 * 1024)}, binaryData={"b": half})
        )
    )
    assert err.code == 422
    exactly = configmap(data={"a": "x" * (512 * 1024)}, binaryData={"b": half[:-4]})
    assert (await registry.create(cm_target(), exactly)).code == 201


async def test_a_patch_may_not_change_the_uid(registry: Registry) -> None:
    """It answered 200 and kept the old uid: kube refuses the immutable field."""
    await make_namespace(registry)
    before = await make_configmap(registry)
    body = b'{"metadata":{"uid":"00000000-0000-0000-0000-000000000000"}}'
    err = await failure(registry.patch(cm_target(name="c"), MERGE_PATCH, body))
    assert (err.code, err.message) == (
        422,
        'ConfigMap "c" is invalid: metadata.uid: Invalid value: '
        '"00000000-0000-0000-0000-000000000000": field is immutable',
    )
    await stored_unchanged(registry, before)
    same = orjson.dumps({"metadata": {"uid": before["metadata"]["uid"], "labels": {"a": "b"}}})
    assert (await registry.patch(cm_target(name="c"), MERGE_PATCH, same)).code == 200


async def test_an_update_with_another_uid_fails_its_precondition(registry: Registry) -> None:
    """kube's rest.Update takes the body's uid as a precondition: 409."""
    await make_namespace(registry)
    before = await make_configmap(registry)
    body = configmap(metadata={"name": "c", "uid": "other"})
    err = await failure(registry.update(cm_target(name="c"), body))
    assert (err.code, err.reason, err.message) == (
        409,
        "Conflict",
        'Operation cannot be fulfilled on configmaps "c": Precondition failed: UID in '
        f"precondition: other, UID in object meta: {before['metadata']['uid']}",
    )
    await stored_unchanged(registry, before)


@pytest.mark.parametrize(
    "write",
    [
        lambda r: r.patch(cm_target(name="c"), MERGE_PATCH, b'{"metadata":{"selfLink":"/x"}}'),
        lambda r: r.update(
            cm_target(name="c"), configmap(metadata={"name": "c", "selfLink": "/x"})
        ),
    ],
)
async def test_self_link_is_neither_stored_nor_served(registry: Registry, write: Any) -> None:
    """kube-apiserver has not set nor kept metadata.selfLink since 1.20."""
    await make_namespace(registry)
    await make_configmap(registry)
    written = loads(await write(registry))
    assert "selfLink" not in written["metadata"]
    got = loads(await registry.get(cm_target(name="c"), ReadOptions()))
    assert "selfLink" not in got["metadata"]


async def test_finalizers_are_qualified_names(registry: Registry) -> None:
    """kube's ValidateFinalizers (at metadata.finalizers) and, for the built-in types, a
    name without a domain must be a standard one (at its index)."""
    await make_namespace(registry)
    long = "example.com/" + "a" * 70_000
    err = await failure(
        registry.create(cm_target(), configmap(metadata={"name": "c", "finalizers": [long]}))
    )
    assert (err.code, err.message) == (
        422,
        f'ConfigMap "c" is invalid: metadata.finalizers: Invalid value: "{long}": name part '
        "must be no more than 63 characters",
    )
    err = await failure(
        registry.create(cm_target(), configmap(metadata={"name": "c", "finalizers": ["mine"]}))
    )
    assert err.message == (
        'ConfigMap "c" is invalid: metadata.finalizers[0]: Invalid value: "mine": name is '
        "neither a standard finalizer name nor is it fully qualified"
    )
    both = {"name": "c", "finalizers": ["orphan", "foregroundDeletion"]}
    err = await failure(registry.create(cm_target(), configmap(metadata=both)))
    assert err.message == (
        'ConfigMap "c" is invalid: metadata.finalizers: Invalid value: '
        '["orphan","foregroundDeletion"]: finalizer orphan and foregroundDeletion cannot be '
        "both set"
    )
    ok = {"name": "c", "finalizers": ["example.com/keep", "orphan"]}
    assert (await registry.create(cm_target(), configmap(metadata=ok))).code == 201


async def test_a_namespace_finalizer_is_a_qualified_name(registry: Registry) -> None:
    """kube's ValidateNamespace: spec.finalizers, each a qualified name and, without a
    domain, a standard one. A 70,000-character one was accepted."""
    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "n"}}
    long = "example.com/" + "f" * 70_000
    body["spec"] = {"finalizers": [long]}
    err = await failure(registry.create(Target("", "v1", "namespaces"), orjson.dumps(body)))
    assert (err.code, err.message) == (
        422,
        f'Namespace "n" is invalid: spec.finalizers: Invalid value: "{long}": name part must '
        "be no more than 63 characters",
    )
    body["spec"] = {"finalizers": ["mine"]}
    err = await failure(registry.create(Target("", "v1", "namespaces"), orjson.dumps(body)))
    assert err.message == (
        'Namespace "n" is invalid: spec.finalizers: Invalid value: "mine": name is neither a '
        "standard finalizer name nor is it fully qualified"
    )
    body["spec"] = {"finalizers": ["example.com/cleanup"]}
    created = loads(await registry.create(Target("", "v1", "namespaces"), orjson.dumps(body)))
    assert created["spec"]["finalizers"] == ["example.com/cleanup", "kubernetes"]


async def test_a_patch_that_changes_nothing_answers_the_stored_object(registry: Registry) -> None:
    """Its resourceVersion included: the patched object shares the stored one's metadata,
    which the no-op check must not change."""
    await make_namespace(registry)
    before = await make_configmap(registry, data={"a": "1"})
    result = await registry.patch(cm_target(name="c"), MERGE_PATCH, b'{"data":{"a":"1"}}')
    assert loads(result)["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]
