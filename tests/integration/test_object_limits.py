"""Oversized objects, costly patches and metadata a client may not set, on the real etcd.

Each answer is kube's Status (422 from validation, 413 for what storage cannot hold or a
JSON patch past 10,000 operations, 400 for a patch nested too deep), never a 500 with
etcd's words (``etcdserver: request is too large``, ``received message larger than
max``); nothing is half-written, and the control plane stays ready.
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson
import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

MiB = 1 << 20
MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"


@pytest.fixture
def cp(control_plane: ControlPlane) -> ControlPlane:
    return control_plane


def configmap(name: str, **extra: Any) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, **extra}


def status(response: httpx.Response, code: int, reason: str) -> dict[str, Any]:
    assert response.status_code == code, response.text[:2000]
    body: dict[str, Any] = response.json()
    assert (body["kind"], body["code"], body["reason"]) == ("Status", code, reason)
    return body


async def absent(cp: ControlPlane, name: str) -> None:
    got = await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/configmaps/{name}")
    assert got.status_code == 404, got.text[:500]


async def ready(cp: ControlPlane) -> None:
    assert (await cp.api.get("/readyz")).status_code == 200


@pytest.mark.parametrize("size", [int(1.6 * MiB), int(2.9 * MiB)])
async def test_a_config_map_over_1_mib_is_422(cp: ControlPlane, size: int) -> None:
    """It was 500 ``etcdserver: request is too large`` (1.6 MiB) and ``received message
    larger than max`` (2.9 MiB): kube's ValidateConfigMap refuses data over 1 MiB."""
    body = configmap("big", data={"a": "x" * size})
    reply = await cp.api.post(f"/api/v1/namespaces/{cp.namespace}/configmaps", json=body)
    assert status(reply, 422, "Invalid")["message"] == (
        'ConfigMap "big" is invalid: []: Too long: may not be more than 1048576 bytes'
    )
    await absent(cp, "big")
    await ready(cp)


async def test_an_object_storage_cannot_hold_is_413(cp: ControlPlane) -> None:
    """100,000 valid labels (kube limits no count): too large for etcd, a 413 (was 500)."""
    labels = {f"k{i}": "v" for i in range(100_000)}
    body = configmap("labels", metadata={"name": "labels", "labels": labels})
    reply = await cp.api.post(f"/api/v1/namespaces/{cp.namespace}/configmaps", json=body)
    assert status(reply, 413, "RequestEntityTooLarge")["message"] == (
        "Request entity too large: limit is 1572864"
    )
    await absent(cp, "labels")
    await ready(cp)


async def patch(cp: ControlPlane, name: str, body: bytes, content_type: str) -> httpx.Response:
    return await cp.api.patch(
        f"/api/v1/namespaces/{cp.namespace}/configmaps/{name}",
        content=body,
        headers={"Content-Type": content_type},
    )


async def make(cp: ControlPlane, name: str, **extra: Any) -> dict[str, Any]:
    reply = await cp.api.post(
        f"/api/v1/namespaces/{cp.namespace}/configmaps", json=configmap(name, **extra)
    )
    assert reply.status_code == 201, reply.text
    created: dict[str, Any] = reply.json()
    return created


async def unchanged(cp: ControlPlane, before: dict[str, Any]) -> None:
    name = before["metadata"]["name"]
    got = await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/configmaps/{name}")
    assert got.json()["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


async def test_a_patch_making_an_object_too_large_is_413(cp: ControlPlane) -> None:
    before = await make(cp, "grow", data={"a": "1"})
    labels = {f"k{i}": "v" for i in range(100_000)}
    reply = await patch(cp, "grow", orjson.dumps({"metadata": {"labels": labels}}), MERGE)
    status(reply, 413, "RequestEntityTooLarge")
    await unchanged(cp, before)
    await ready(cp)


async def test_json_patch_limits(cp: ControlPlane) -> None:
    """10,000 operations at most (413); copies within their budget, else the 422 kube
    answers for a patch that fails. The issue's 25 copies of the annotations into
    themselves grew the registry to 22 GiB; 9 of 10 KB (5 MB without the budget) show it."""
    before = await make(cp, "ops", metadata={"name": "ops", "annotations": {"a": "x" * 10_000}})
    test = b'{"op":"test","path":"/metadata/name","value":"ops"}'
    reply = await patch(cp, "ops", b"[" + b",".join([test] * 10_001) + b"]", JSON_PATCH)
    assert status(reply, 413, "RequestEntityTooLarge")["message"] == (
        "Request entity too large: The allowed maximum operations in a JSON patch is 10000, "
        "got 10001"
    )
    copies = [
        {"op": "copy", "from": "/metadata/annotations", "path": f"/metadata/annotations/a{i}"}
        for i in range(9)
    ]
    reply = await patch(cp, "ops", orjson.dumps(copies), JSON_PATCH)
    assert status(reply, 422, "Invalid")["message"] == (
        "the server rejected our request due to an error in our request"
    )
    await unchanged(cp, before)
    await ready(cp)


async def test_a_patch_nested_1000_deep_is_400(cp: ControlPlane) -> None:
    """It was a RecursionError (500)."""
    before = await make(cp, "deep", data={"a": "1"})
    body = ('{"data":' + '{"a":' * 1000 + "1" + "}" * 1000 + "}").encode()
    reply = await patch(cp, "deep", body, MERGE)
    assert status(reply, 400, "BadRequest")["message"] == (
        "error decoding patch: invalid character '{' exceeded max depth"
    )
    await unchanged(cp, before)
    await ready(cp)


async def test_metadata_a_client_may_not_set(cp: ControlPlane) -> None:
    """uid is immutable (was 200, the old uid silently kept); selfLink is dropped (was
    stored and served back)."""
    before = await make(cp, "meta", data={"a": "1"})
    uid = "00000000-0000-0000-0000-000000000000"
    reply = await patch(cp, "meta", orjson.dumps({"metadata": {"uid": uid}}), MERGE)
    assert status(reply, 422, "Invalid")["message"] == (
        f'ConfigMap "meta" is invalid: metadata.uid: Invalid value: "{uid}": field is immutable'
    )
    await unchanged(cp, before)
    reply = await patch(cp, "meta", b'{"metadata":{"selfLink":"/forged"}}', MERGE)
    assert reply.status_code == 200, reply.text
    assert "selfLink" not in reply.json()["metadata"]
    got = await cp.api.get(f"/api/v1/namespaces/{cp.namespace}/configmaps/meta")
    assert "selfLink" not in got.json()["metadata"]


async def test_a_namespace_finalizer_must_be_a_qualified_name(cp: ControlPlane) -> None:
    """A 70,000-character one was accepted."""
    name = f"{cp.namespace}-fin"
    finalizer = "example.com/" + "f" * 70_000
    body = {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": name},
        "spec": {"finalizers": [finalizer]},
    }
    reply = await cp.api.post("/api/v1/namespaces", json=body)
    assert status(reply, 422, "Invalid")["message"] == (
        f'Namespace "{name}" is invalid: spec.finalizers: Invalid value: "{finalizer}": name '
        "part must be no more than 63 characters"
    )
    assert (await cp.api.get(f"/api/v1/namespaces/{name}")).status_code == 404
