"""Concurrent writes through all four services on a real etcd: the clients batch the
calls that queue up (kapi/batching.py), and each write still gets its own answer."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration


def configmap(name: str) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name}, "data": {}}


async def test_concurrent_creates_each_get_their_own_outcome(control_plane: ControlPlane) -> None:
    cp = control_plane
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    registry = cp.app.state.peers.registry
    batches_before = registry._creates.batches
    bodies = (
        [configmap(f"ok-{i}") for i in range(16)]
        + [configmap("same") for _ in range(16)]
        + [configmap(f"Bad_Name-{i}") for i in range(16)]
    )
    replies = await asyncio.gather(*(cp.api.post(path, json=b) for b in bodies))
    codes = [r.status_code for r in replies]
    assert codes[:16] == [201] * 16
    assert sorted(codes[16:32]) == [201] + [409] * 15
    for reply in replies[16:32]:
        if reply.status_code == 409:
            assert reply.json()["reason"] == "AlreadyExists"
            assert reply.json()["message"] == 'configmaps "same" already exists'
    for i, reply in enumerate(replies[32:]):
        assert reply.status_code == 422
        status = reply.json()
        assert status["reason"] == "Invalid"
        assert status["details"]["name"] == f"Bad_Name-{i}"
    # Fewer calls than creates crossed to the registry: they were batched.
    assert registry._creates.batches - batches_before < len(bodies)

    listed = (await cp.api.get(path)).json()
    names = sorted(item["metadata"]["name"] for item in listed["items"])
    assert names == sorted([f"ok-{i}" for i in range(16)] + ["same"])


async def test_concurrent_updates_of_one_object_conflict_as_they_would_one_by_one(
    control_plane: ControlPlane,
) -> None:
    cp = control_plane
    path = f"/api/v1/namespaces/{cp.namespace}/configmaps"
    created = (await cp.api.post(path, json=configmap("shared"))).json()
    version = created["metadata"]["resourceVersion"]

    def update(i: int) -> dict[str, Any]:
        body = configmap("shared")
        body["metadata"]["resourceVersion"] = version
        body["data"] = {"writer": str(i)}
        return body

    replies = await asyncio.gather(
        *(cp.api.put(f"{path}/shared", json=update(i)) for i in range(12))
    )
    codes = sorted(r.status_code for r in replies)
    assert codes == [200] + [409] * 11  # one wins the compare-and-swap, the rest conflict
    winner = next(r.json() for r in replies if r.status_code == 200)
    stored = (await cp.api.get(f"{path}/shared")).json()
    assert stored["data"] == winner["data"]
    assert stored["metadata"]["resourceVersion"] == winner["metadata"]["resourceVersion"]
