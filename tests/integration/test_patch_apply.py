"""PATCH (JSON, merge, strategic merge), server-side apply, managedFields and create on
update, through all four services, with bodies and answers as kube-apiserver 1.32 has them.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import orjson
import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

SMP = "application/strategic-merge-patch+json"
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
APPLY = "application/apply-patch+yaml"
KUBECTL_UA = "kubectl/v1.32.4 (linux/amd64) kubernetes/4cb5f07"


def deployment(name: str, *containers: dict[str, Any], replicas: int = 1) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name, "labels": {"app": name}},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": {
                "metadata": {"labels": {"app": name}},
                "spec": {"containers": list(containers) or [{"name": "web", "image": "nginx"}]},
            },
        },
    }


def configmap(name: str, data: dict[str, str]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": data}


async def patch(
    api: httpx.AsyncClient,
    path: str,
    body: Any,
    content_type: str,
    *,
    params: dict[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> httpx.Response:
    data = body if isinstance(body, bytes) else orjson.dumps(body)
    return await api.patch(
        path,
        content=data,
        params=params or {},
        headers={"Content-Type": content_type, **(headers or {})},
    )


def managers(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {
        (e["manager"], e["operation"]): e["fieldsV1"]
        for e in obj["metadata"].get("managedFields", [])
    }


# --- strategic merge patch --------------------------------------------------------------


async def test_strategic_merge_patch_merges_containers_by_name(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    body = deployment(
        "web",
        {"name": "web", "image": "nginx:1", "env": [{"name": "A", "value": "1"}]},
        {"name": "sidecar", "image": "busybox"},
    )
    created = await api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=body)
    assert created.status_code == 201, created.text
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/web"
    smp = {
        "spec": {
            "template": {
                "spec": {
                    "containers": [
                        {"name": "web", "image": "nginx:2", "env": [{"name": "B", "value": "2"}]}
                    ]
                }
            }
        }
    }
    reply = await patch(api, path, smp, SMP)
    assert reply.status_code == 200, reply.text
    containers = reply.json()["spec"]["template"]["spec"]["containers"]
    assert [c["name"] for c in containers] == ["web", "sidecar"]
    assert containers[0]["image"] == "nginx:2"
    assert [e["name"] for e in containers[0]["env"]] == ["B", "A"]
    assert containers[1]["image"] == "busybox"

    delete = {
        "spec": {"template": {"spec": {"containers": [{"name": "sidecar", "$patch": "delete"}]}}}
    }
    reply = await patch(api, path, delete, SMP)
    assert reply.status_code == 200, reply.text
    assert [c["name"] for c in reply.json()["spec"]["template"]["spec"]["containers"]] == ["web"]


async def test_strategic_merge_patch_errors_as_kube(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    await api.post(f"/apis/apps/v1/namespaces/{ns}/deployments", json=deployment("bad"))
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/bad"
    no_key = {"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}}
    reply = await patch(api, path, no_key, SMP)
    assert reply.status_code == 400  # kube: 500 with no reason; the patch's fault here
    assert reply.json()["message"] == "map: map[image:x] does not contain declared merge key: name"
    bad_retain = {"spec": {"$retainKeys": ["replicas"], "paused": True}}
    reply = await patch(api, path, bad_retain, SMP)
    assert reply.status_code == 400
    assert reply.json()["message"] == "invalid patch format of retainKeys"
    reply = await patch(api, path, [1], SMP)
    assert reply.status_code == 400
    reply = await patch(api, path, {"$setElementOrder/finalizers": None}, SMP)
    assert reply.status_code == 400
    assert reply.json()["message"] == "expected a []interface {}, but received a %!s(<nil>)"


async def test_patch_of_a_missing_object_is_404(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    for content_type, body in ((SMP, {"data": {"a": "b"}}), (MERGE, {"data": {"a": "b"}})):
        reply = await patch(api, f"/api/v1/namespaces/{ns}/configmaps/nope", body, content_type)
        assert reply.status_code == 404, reply.text
        assert reply.json()["message"] == 'configmaps "nope" not found'


async def test_json_patch_test_failure_is_422(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    await api.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("j", {"a": "1"}))
    ops = [{"op": "test", "path": "/data/a", "value": "2"}]
    reply = await patch(api, f"/api/v1/namespaces/{ns}/configmaps/j", ops, JSON_PATCH)
    assert reply.status_code == 422
    assert reply.json()["reason"] == "Invalid"


async def test_patch_may_not_rename(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    await api.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("n", {"a": "1"}))
    reply = await patch(
        api, f"/api/v1/namespaces/{ns}/configmaps/n", {"metadata": {"name": "m"}}, MERGE
    )
    assert reply.status_code == 400
    assert reply.json()["message"] == (
        "the name of the object (m) does not match the name on the URL (n)"
    )


async def test_force_is_forbidden_on_other_patches(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    await api.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("f", {"a": "1"}))
    reply = await patch(
        api, f"/api/v1/namespaces/{ns}/configmaps/f", {}, MERGE, params={"force": "true"}
    )
    assert reply.status_code == 422
    assert reply.json()["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for '
        "non-apply patch"
    )


async def test_concurrent_patches_to_different_fields_both_land(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    await api.post(f"/api/v1/namespaces/{ns}/configmaps", json=configmap("race", {}))
    path = f"/api/v1/namespaces/{ns}/configmaps/race"
    replies = await asyncio.gather(
        *(patch(api, path, {"data": {f"k{i}": str(i)}}, SMP) for i in range(12))
    )
    assert all(r.status_code == 200 for r in replies), [r.text for r in replies]
    final = (await api.get(path)).json()
    assert final["data"] == {f"k{i}": str(i) for i in range(12)}


# --- managedFields on ordinary writes ----------------------------------------------------


async def test_create_update_and_patch_record_managed_fields(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    created = await api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        params={"fieldManager": "kubectl-create"},
        json=configmap("mf", {"a": "1"}),
    )
    assert created.status_code == 201, created.text
    entry = created.json()["metadata"]["managedFields"][0]
    assert entry["manager"] == "kubectl-create"
    assert entry["operation"] == "Update"
    assert entry["apiVersion"] == "v1"
    assert entry["fieldsType"] == "FieldsV1"
    assert entry["time"].endswith("Z")
    assert entry["fieldsV1"] == {"f:data": {".": {}, "f:a": {}}}

    path = f"/api/v1/namespaces/{ns}/configmaps/mf"
    reply = await patch(
        api,
        path,
        {"metadata": {"labels": {"team": "x"}}},
        MERGE,
        headers={"User-Agent": KUBECTL_UA},
    )
    assert reply.status_code == 200, reply.text
    fields = managers(reply.json())
    assert fields[("kubectl", "Update")] == {"f:metadata": {"f:labels": {".": {}, "f:team": {}}}}
    assert fields[("kubectl-create", "Update")] == {"f:data": {".": {}, "f:a": {}}}

    current = reply.json()
    current["data"]["a"] = "2"
    replaced = await api.put(path, params={"fieldManager": "kubectl-replace"}, json=current)
    assert replaced.status_code == 200, replaced.text
    fields = managers(replaced.json())
    assert fields[("kubectl-replace", "Update")] == {"f:data": {"f:a": {}}}
    assert fields[("kubectl-create", "Update")] == {"f:data": {}}  # .data, no longer .data.a


async def test_no_op_update_keeps_managed_fields(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    created = await api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        params={"fieldManager": "maker"},
        json=configmap("same", {"a": "1"}),
    )
    path = f"/api/v1/namespaces/{ns}/configmaps/same"
    reply = await patch(api, path, {"data": {"a": "1"}}, MERGE, params={"fieldManager": "other"})
    assert reply.status_code == 200
    assert (
        reply.json()["metadata"]["resourceVersion"]
        == (created.json()["metadata"]["resourceVersion"])
    )
    assert reply.json()["metadata"]["managedFields"] == created.json()["metadata"]["managedFields"]


async def test_managed_fields_can_be_reset(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    await api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        params={"fieldManager": "maker"},
        json=configmap("reset", {"a": "1"}),
    )
    path = f"/api/v1/namespaces/{ns}/configmaps/reset"
    reply = await patch(api, path, {"metadata": {"managedFields": [{}]}}, MERGE)
    assert reply.status_code == 200, reply.text
    assert "managedFields" not in reply.json()["metadata"]


async def test_invalid_field_manager_is_refused(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    reply = await api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        params={"fieldManager": "x" * 129},
        json=configmap("long", {}),
    )
    assert reply.status_code == 422
    assert reply.json()["message"] == (
        'CreateOptions.meta.k8s.io "" is invalid: fieldManager: Too long: may not be more '
        "than 128 bytes"
    )


# --- server-side apply ------------------------------------------------------------------


async def test_apply_needs_a_field_manager(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    reply = await patch(
        api, f"/api/v1/namespaces/{ns}/configmaps/x", configmap("x", {"a": "1"}), APPLY
    )
    assert reply.status_code == 422
    assert reply.json()["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required '
        "for apply patch"
    )


async def test_apply_creates_then_updates(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    path = f"/api/v1/namespaces/{ns}/configmaps/applied"
    yaml_body = b"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: applied\ndata:\n  a: '1'\n"
    created = await patch(api, path, yaml_body, APPLY, params={"fieldManager": "tool"})
    assert created.status_code == 201, created.text
    obj = created.json()
    assert obj["data"] == {"a": "1"}
    (entry,) = obj["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["apiVersion"]) == ("tool", "Apply", "v1")
    assert entry["fieldsV1"] == {"f:data": {"f:a": {}}}

    again = await patch(
        api,
        path,
        configmap("applied", {"a": "1", "b": "2"}),
        APPLY,
        params={"fieldManager": "tool"},
    )
    assert again.status_code == 200, again.text
    assert again.json()["data"] == {"a": "1", "b": "2"}
    assert managers(again.json())[("tool", "Apply")] == {"f:data": {"f:a": {}, "f:b": {}}}


async def test_apply_conflict_force_and_removal(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    await api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        params={"fieldManager": "kubectl-client-side-apply"},
        json=configmap("owned", {"a": "1", "keep": "x"}),
    )
    path = f"/api/v1/namespaces/{ns}/configmaps/owned"
    conflicting = configmap("owned", {"a": "2", "mine": "y"})
    reply = await patch(api, path, conflicting, APPLY, params={"fieldManager": "ci"})
    assert reply.status_code == 409
    assert reply.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": (
            'Apply failed with 1 conflict: conflict with "kubectl-client-side-apply" using v1: '
            ".data.a"
        ),
        "reason": "Conflict",
        "details": {
            "causes": [
                {
                    "type": "FieldManagerConflict",
                    "message": 'conflict with "kubectl-client-side-apply" using v1',
                    "field": ".data.a",
                }
            ]
        },
        "code": 409,
    }
    forced = await patch(
        api, path, conflicting, APPLY, params={"fieldManager": "ci", "force": "true"}
    )
    assert forced.status_code == 200, forced.text
    assert forced.json()["data"] == {"a": "2", "keep": "x", "mine": "y"}
    fields = managers(forced.json())
    assert fields[("ci", "Apply")] == {"f:data": {"f:a": {}, "f:mine": {}}}
    assert fields[("kubectl-client-side-apply", "Update")] == {"f:data": {".": {}, "f:keep": {}}}

    # ci stops applying "mine" (its alone) and "a": both go; "keep" is someone else's.
    bare = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owned"}}
    dropped = await patch(api, path, bare, APPLY, params={"fieldManager": "ci"})
    assert dropped.status_code == 200, dropped.text
    assert dropped.json()["data"] == {"keep": "x"}
    assert ("ci", "Apply") not in managers(dropped.json())


async def test_apply_shared_ownership_keeps_the_field(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    path = f"/api/v1/namespaces/{ns}/configmaps/shared"
    body = configmap("shared", {"a": "1"})
    for manager in ("one", "two"):
        reply = await patch(api, path, body, APPLY, params={"fieldManager": manager})
        assert reply.status_code in (200, 201), reply.text
    fields = managers(reply.json())
    assert fields[("one", "Apply")] == fields[("two", "Apply")] == {"f:data": {"f:a": {}}}
    reply = await patch(api, path, configmap("shared", {}), APPLY, params={"fieldManager": "one"})
    assert reply.json()["data"] == {"a": "1"}  # two still applies it
    # "one" now applies an empty .data: it owns that map, no longer .data.a
    assert managers(reply.json())[("one", "Apply")] == {"f:data": {}}
    bare = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "shared"}}
    reply = await patch(api, path, bare, APPLY, params={"fieldManager": "one"})
    assert reply.json()["data"] == {"a": "1"}
    assert ("one", "Apply") not in managers(reply.json())


async def test_apply_multiple_conflicts_message(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    path = f"/api/v1/namespaces/{ns}/configmaps/many"
    await patch(
        api, path, configmap("many", {"a": "1", "b": "1"}), APPLY, params={"fieldManager": "first"}
    )
    reply = await patch(
        api, path, configmap("many", {"a": "2", "b": "2"}), APPLY, params={"fieldManager": "second"}
    )
    assert reply.status_code == 409
    assert reply.json()["message"] == (
        'Apply failed with 2 conflicts: conflicts with "first":\n- .data.a\n- .data.b'
    )


async def test_apply_deployment_list_map_semantics(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    path = f"/apis/apps/v1/namespaces/{ns}/deployments/ssa"
    body = deployment(
        "ssa",
        {"name": "web", "image": "nginx", "ports": [{"containerPort": 80}]},
        {"name": "log", "image": "busybox"},
    )
    created = await patch(api, path, body, APPLY, params={"fieldManager": "ops"})
    assert created.status_code == 201, created.text
    fields = managers(created.json())[("ops", "Apply")]
    container = fields["f:spec"]["f:template"]["f:spec"]["f:containers"]['k:{"name":"web"}']
    assert container == {
        ".": {},
        "f:image": {},
        "f:name": {},
        "f:ports": {'k:{"containerPort":80,"protocol":"TCP"}': {".": {}, "f:containerPort": {}}},
    }
    assert fields["f:spec"]["f:selector"] == {}  # an atomic LabelSelector

    # Another manager adds a container; the first stops applying "log": only log goes.
    extra = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "ssa"},
        "spec": {"template": {"spec": {"containers": [{"name": "extra", "image": "redis"}]}}},
    }
    reply = await patch(api, path, extra, APPLY, params={"fieldManager": "other"})
    assert reply.status_code == 200, reply.text
    body["spec"]["template"]["spec"]["containers"] = body["spec"]["template"]["spec"]["containers"][
        :1
    ]
    reply = await patch(api, path, body, APPLY, params={"fieldManager": "ops"})
    assert reply.status_code == 200, reply.text
    names = [c["name"] for c in reply.json()["spec"]["template"]["spec"]["containers"]]
    assert names == ["web", "extra"]


async def test_apply_refuses_wrong_kind_and_managed_fields(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    path = f"/api/v1/namespaces/{ns}/configmaps/kind"
    params = {"fieldManager": "m"}
    secret = {"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "kind"}}
    reply = await patch(api, path, secret, APPLY, params=params)
    assert reply.status_code == 400
    assert reply.json()["message"] == "invalid object type: /v1, Kind=Secret"
    with_fields = configmap("kind", {})
    with_fields["metadata"]["managedFields"] = [{"manager": "x"}]
    reply = await patch(api, path, with_fields, APPLY, params=params)
    assert reply.status_code == 400
    assert reply.json()["message"] == "metadata.managedFields must be nil"
    unknown = {**configmap("kind", {}), "bogus": 1}
    reply = await patch(api, path, unknown, APPLY, params=params)
    assert reply.status_code == 400  # kube: 500 with no reason; the configuration's fault
    assert reply.json()["message"] == (
        "failed to create typed patch object (/kind; /v1, Kind=ConfigMap): .bogus: field not "
        "declared in schema"
    )


async def test_apply_dry_run_changes_nothing(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    path = f"/api/v1/namespaces/{ns}/configmaps/dry"
    reply = await patch(
        api,
        path,
        configmap("dry", {"a": "1"}),
        APPLY,
        params={"fieldManager": "m", "dryRun": "All"},
    )
    assert reply.status_code == 201, reply.text
    assert (await api.get(path)).status_code == 404


async def test_client_side_apply_upgrade_to_server_side(cp: ControlPlane) -> None:
    """kubectl applying server-side over its client-side apply takes its fields."""
    api, ns = cp.api, cp.namespace
    body = configmap("upgrade", {"a": "1"})
    body["metadata"]["annotations"] = {
        "kubectl.kubernetes.io/last-applied-configuration": orjson.dumps(body).decode() + "\n"
    }
    await api.post(
        f"/api/v1/namespaces/{ns}/configmaps",
        params={"fieldManager": "kubectl-client-side-apply"},
        json=body,
    )
    path = f"/api/v1/namespaces/{ns}/configmaps/upgrade"
    reply = await patch(
        api, path, configmap("upgrade", {"a": "2"}), APPLY, params={"fieldManager": "kubectl"}
    )
    assert reply.status_code == 200, reply.text
    obj = reply.json()
    assert obj["data"] == {"a": "2"}
    last = orjson.loads(
        obj["metadata"]["annotations"]["kubectl.kubernetes.io/last-applied-configuration"]
    )
    assert last == configmap("upgrade", {"a": "2"})


# --- create on update --------------------------------------------------------------------


async def test_put_creates_only_where_kube_allows_it(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    reply = await api.put(
        f"/api/v1/namespaces/{ns}/configmaps/absent", json=configmap("absent", {})
    )
    assert reply.status_code == 404
    assert reply.json()["message"] == 'configmaps "absent" not found'
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "put-made"},
        "spec": {"ports": [{"port": 80}]},
    }
    reply = await api.put(f"/api/v1/namespaces/{ns}/services/put-made", json=service)
    assert reply.status_code == 201, reply.text
    assert reply.json()["metadata"]["name"] == "put-made"


@pytest.fixture
def cp(control_plane: ControlPlane) -> ControlPlane:
    return control_plane


async def test_status_and_scale_patches_go_through_the_same_code(cp: ControlPlane) -> None:
    api, ns = cp.api, cp.namespace
    await api.post(
        f"/apis/apps/v1/namespaces/{ns}/deployments",
        params={"fieldManager": "maker"},
        json=deployment("sub"),
    )
    base = f"/apis/apps/v1/namespaces/{ns}/deployments/sub"
    scaled = await patch(
        api, base + "/scale", {"spec": {"replicas": 4}}, MERGE, headers={"User-Agent": KUBECTL_UA}
    )
    assert scaled.status_code == 200, scaled.text
    assert (scaled.json()["kind"], scaled.json()["spec"]["replicas"]) == ("Scale", 4)
    status = {"status": {"replicas": 2, "conditions": [{"type": "Available", "status": "True"}]}}
    reply = await patch(api, base + "/status", status, SMP, params={"fieldManager": "kcm"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["status"]["replicas"] == 2
    ignored = await patch(api, base, {"status": {"replicas": 9}}, SMP)
    assert ignored.json()["status"]["replicas"] == 2  # status only through /status
    applied = await patch(
        api,
        base + "/scale",
        {
            "apiVersion": "autoscaling/v1",
            "kind": "Scale",
            "metadata": {"name": "sub"},
            "spec": {"replicas": 6},
        },
        APPLY,
        params={"fieldManager": "autoscaler"},
    )
    assert applied.status_code == 200, applied.text
    obj = (await api.get(base)).json()
    assert obj["spec"]["replicas"] == 6
    by_sub = {
        (e["manager"], e.get("subresource", "")): e["fieldsV1"]
        for e in obj["metadata"]["managedFields"]
    }
    assert by_sub[("autoscaler", "scale")] == {"f:spec": {"f:replicas": {}}}
    assert by_sub[("kcm", "status")]["f:status"]["f:replicas"] == {}
    assert "f:replicas" not in by_sub[("maker", "")]["f:spec"]  # taken by the scalers
