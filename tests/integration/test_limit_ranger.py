"""LimitRanger through the whole control plane, on real etcd: a namespace's LimitRange
defaults pods' requests and limits (with kube's annotation) and bounds them with kube's
words; the LimitRange's own defaults (default from max, defaultRequest from default)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from tests.integration.conftest import ControlPlane

pytestmark = pytest.mark.integration

DEADLINE = 15.0  # waiting for the LimitRange to arrive at all, not a latency budget


def pod(name: str, resources: dict[str, Any] | None = None) -> dict[str, Any]:
    container: dict[str, Any] = {"name": "c", "image": "nginx"}
    if resources is not None:
        container["resources"] = resources
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {"containers": [container]},
    }


async def test_defaults_and_bounds(control_plane: ControlPlane) -> None:
    api, ns = control_plane.api, control_plane.namespace
    created = await api.post(
        f"/api/v1/namespaces/{ns}/limitranges",
        json={
            "apiVersion": "v1",
            "kind": "LimitRange",
            "metadata": {"name": "limits"},
            "spec": {
                "limits": [
                    {
                        "type": "Container",
                        "max": {"cpu": "1", "memory": "1Gi"},
                        "defaultRequest": {"cpu": "100m"},
                        "min": {"cpu": "50m"},
                    }
                ]
            },
        },
    )
    assert created.status_code == 201, created.text
    item = created.json()["spec"]["limits"][0]
    assert item["default"] == {"cpu": "1", "memory": "1Gi"}
    assert item["defaultRequest"] == {"cpu": "100m", "memory": "1Gi"}
    path = f"/api/v1/namespaces/{ns}/pods"
    loop = asyncio.get_running_loop()
    end = loop.time() + DEADLINE
    n = 0
    while True:
        n += 1
        reply = await api.post(path, json=pod(f"probe-{n}"))
        assert reply.status_code == 201, reply.text
        if reply.json()["spec"]["containers"][0].get("resources"):
            break
        assert loop.time() < end, "the LimitRange did not take effect"
        await asyncio.sleep(0.1)
    defaulted = reply.json()
    assert defaulted["spec"]["containers"][0]["resources"] == {
        "limits": {"cpu": "1", "memory": "1Gi"},
        "requests": {"cpu": "100m", "memory": "1Gi"},
    }
    assert defaulted["metadata"]["annotations"]["kubernetes.io/limit-ranger"] == (
        "LimitRanger plugin set: cpu, memory request for container c; "
        "cpu, memory limit for container c"
    )
    too_big = await api.post(path, json=pod("big", {"limits": {"cpu": "2"}}))
    assert too_big.status_code == 403
    assert too_big.json()["message"] == (
        'pods "big" is forbidden: maximum cpu usage per Container is 1, but limit is 2'
    )
    too_small = await api.post(
        path, json=pod("small", {"requests": {"cpu": "10m"}, "limits": {"cpu": "20m"}})
    )
    assert too_small.status_code == 403
    assert too_small.json()["message"] == (
        'pods "small" is forbidden: minimum cpu usage per Container is 50m, but request is 10m'
    )
