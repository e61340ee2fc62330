"""The pod subresources that need no kubelet, through HTTP on a real etcd: binding (and
the bindings resource), eviction with PodDisruptionBudgets, and ephemeral containers
(kube's pkg/registry/core/pod/storage: BindingREST, EvictionREST,
EphemeralContainersREST)."""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

BLOCKED = "Cannot evict pod as it would violate the pod's disruption budget."


def pod_body(name: str, **labels: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name, "labels": labels},
        "spec": {"containers": [{"name": "web", "image": "nginx:1.27"}]},
    }


async def make_pod(cp: ControlPlane, name: str, **labels: str) -> dict[str, Any]:
    reply = await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/pods", json=pod_body(name, **labels)
    )
    assert reply.status_code == 201, reply.text
    created: dict[str, Any] = reply.json()
    return created


async def get_pod(cp: ControlPlane, name: str) -> httpx.Response:
    return await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/pods/{name}")


def binding(name: str, node: str, **meta: Any) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Binding",
        "metadata": {"name": name, **meta},
        "target": {"apiVersion": "v1", "kind": "Node", "name": node},
    }


# --- binding --------------------------------------------------------------------------------


async def test_pods_binding_sets_the_node_once(control_plane: ControlPlane) -> None:
    cp = control_plane
    await make_pod(cp, "bound")
    path = f"/api/v1/namespaces/{cp.namespace}/pods/bound/binding"
    reply = await cp.api.post(path, json=binding("bound", "node-1", annotations={"a": "b"}))
    assert reply.status_code == 201, reply.text
    assert reply.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "code": 201,
    }
    pod = (await get_pod(cp, "bound")).json()
    assert pod["spec"]["nodeName"] == "node-1"
    assert pod["metadata"]["annotations"] == {"a": "b"}
    scheduled = [c for c in pod["status"]["conditions"] if c["type"] == "PodScheduled"]
    assert [(c["status"], c["lastProbeTime"]) for c in scheduled] == [("True", None)]
    again = await cp.api.post(path, json=binding("bound", "node-2"))
    assert again.status_code == 409
    status = again.json()
    assert status["reason"] == "Conflict"
    assert status["message"] == (
        'Operation cannot be fulfilled on pods/binding "bound": '
        'pod bound is already assigned to node "node-1"'
    )
    assert status["details"] == {"name": "bound", "kind": "pods/binding"}
    assert (await get_pod(cp, "bound")).json()["spec"]["nodeName"] == "node-1"


async def test_bindings_resource_binds_the_pod_its_metadata_names(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    await make_pod(cp, "legacy")
    reply = await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/bindings", json=binding("legacy", "node-9")
    )
    assert reply.status_code == 201, reply.text
    assert (await get_pod(cp, "legacy")).json()["spec"]["nodeName"] == "node-9"


@pytest.mark.parametrize(
    ("body", "code", "message"),
    [
        (binding("other", "n"), 400, "name in URL does not match name in Binding object"),
        (
            {**binding("checked", "n"), "target": {"kind": "Pod", "name": "n"}},
            422,
            'Binding "checked" is invalid: target.kind: Unsupported value: "Pod": '
            'supported values: "Node", "<empty>"',
        ),
        (
            binding("checked", "n", uid="not-the-pod-s"),
            409,
            'Operation cannot be fulfilled on pods "checked": Precondition failed: '
            "UID in precondition: not-the-pod-s, UID in object meta: ",
        ),
    ],
)
async def test_binding_refusals_leave_the_pod_unbound(
    control_plane: ControlPlane, body: dict[str, Any], code: int, message: str
) -> None:
    cp = control_plane
    await make_pod(cp, "checked")
    reply = await cp.api.post(f"/api/v1/namespaces/{cp.namespace}/pods/checked/binding", json=body)
    assert reply.status_code == code, reply.text
    assert reply.json()["message"].startswith(message)
    assert "nodeName" not in (await get_pod(cp, "checked")).json()["spec"]


async def test_binding_a_missing_pod_is_404(control_plane: ControlPlane) -> None:
    reply = await control_plane.api.post(
        f"/api/v1/namespaces/{control_plane.namespace}/pods/ghost/binding",
        json=binding("ghost", "n"),
    )
    assert reply.status_code == 404
    assert reply.json()["message"] == 'pods "ghost" not found'


# --- eviction -------------------------------------------------------------------------------


def eviction(name: str, **delete_options: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "apiVersion": "policy/v1",
        "kind": "Eviction",
        "metadata": {"name": name},
    }
    if delete_options:
        body["deleteOptions"] = delete_options
    return body


async def run_pod(cp: ControlPlane, name: str, *, ready: bool = True, **labels: str) -> None:
    """A pod a kubelet would have started: Running (and Ready) through /status."""
    await make_pod(cp, name, **labels)
    pod = (await get_pod(cp, name)).json()
    pod["status"]["phase"] = "Running"
    pod["status"]["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    reply = await cp.api.put(f"/api/v1/namespaces/{cp.namespace}/pods/{name}/status", json=pod)
    assert reply.status_code == 200, reply.text


async def make_pdb(cp: ControlPlane, name: str, status: dict[str, Any], **selector: str) -> None:
    base = f"/apis/policy/v1/namespaces/{cp.namespace}/poddisruptionbudgets"
    body = {
        "apiVersion": "policy/v1",
        "kind": "PodDisruptionBudget",
        "metadata": {"name": name},
        "spec": {"minAvailable": 1, "selector": {"matchLabels": selector}},
    }
    created = await cp.api.post(base, json=body)
    assert created.status_code == 201, created.text
    pdb = created.json()
    pdb["status"] = {"observedGeneration": pdb["metadata"]["generation"], **status}
    updated = await cp.api.put(f"{base}/{name}/status", json=pdb)
    assert updated.status_code == 200, updated.text


async def evict(cp: ControlPlane, name: str, **delete_options: Any) -> httpx.Response:
    return await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/pods/{name}/eviction",
        json=eviction(name, **delete_options),
    )


async def test_eviction_of_a_pending_pod_deletes_it(control_plane: ControlPlane) -> None:
    cp = control_plane
    await make_pod(cp, "pending", app="web")
    await make_pdb(cp, "strict", {"disruptionsAllowed": 0}, app="web")
    reply = await evict(cp, "pending")
    assert reply.status_code == 201, reply.text
    assert reply.json()["status"] == "Success"
    assert (await get_pod(cp, "pending")).status_code == 404


async def test_eviction_the_budget_forbids_is_429_and_keeps_the_pod(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    await run_pod(cp, "guarded", app="db")
    await make_pdb(
        cp, "db", {"disruptionsAllowed": 0, "desiredHealthy": 1, "currentHealthy": 1}, app="db"
    )
    reply = await evict(cp, "guarded")
    assert reply.status_code == 429, reply.text
    status = reply.json()
    assert (status["reason"], status["message"]) == ("TooManyRequests", BLOCKED)
    assert status["details"] == {
        "causes": [
            {
                "reason": "DisruptionBudget",
                "message": "The disruption budget db needs 1 healthy pods and has 1 currently",
            }
        ]
    }
    assert (await get_pod(cp, "guarded")).status_code == 200


async def test_eviction_of_a_budget_still_being_processed_is_429(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    await run_pod(cp, "early", app="fresh")
    base = f"/apis/policy/v1/namespaces/{cp.namespace}/poddisruptionbudgets"
    created = await cp.api.post(
        base,
        json={
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": "fresh"},
            "spec": {"maxUnavailable": 1, "selector": {"matchLabels": {"app": "fresh"}}},
        },
    )
    assert created.status_code == 201
    reply = await evict(cp, "early")
    assert reply.status_code == 429
    assert reply.headers["retry-after"] == "10"
    cause = reply.json()["details"]["causes"][0]
    assert cause == {
        "reason": "DisruptionBudget",
        "message": "The disruption budget fresh is still being processed by the server.",
    }


async def test_eviction_the_budget_allows_spends_it_and_deletes(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    await run_pod(cp, "spare", app="cache")
    await make_pdb(cp, "cache", {"disruptionsAllowed": 1, "desiredHealthy": 1}, app="cache")
    reply = await evict(cp, "spare")
    assert reply.status_code == 201, reply.text
    assert (await get_pod(cp, "spare")).status_code == 404
    pdb = (
        await cp.api.get(f"/apis/policy/v1/namespaces/{cp.namespace}/poddisruptionbudgets/cache")
    ).json()
    assert pdb["status"]["disruptionsAllowed"] == 0
    assert list(pdb["status"]["disruptedPods"]) == ["spare"]
    (allowed,) = pdb["status"]["conditions"]
    assert (allowed["type"], allowed["status"], allowed["reason"]) == (
        "DisruptionAllowed",
        "False",
        "InsufficientPods",
    )


async def test_eviction_dry_run_spends_nothing(control_plane: ControlPlane) -> None:
    cp = control_plane
    await run_pod(cp, "dry", app="dry")
    await make_pdb(cp, "dry", {"disruptionsAllowed": 1}, app="dry")
    reply = await evict(cp, "dry", dryRun=["All"])
    assert reply.status_code == 201, reply.text
    assert (await get_pod(cp, "dry")).status_code == 200
    pdb = (
        await cp.api.get(f"/apis/policy/v1/namespaces/{cp.namespace}/poddisruptionbudgets/dry")
    ).json()
    assert pdb["status"]["disruptionsAllowed"] == 1


async def test_eviction_with_two_budgets_is_refused(control_plane: ControlPlane) -> None:
    cp = control_plane
    await run_pod(cp, "twice", app="two")
    await make_pdb(cp, "one", {"disruptionsAllowed": 1}, app="two")
    await make_pdb(cp, "other", {"disruptionsAllowed": 1}, app="two")
    reply = await evict(cp, "twice")
    assert reply.status_code == 500
    assert reply.json()["message"] == (
        "This pod has more than one PodDisruptionBudget, which the eviction subresource "
        "does not support."
    )
    assert (await get_pod(cp, "twice")).status_code == 200


async def test_eviction_name_must_match(control_plane: ControlPlane) -> None:
    cp = control_plane
    await make_pod(cp, "named")
    reply = await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/pods/named/eviction", json=eviction("else")
    )
    assert reply.status_code == 400
    assert reply.json()["message"] == "name in URL does not match name in Eviction object"
    assert (await get_pod(cp, "named")).status_code == 200


# --- ephemeral containers -------------------------------------------------------------------


async def test_ephemeral_containers_change_nothing_else(control_plane: ControlPlane) -> None:
    cp = control_plane
    await make_pod(cp, "debugged", app="x")
    path = f"/api/v1/namespaces/{cp.namespace}/pods/debugged/ephemeralcontainers"
    current = (await cp.api.get(path)).json()
    assert current["kind"] == "Pod"
    current["metadata"]["labels"] = {"app": "changed"}
    current["spec"]["containers"][0]["image"] = "nginx:9"
    current["spec"]["ephemeralContainers"] = [
        {"name": "debugger", "image": "busybox", "targetContainerName": "web"}
    ]
    reply = await cp.api.put(path, json=current)
    assert reply.status_code == 200, reply.text
    pod = (await get_pod(cp, "debugged")).json()
    (added,) = pod["spec"]["ephemeralContainers"]
    assert (added["name"], added["terminationMessagePolicy"]) == ("debugger", "File")
    assert pod["metadata"]["labels"] == {"app": "x"}
    assert pod["spec"]["containers"][0]["image"] == "nginx:1.27"
    patch = orjson.dumps([{"op": "remove", "path": "/spec/ephemeralContainers/0"}])
    removed = await cp.api.patch(
        path,
        content=patch,
        headers={"Content-Type": "application/json-patch+json"},
    )
    assert removed.status_code == 422
    assert removed.json()["details"]["causes"][0]["message"].startswith(
        'Forbidden: existing ephemeral containers "debugger" may not be removed'
    )


async def test_ephemeral_containers_are_not_set_on_create(control_plane: ControlPlane) -> None:
    cp = control_plane
    body = pod_body("born-debugged")
    body["spec"]["ephemeralContainers"] = [{"name": "d", "image": "busybox"}]
    reply = await cp.api.post(f"/api/v1/namespaces/{cp.namespace}/pods", json=body)
    assert reply.status_code == 422
    assert "spec.ephemeralContainers: Forbidden: cannot be set on create" in reply.json()["message"]
