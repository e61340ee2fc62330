"""CustomResourceDefinitions served as kube serves them, through the gateway on a real etcd.

The CRD is kube's own documentation example (``CronTab``, stable.example.com), grown with
the features each test needs: printer columns, defaults, status and scale subresources,
several versions.
"""

from __future__ import annotations

import asyncio
import copy
import uuid
from typing import Any

import httpx
import pytest
import uvicorn

from services.gateway.app import create_app
from services.gateway.server import GatewayConfig, build_peers
from services.registry.server import RegistryConfig
from services.registry.server import create_server as create_registry
from tests.conftest import EtcdProcess
from tests.crds import simple_crd
from tests.integration.conftest import ControlPlane, free_port

pytestmark = pytest.mark.integration

Obj = dict[str, Any]
CRDS = "/apis/apiextensions.k8s.io/v1/customresourcedefinitions"
WAIT = 10.0


def crontab_crd(group: str) -> Obj:
    """kube's CronTab example (tasks/extend-kubernetes/custom-resources), in ``group``."""
    return {
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": {"name": f"crontabs.{group}"},
        "spec": {
            "group": group,
            "scope": "Namespaced",
            "names": {
                "plural": "crontabs",
                "singular": "crontab",
                "kind": "CronTab",
                "shortNames": ["ct"],
                "categories": ["all"],
            },
            "versions": [
                {
                    "name": "v1",
                    "served": True,
                    "storage": True,
                    "schema": {
                        "openAPIV3Schema": {
                            "type": "object",
                            "properties": {
                                "spec": {
                                    "type": "object",
                                    "properties": {
                                        "cronSpec": {
                                            "type": "string",
                                            "pattern": r"^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$",
                                        },
                                        "image": {"type": "string"},
                                        "replicas": {
                                            "type": "integer",
                                            "minimum": 1,
                                            "maximum": 10,
                                            "default": 1,
                                        },
                                    },
                                    "required": ["cronSpec"],
                                },
                                "status": {
                                    "type": "object",
                                    "properties": {
                                        "replicas": {"type": "integer"},
                                        "labelSelector": {"type": "string"},
                                    },
                                },
                            },
                        }
                    },
                    "subresources": {
                        "status": {},
                        "scale": {
                            "specReplicasPath": ".spec.replicas",
                            "statusReplicasPath": ".status.replicas",
                            "labelSelectorPath": ".status.labelSelector",
                        },
                    },
                    "additionalPrinterColumns": [
                        {"name": "Spec", "type": "string", "jsonPath": ".spec.cronSpec"},
                        {"name": "Replicas", "type": "integer", "jsonPath": ".spec.replicas"},
                        {
                            "name": "Image",
                            "type": "string",
                            "priority": 1,
                            "jsonPath": ".spec.image",
                        },
                        {"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp"},
                    ],
                }
            ],
        },
    }


def crontab(group: str, name: str, **spec: Any) -> Obj:
    return {
        "apiVersion": f"{group}/v1",
        "kind": "CronTab",
        "metadata": {"name": name},
        "spec": {"cronSpec": "* * * * */5", "image": "my-awesome-cron-image", **spec},
    }


def condition(crd: Obj, kind: str) -> Obj | None:
    for found in (crd.get("status") or {}).get("conditions") or []:
        if found["type"] == kind:
            return dict(found)
    return None


async def wait_for(check: Any, timeout: float = WAIT, interval: float = 0.05) -> Any:
    """Poll ``check()`` (a coroutine) until it answers something true."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        found = await check()
        if found:
            return found
        if loop.time() > deadline:
            raise AssertionError(f"not true within {timeout}s: {check}")
        await asyncio.sleep(interval)


async def install(api: httpx.AsyncClient, crd: Obj) -> Obj:
    """Create ``crd`` and wait until it is Established and its resources are served."""
    created = await api.post(CRDS, json=crd)
    assert created.status_code == 201, created.text
    name = crd["metadata"]["name"]

    async def established() -> Obj | None:
        got = (await api.get(f"{CRDS}/{name}")).json()
        found = condition(got, "Established")
        return got if found and found["status"] == "True" else None

    return dict(await wait_for(established))


@pytest.fixture
def group() -> str:
    return f"t{uuid.uuid4().hex[:8]}.example.com"


async def test_a_crd_is_established_and_served(control_plane: ControlPlane, group: str) -> None:
    api, ns = control_plane.api, control_plane.namespace
    crd = await install(api, crontab_crd(group))
    assert crd["status"]["acceptedNames"] == {
        "plural": "crontabs",
        "singular": "crontab",
        "kind": "CronTab",
        "listKind": "CronTabList",
        "shortNames": ["ct"],
        "categories": ["all"],
    }
    assert condition(crd, "NamesAccepted") | {"lastTransitionTime": ""} == {
        "type": "NamesAccepted",
        "status": "True",
        "reason": "NoConflicts",
        "message": "no conflicts found",
        "lastTransitionTime": "",
    }
    established = condition(crd, "Established")
    assert established is not None
    assert (established["reason"], established["message"]) == (
        "InitialNamesAccepted",
        "the initial names have been accepted",
    )
    assert crd["status"]["storedVersions"] == ["v1"]

    base = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
    created = await api.post(base, json=crontab(group, "my-new-cron-object"))
    assert created.status_code == 201, created.text
    body = created.json()
    assert body["spec"]["replicas"] == 1  # defaulted
    assert body["metadata"]["generation"] == 1
    assert "status" not in body
    got = await api.get(f"{base}/my-new-cron-object")
    assert got.json() == body
    listed = (await api.get(base)).json()
    assert (listed["kind"], listed["apiVersion"]) == ("CronTabList", f"{group}/v1")
    assert [i["metadata"]["name"] for i in listed["items"]] == ["my-new-cron-object"]


async def test_discovery_lists_the_custom_resource(control_plane: ControlPlane, group: str) -> None:
    api = control_plane.api
    await install(api, crontab_crd(group))
    resources = (await api.get(f"/apis/{group}/v1")).json()
    names = {r["name"]: r for r in resources["resources"]}
    assert set(names) == {"crontabs", "crontabs/scale", "crontabs/status"}
    crontabs = names["crontabs"]
    assert crontabs["shortNames"] == ["ct"]
    assert crontabs["categories"] == ["all"]
    assert crontabs["namespaced"] is True
    assert crontabs["kind"] == "CronTab"
    aggregated = await api.get(
        "/apis",
        headers={"Accept": "application/json;g=apidiscovery.k8s.io;v=v2;as=APIGroupDiscoveryList"},
    )
    groups = {g["metadata"]["name"]: g for g in aggregated.json()["items"]}
    (version,) = groups[group]["versions"]
    (resource,) = version["resources"]
    assert resource["resource"] == "crontabs"
    assert [s["subresource"] for s in resource["subresources"]] == ["scale", "status"]


async def test_schema_validation_is_kube_s(control_plane: ControlPlane, group: str) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await install(api, crontab_crd(group))
    base = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
    bad = crontab(group, "bad", replicas="three")
    del bad["spec"]["cronSpec"]
    answer = await api.post(base, json=bad)
    assert answer.status_code == 422, answer.text
    status = answer.json()
    assert status["reason"] == "Invalid"
    assert status["message"] == (
        f'CronTab.{group} "bad" is invalid: ['
        'spec.replicas: Invalid value: "string": spec.replicas in body must be of type '
        'integer: "string", spec.cronSpec: Required value, .spec.replicas: Invalid value: 0: '
        ".spec.replicas accessor error: three is of the type string, expected int64]"
    )
    pattern = await api.post(base, json=crontab(group, "x", cronSpec="nope"))
    assert pattern.status_code == 422
    assert pattern.json()["details"]["causes"][0]["message"] == (
        'Invalid value: "nope": spec.cronSpec in body should match '
        r"'^(\d+|\*)(/\d+)?(\s+(\d+|\*)(/\d+)?){4}$'"
    )
    too_many = await api.post(base, json=crontab(group, "y", replicas=11))
    assert too_many.json()["details"]["causes"][0]["message"] == (
        "Invalid value: 11: spec.replicas in body should be less than or equal to 10"
    )


async def test_unknown_fields_are_pruned_or_refused(
    control_plane: ControlPlane, group: str
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await install(api, crontab_crd(group))
    base = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
    strict = await api.post(
        base, params={"fieldValidation": "Strict"}, json=crontab(group, "s", unknownField=1)
    )
    assert strict.status_code == 400
    assert strict.json()["message"] == (
        'CronTab in version "v1" cannot be handled as a CronTab: strict decoding error: '
        'unknown field "spec.unknownField"'
    )
    warned = await api.post(base, json=crontab(group, "w", unknownField=1))
    assert warned.status_code == 201
    assert warned.headers["warning"] == '299 - "unknown field \\"spec.unknownField\\""'
    assert "unknownField" not in warned.json()["spec"]


async def test_printer_columns_in_tables(control_plane: ControlPlane, group: str) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await install(api, crontab_crd(group))
    base = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
    assert (await api.post(base, json=crontab(group, "a", replicas=3))).status_code == 201
    table = (
        await api.get(base, headers={"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"})
    ).json()
    assert [(c["name"], c["type"], c["priority"]) for c in table["columnDefinitions"]] == [
        ("Name", "string", 0),
        ("Spec", "string", 0),
        ("Replicas", "integer", 0),
        ("Image", "string", 1),
        ("Age", "date", 0),
    ]
    (row,) = table["rows"]
    assert row["cells"][:4] == ["a", "* * * * */5", 3, "my-awesome-cron-image"]
    assert row["object"]["kind"] == "PartialObjectMetadata"


async def test_status_and_scale(control_plane: ControlPlane, group: str) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await install(api, crontab_crd(group))
    base = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
    created = (await api.post(base, json=crontab(group, "c", replicas=2))).json()
    # the main resource does not change status, and bumps generation on spec changes
    changed = copy.deepcopy(created)
    changed["spec"]["image"] = "other"
    changed["status"] = {"replicas": 9}
    updated = (await api.put(f"{base}/c", json=changed)).json()
    assert (updated["metadata"]["generation"], "status" in updated) == (2, False)
    status = {**updated, "status": {"replicas": 2, "labelSelector": "app=c"}}
    status["spec"] = {"cronSpec": "0 0 * * *"}  # ignored by /status
    written = (await api.put(f"{base}/c/status", json=status)).json()
    assert written["status"] == {"replicas": 2, "labelSelector": "app=c"}
    assert written["spec"]["image"] == "other"
    assert written["metadata"]["generation"] == 2
    scale = (await api.get(f"{base}/c/scale")).json()
    assert scale == {
        "kind": "Scale",
        "apiVersion": "autoscaling/v1",
        "metadata": {
            "name": "c",
            "namespace": ns,
            "uid": written["metadata"]["uid"],
            "resourceVersion": written["metadata"]["resourceVersion"],
            "creationTimestamp": written["metadata"]["creationTimestamp"],
        },
        "spec": {"replicas": 2},
        "status": {"replicas": 2, "selector": "app=c"},
    }
    patched = await api.patch(
        f"{base}/c/scale",
        content=b'{"spec":{"replicas":5}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.json()["spec"] == {"replicas": 5}, patched.text
    assert (await api.get(f"{base}/c")).json()["spec"]["replicas"] == 5


async def test_strategic_merge_patch_is_refused(control_plane: ControlPlane, group: str) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await install(api, crontab_crd(group))
    base = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
    await api.post(base, json=crontab(group, "p"))
    answer = await api.patch(
        f"{base}/p",
        content=b'{"spec":{"image":"x"}}',
        headers={"Content-Type": "application/strategic-merge-patch+json"},
    )
    assert answer.status_code == 415
    assert answer.json()["message"] == (
        "the body of the request was in an unknown format - accepted media types include: "
        "application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
    )
    merged = await api.patch(
        f"{base}/p",
        content=b'{"spec":{"image":"x"}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert merged.json()["spec"]["image"] == "x"


async def test_deleting_the_crd_deletes_its_objects(
    control_plane: ControlPlane, group: str
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await install(api, crontab_crd(group))
    base = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
    for name in ("one", "two"):
        assert (await api.post(base, json=crontab(group, name))).status_code == 201
    deleted = await api.delete(f"{CRDS}/crontabs.{group}")
    assert deleted.status_code == 200, deleted.text
    marked = deleted.json()
    assert "customresourcecleanup.apiextensions.k8s.io" in marked["metadata"]["finalizers"]
    assert marked["metadata"]["deletionTimestamp"]

    async def gone() -> bool:
        return (await api.get(f"{CRDS}/crontabs.{group}")).status_code == 404

    await wait_for(gone)
    assert (await api.get(base)).status_code == 404


async def test_a_crd_served_on_one_gateway_is_served_on_all_within_a_second(
    control_plane: ControlPlane, group: str, etcd: EtcdProcess
) -> None:
    """A second registry replica and a second gateway on it: the CRD created through the
    first gateway is served by the second within a second of being Established."""
    registry = await create_registry(
        RegistryConfig(
            listen="127.0.0.1:0",
            storage=control_plane.addresses["storage"],
            authz=control_plane.addresses["authz"],
            tls=etcd.pki.service("registry"),
        )
    )
    await asyncio.wait_for(registry.bootstrap, 20)
    port = free_port()
    peers = build_peers(
        GatewayConfig(
            listen=f"127.0.0.1:{port}",
            registry=f"127.0.0.1:{registry.port}",
            authz=control_plane.addresses["authz"],
            storage=control_plane.addresses["storage"],
            tls_cert_file="",
            tls_private_key_file="",
            peer_tls=etcd.pki.service("gateway"),
        )
    )
    app = create_app(peers)
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    serving = asyncio.create_task(server.serve())
    try:
        while not server.started:
            await asyncio.sleep(0.02)
        other = httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers=dict(control_plane.api.headers)
        )
        async with other:
            ns = control_plane.namespace
            path = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
            assert (await other.get(path)).status_code == 404  # the second knows no CRD yet
            await install(control_plane.api, crontab_crd(group))
            loop = asyncio.get_running_loop()
            established = loop.time()

            async def served() -> bool:
                return (await other.get(path)).status_code == 200

            await wait_for(served, timeout=1.0, interval=0.01)
            assert loop.time() - established <= 1.0
            created = await other.post(path, json=crontab(group, "via-the-second"))
            assert created.status_code == 201, created.text
            got = await control_plane.api.get(f"{path}/via-the-second")
            assert got.status_code == 200
    finally:
        server.should_exit = True
        await serving
        await app.state.hub.close()
        await app.state.types.close()
        await asyncio.gather(peers.registry.close(), peers.authz.close(), peers.storage.close())
        await registry.server.stop(None)
        await registry.close()


OPEN = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}


async def test_a_non_structural_schema_is_refused(control_plane: ControlPlane, group: str) -> None:
    schema = {"type": "object", "properties": {"spec": {"properties": {"a": {"type": "string"}}}}}
    answer = await control_plane.api.post(CRDS, json=simple_crd(group, "things", "Thing", schema))
    assert answer.status_code == 422
    assert answer.json()["message"] == (
        f'CustomResourceDefinition.apiextensions.k8s.io "things.{group}" is invalid: '
        "spec.versions[0].schema.openAPIV3Schema.properties[spec].type: Required value: "
        "must not be empty for specified object fields"
    )


async def test_a_protected_group_needs_its_approval(control_plane: ControlPlane) -> None:
    group = f"t{uuid.uuid4().hex[:6]}.k8s.io"
    answer = await control_plane.api.post(CRDS, json=simple_crd(group, "things", "Thing", OPEN))
    assert answer.status_code == 422
    assert answer.json()["details"]["causes"][0] == {
        "reason": "FieldValueRequired",
        "message": "Required value: protected groups must have approval annotation "
        '"api-approved.kubernetes.io", see https://github.com/kubernetes/enhancements/pull/1111',
        "field": "metadata.annotations[api-approved.kubernetes.io]",
    }


async def test_a_name_conflict_is_not_accepted(control_plane: ControlPlane, group: str) -> None:
    api = control_plane.api
    await install(api, simple_crd(group, "things", "Thing", OPEN))
    second = simple_crd(group, "others", "Thing", OPEN)  # the same kind (and list kind)
    assert (await api.post(CRDS, json=second)).status_code == 201

    async def refused() -> Obj | None:
        got = (await api.get(f"{CRDS}/others.{group}")).json()
        found = condition(got, "NamesAccepted")
        return got if found and found["status"] == "False" else None

    crd = await wait_for(refused)
    names = condition(crd, "NamesAccepted")
    assert names is not None
    # kube checks every name and says the last conflict it found
    assert (names["reason"], names["message"]) == (
        "ListKindConflict",
        '"ThingList" is already in use',
    )
    established = condition(crd, "Established")
    assert established is not None
    assert (established["status"], established["reason"]) == ("False", "NotAccepted")
    assert crd["status"]["acceptedNames"] == {"plural": "others", "singular": "other", "kind": ""}
    ns = control_plane.namespace
    assert (await api.get(f"/apis/{group}/v1/namespaces/{ns}/others")).status_code == 404
    assert (await api.get(f"/apis/{group}/v1/namespaces/{ns}/things")).status_code == 200


async def test_cel_rules(control_plane: ControlPlane, group: str) -> None:
    api, ns = control_plane.api, control_plane.namespace
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {"rule": "self.minReplicas <= self.replicas", "message": "replicas too few"},
                    {"rule": "self.name == oldSelf.name", "message": "name is immutable"},
                ],
                "properties": {
                    "name": {"type": "string"},
                    "replicas": {"type": "integer"},
                    "minReplicas": {"type": "integer"},
                },
            }
        },
    }
    await install(api, simple_crd(group, "ruled", "Ruled", schema))
    base = f"/apis/{group}/v1/namespaces/{ns}/ruled"

    def body(**spec: Any) -> Obj:
        return {"apiVersion": f"{group}/v1", "kind": "Ruled", "metadata": {"name": "r"},
                "spec": spec}  # fmt: skip

    refused = await api.post(base, json=body(name="a", replicas=1, minReplicas=2))
    assert refused.status_code == 422
    assert refused.json()["message"] == (
        f'Ruled.{group} "r" is invalid: spec: Invalid value: "object": replicas too few'
    )
    created = await api.post(base, json=body(name="a", replicas=3, minReplicas=2))
    assert created.status_code == 201, created.text
    changed = {**created.json(), "spec": {"name": "b", "replicas": 3, "minReplicas": 2}}
    immutable = await api.put(f"{base}/r", json=changed)
    assert immutable.status_code == 422
    assert immutable.json()["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "object": name is immutable',
         "field": "spec"}
    ]  # fmt: skip


async def test_server_side_apply_merges_map_lists_by_key(
    control_plane: ControlPlane, group: str
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "properties": {
                    "ports": {
                        "type": "array",
                        "x-kubernetes-list-type": "map",
                        "x-kubernetes-list-map-keys": ["name"],
                        "items": {
                            "type": "object",
                            "required": ["name"],
                            "properties": {
                                "name": {"type": "string"},
                                "port": {"type": "integer"},
                            },
                        },
                    },
                    "tags": {
                        "type": "array",
                        "x-kubernetes-list-type": "set",
                        "items": {"type": "string"},
                    },
                },
            }
        },
    }
    await install(api, simple_crd(group, "services", "Service", schema))
    path = f"/apis/{group}/v1/namespaces/{ns}/services/s"

    async def apply(manager: str, spec: Obj) -> httpx.Response:
        body = {"apiVersion": f"{group}/v1", "kind": "Service", "metadata": {"name": "s"},
                "spec": spec}  # fmt: skip
        return await api.patch(
            path,
            params={"fieldManager": manager},
            content=json_bytes(body),
            headers={"Content-Type": "application/apply-patch+yaml"},
        )

    first = await apply("one", {"ports": [{"name": "http", "port": 80}], "tags": ["a"]})
    assert first.status_code == 201, first.text
    second = await apply("two", {"ports": [{"name": "https", "port": 443}], "tags": ["b"]})
    assert second.status_code == 200, second.text
    spec = second.json()["spec"]
    assert spec["ports"] == [{"name": "http", "port": 80}, {"name": "https", "port": 443}]
    assert spec["tags"] == ["a", "b"]
    conflict = await apply("two", {"ports": [{"name": "http", "port": 8080}]})
    assert conflict.status_code == 409
    assert conflict.json()["details"]["causes"][0]["field"] == '.spec.ports[name="http"].port'
    duplicate = await api.put(
        path,
        json={**second.json(), "spec": {"ports": [{"name": "a"}, {"name": "a"}]}},
    )
    assert duplicate.status_code == 422
    assert duplicate.json()["details"]["causes"][0] == {
        "reason": "FieldValueDuplicate",
        "message": 'Duplicate value: {"name":"a"}',
        "field": "spec.ports[1]",
    }


def json_bytes(obj: Obj) -> bytes:
    import orjson

    return orjson.dumps(obj)


async def test_selectable_fields(control_plane: ControlPlane, group: str) -> None:
    api, ns = control_plane.api, control_plane.namespace
    crd = simple_crd(
        group,
        "shirts",
        "Shirt",
        {"type": "object", "properties": {"spec": {"type": "object", "properties": {
            "color": {"type": "string"}, "size": {"type": "string"}}}}},
    )  # fmt: skip
    crd["spec"]["versions"][0]["selectableFields"] = [{"jsonPath": ".spec.color"}]
    await install(api, crd)
    base = f"/apis/{group}/v1/namespaces/{ns}/shirts"
    for name, color in (("a", "blue"), ("b", "red")):
        body = {"apiVersion": f"{group}/v1", "kind": "Shirt", "metadata": {"name": name},
                "spec": {"color": color, "size": "M"}}  # fmt: skip
        assert (await api.post(base, json=body)).status_code == 201
    listed = (await api.get(base, params={"fieldSelector": "spec.color=red"})).json()
    assert [i["metadata"]["name"] for i in listed["items"]] == ["b"]
    refused = await api.get(base, params={"fieldSelector": "spec.size=M"})
    assert refused.status_code == 400
    assert refused.json()["message"] == "field label not supported: spec.size"


async def test_defaults_apply_on_read(control_plane: ControlPlane, group: str) -> None:
    """A default added to the schema later shows in objects stored before it, as kube
    defaults what it reads from etcd."""
    api, ns = control_plane.api, control_plane.namespace
    schema: Obj = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "size": {"type": "string"}}}}}  # fmt: skip
    crd = await install(api, simple_crd(group, "boxes", "Box", schema))
    base = f"/apis/{group}/v1/namespaces/{ns}/boxes"
    body = {"apiVersion": f"{group}/v1", "kind": "Box", "metadata": {"name": "b"},
            "spec": {"size": "S"}}  # fmt: skip
    assert (await api.post(base, json=body)).status_code == 201
    props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    props["spec"]["properties"]["color"] = {"type": "string", "default": "white"}
    updated = await api.put(f"{CRDS}/boxes.{group}", json=crd)
    assert updated.status_code == 200, updated.text

    async def defaulted() -> bool:
        got = (await api.get(f"{base}/b")).json()
        return bool(got["spec"].get("color") == "white")

    await wait_for(defaulted)


async def test_embedded_resources_are_validated(control_plane: ControlPlane, group: str) -> None:
    api, ns = control_plane.api, control_plane.namespace
    schema = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "template": {"type": "object", "x-kubernetes-embedded-resource": True,
                     "x-kubernetes-preserve-unknown-fields": True}}}}}  # fmt: skip
    await install(api, simple_crd(group, "wrappers", "Wrapper", schema))
    base = f"/apis/{group}/v1/namespaces/{ns}/wrappers"
    body = {"apiVersion": f"{group}/v1", "kind": "Wrapper", "metadata": {"name": "w"},
            "spec": {"template": {"kind": "Pod", "metadata": {"name": "a/b"}}}}  # fmt: skip
    answer = await api.post(base, json=body)
    assert answer.status_code == 422
    assert answer.json()["details"]["causes"] == [
        {"reason": "FieldValueRequired", "message": "Required value",
         "field": "spec.template.apiVersion"},
        {"reason": "FieldValueInvalid", "message": "Invalid value: \"a/b\": may not contain '/'",
         "field": "spec.template.metadata.name"},
    ]  # fmt: skip


async def test_openapi_v3_describes_the_custom_resource(
    control_plane: ControlPlane, group: str
) -> None:
    api = control_plane.api
    await install(api, crontab_crd(group))
    index = (await api.get("/openapi/v3")).json()["paths"]
    url = index[f"apis/{group}/v1"]["serverRelativeURL"]
    document = (await api.get(url)).json()
    name = ".".join((*reversed(group.split(".")), "v1", "CronTab"))
    schema = document["components"]["schemas"][name]
    assert schema["x-kubernetes-group-version-kind"] == [
        {"group": group, "kind": "CronTab", "version": "v1"}
    ]
    assert schema["properties"]["spec"]["properties"]["cronSpec"]["type"] == "string"
    patch = document["paths"][f"/apis/{group}/v1/namespaces/{{namespace}}/crontabs/{{name}}"][
        "patch"
    ]
    assert sorted(patch["requestBody"]["content"]) == [
        "application/apply-patch+yaml",
        "application/json-patch+json",
        "application/merge-patch+json",
    ]
    assert any(p["name"] == "fieldValidation" for p in patch["parameters"])
    # a changed CRD changes the document's hash
    crd = (await api.get(f"{CRDS}/crontabs.{group}")).json()
    crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]["spec"]["properties"][
        "extra"
    ] = {"type": "string"}
    assert (await api.put(f"{CRDS}/crontabs.{group}", json=crd)).status_code == 200

    async def rehashed() -> bool:
        now = (await api.get("/openapi/v3")).json()["paths"][f"apis/{group}/v1"]
        return bool(now["serverRelativeURL"] != url)

    await wait_for(rehashed)
    v2 = (await api.get("/openapi/v2")).json()
    assert name in v2["definitions"]


async def test_watch_custom_resources(control_plane: ControlPlane, group: str) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await install(api, crontab_crd(group))
    base = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
    listed = (await api.get(base)).json()
    events: list[Obj] = []

    async def watch() -> None:
        params = {
            "watch": "true",
            "resourceVersion": listed["metadata"]["resourceVersion"],
            "labelSelector": "app=x",
            "allowWatchBookmarks": "true",
            "timeoutSeconds": "5",
        }
        async with api.stream("GET", base, params=params) as stream:
            async for line in stream.aiter_lines():
                event = json_loads(line)
                if event["type"] != "BOOKMARK":
                    events.append(event)
                if len(events) == 2:
                    return

    task = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    labelled = crontab(group, "labelled")
    labelled["metadata"]["labels"] = {"app": "x"}
    assert (await api.post(base, json=crontab(group, "plain"))).status_code == 201
    assert (await api.post(base, json=labelled)).status_code == 201
    assert (await api.delete(f"{base}/labelled")).status_code == 200
    await asyncio.wait_for(task, WAIT)
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "labelled"),
        ("DELETED", "labelled"),
    ]
    assert events[0]["object"]["kind"] == "CronTab"


def json_loads(line: str) -> Obj:
    import orjson

    found: Obj = orjson.loads(line)
    return found


async def test_a_changed_crd_ends_the_watches_of_its_resource(
    control_plane: ControlPlane, group: str
) -> None:
    """Watches end when the CRD changes what is served, as kube replaces the resource's
    storage; the next watch sees objects as the new schema has them (here, defaulted)."""
    api, ns = control_plane.api, control_plane.namespace
    schema: Obj = {"type": "object", "properties": {"spec": {"type": "object", "properties": {
        "size": {"type": "string"}}}}}  # fmt: skip
    crd = await install(api, simple_crd(group, "boxes", "Box", schema))
    base = f"/apis/{group}/v1/namespaces/{ns}/boxes"
    body = {"apiVersion": f"{group}/v1", "kind": "Box", "metadata": {"name": "b"},
            "spec": {"size": "S"}}  # fmt: skip
    assert (await api.post(base, json=body)).status_code == 201
    listed = (await api.get(base)).json()
    watch_params = {"watch": "true", "resourceVersion": listed["metadata"]["resourceVersion"],
                    "timeoutSeconds": "30"}  # fmt: skip
    ended = asyncio.Event()
    seen: list[Obj] = []

    async def watch() -> None:
        async with api.stream("GET", base, params=watch_params) as stream:
            async for line in stream.aiter_lines():
                seen.append(json_loads(line))
        ended.set()

    task = asyncio.create_task(watch())
    await asyncio.sleep(0.2)
    assert not ended.is_set()
    props = crd["spec"]["versions"][0]["schema"]["openAPIV3Schema"]["properties"]
    props["spec"]["properties"]["color"] = {"type": "string", "default": "white"}
    assert (await api.put(f"{CRDS}/boxes.{group}", json=crd)).status_code == 200
    await asyncio.wait_for(task, WAIT)  # ended well before its 30 s
    assert [e for e in seen if e["type"] != "BOOKMARK"] == []

    async def defaulted() -> bool:
        got = (await api.get(f"{base}/b")).json()
        return bool(got["spec"].get("color") == "white")

    await wait_for(defaulted)
    listed = (await api.get(base)).json()
    watch_params["resourceVersion"] = listed["metadata"]["resourceVersion"]
    watch_params["timeoutSeconds"] = "5"
    events: list[Obj] = []

    async def watch_again() -> None:
        async with api.stream("GET", base, params=watch_params) as stream:
            async for line in stream.aiter_lines():
                event = json_loads(line)
                if event["type"] == "MODIFIED":
                    events.append(event)
                    return

    again = asyncio.create_task(watch_again())
    await asyncio.sleep(0.2)
    patched = await api.patch(
        f"{base}/b",
        content=b'{"metadata":{"labels":{"a":"b"}}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.status_code == 200, patched.text
    await asyncio.wait_for(again, WAIT)
    assert events[0]["object"]["spec"] == {"size": "S", "color": "white"}


async def test_a_terminating_crd_waits_for_its_objects_finalizers(
    control_plane: ControlPlane, group: str
) -> None:
    """An object with a finalizer holds its CRD in Terminating, where creates are refused
    as kube refuses them; once the finalizer goes, the object and then the CRD go."""
    api, ns = control_plane.api, control_plane.namespace
    await install(api, crontab_crd(group))
    base = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
    held = crontab(group, "held")
    held["metadata"]["finalizers"] = ["example.com/hold"]
    assert (await api.post(base, json=held)).status_code == 201
    assert (await api.delete(f"{CRDS}/crontabs.{group}")).status_code == 200

    async def deleting() -> Obj | None:
        crd = (await api.get(f"{CRDS}/crontabs.{group}")).json()
        found = condition(crd, "Terminating")
        got = (await api.get(f"{base}/held")).json()
        ready = found and found["reason"] == "InstanceDeletionInProgress"
        return crd if ready and got["metadata"].get("deletionTimestamp") else None

    crd = await wait_for(deleting)
    assert crd["metadata"]["finalizers"] == ["customresourcecleanup.apiextensions.k8s.io"]
    refused = await api.post(base, json=crontab(group, "late"))
    assert refused.status_code == 405
    assert refused.json()["reason"] == "MethodNotAllowed"
    assert (
        refused.json()["message"]
        == "create not allowed while custom resource definition is terminating"
    )
    dry = await api.post(base, json=crontab(group, "late"), params={"dryRun": "All"})
    assert dry.status_code == 405
    released = await api.patch(
        f"{base}/held",
        content=b'{"metadata":{"finalizers":null}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert released.status_code == 200, released.text

    async def gone() -> bool:
        return (await api.get(f"{CRDS}/crontabs.{group}")).status_code == 404

    await wait_for(gone)


async def test_dry_run_writes_nothing(control_plane: ControlPlane, group: str) -> None:
    api, ns = control_plane.api, control_plane.namespace
    await install(api, crontab_crd(group))
    base = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
    dry = await api.post(base, json=crontab(group, "dry"), params={"dryRun": "All"})
    assert dry.status_code == 201, dry.text
    assert dry.json()["spec"]["replicas"] == 1  # defaulted as a real create would be
    assert (await api.get(f"{base}/dry")).status_code == 404
    assert (await api.post(base, json=crontab(group, "real"))).status_code == 201
    patched = await api.patch(
        f"{base}/real",
        params={"dryRun": "All"},
        content=b'{"spec":{"replicas":3}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert patched.json()["spec"]["replicas"] == 3
    assert (await api.get(f"{base}/real")).json()["spec"]["replicas"] == 1
    assert (await api.delete(f"{base}/real", params={"dryRun": "All"})).status_code == 200
    assert (await api.get(f"{base}/real")).status_code == 200


async def test_owner_references_are_kept_and_checked(
    control_plane: ControlPlane, group: str
) -> None:
    """An object owned by another keeps its ownerReferences; two controllers are refused
    in apimachinery's words. (No garbage collector runs: an owner's deletion leaves its
    dependents, as with kube-apiserver alone.)"""
    api, ns = control_plane.api, control_plane.namespace
    await install(api, crontab_crd(group))
    base = f"/apis/{group}/v1/namespaces/{ns}/crontabs"
    owner = (await api.post(base, json=crontab(group, "owner"))).json()
    ref = {"apiVersion": f"{group}/v1", "kind": "CronTab", "name": "owner",
           "uid": owner["metadata"]["uid"], "controller": True}  # fmt: skip
    owned = crontab(group, "owned")
    owned["metadata"]["ownerReferences"] = [ref]
    created = await api.post(base, json=owned)
    assert created.status_code == 201, created.text
    assert created.json()["metadata"]["ownerReferences"] == [ref]
    owned["metadata"]["name"] = "twice"
    owned["metadata"]["ownerReferences"] = [ref, ref | {"name": "other", "uid": "u2"}]
    refused = await api.post(base, json=owned)
    assert refused.status_code == 422
    (cause,) = refused.json()["details"]["causes"]
    assert cause["field"] == "metadata.ownerReferences"
    assert cause["message"].endswith(
        'Only one reference can have Controller set to true. Found "true" in references '
        "for CronTab/owner and CronTab/other"
    )


async def test_cel_rules_with_message_expressions_reasons_and_field_paths(
    control_plane: ControlPlane, group: str
) -> None:
    api, ns = control_plane.api, control_plane.namespace
    schema = {
        "type": "object",
        "properties": {
            "spec": {
                "type": "object",
                "x-kubernetes-validations": [
                    {
                        "rule": "self.minReplicas <= self.replicas",
                        "messageExpression": "'at least ' + string(self.minReplicas)",
                        "reason": "FieldValueForbidden",
                        "fieldPath": ".replicas",
                    },
                    {
                        "rule": "!oldSelf.hasValue() || oldSelf.value().name == self.name",
                        "optionalOldSelf": True,
                        "message": "name is immutable",
                        "reason": "FieldValueInvalid",
                        "fieldPath": ".name",
                    },
                ],
                "properties": {
                    "name": {"type": "string"},
                    "replicas": {"type": "integer"},
                    "minReplicas": {"type": "integer"},
                },
            }
        },
    }
    await install(api, simple_crd(group, "ruled", "Ruled", schema))
    base = f"/apis/{group}/v1/namespaces/{ns}/ruled"

    def body(**spec: Any) -> Obj:
        return {"apiVersion": f"{group}/v1", "kind": "Ruled", "metadata": {"name": "r"},
                "spec": spec}  # fmt: skip

    refused = await api.post(base, json=body(name="a", replicas=1, minReplicas=2))
    assert refused.status_code == 422
    assert refused.json()["details"]["causes"] == [
        {"reason": "FieldValueForbidden", "message": "Forbidden: at least 2",
         "field": "spec.replicas"}
    ]  # fmt: skip
    created = await api.post(base, json=body(name="a", replicas=3, minReplicas=2))
    assert created.status_code == 201, created.text
    changed = {**created.json(), "spec": {"name": "b", "replicas": 3, "minReplicas": 2}}
    immutable = await api.put(f"{base}/r", json=changed)
    assert immutable.status_code == 422
    assert immutable.json()["details"]["causes"] == [
        {"reason": "FieldValueInvalid", "message": 'Invalid value: "object": name is immutable',
         "field": "spec.name"}
    ]  # fmt: skip
