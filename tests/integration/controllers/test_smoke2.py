from __future__ import annotations

from typing import Any

from kapi.kube.client import ApiClient
from kapi.kube.resources import DEPLOYMENTS, NODES, PODS
from tests.integration.conftest import ControlPlane
from tests.integration.controllers.conftest import eventually


async def test_rollout(
    control_plane: ControlPlane, client: ApiClient, controllers: Any, scheduler: Any, nodes: Any
) -> None:
    ns = control_plane.namespace
    body = {
        "apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web"},
        "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "web"}},
                 "template": {"metadata": {"labels": {"app": "web"}},
                              "spec": {"containers": [{"name": "c", "image": "nginx"}]}}},
    }
    await client.create(DEPLOYMENTS, ns, body)

    async def done() -> Any:
        d = await client.get(DEPLOYMENTS, ns, "web")
        st = d.get("status") or {}
        return d if st.get("availableReplicas") == 3 and st.get("updatedReplicas") == 3 else None

    d = await eventually(done)
    print(d["status"])
    pods = (await client.list(PODS, ns))["items"]
    print([ (p["spec"].get("nodeName"), p["status"].get("podIP")) for p in pods])
    nodes_ = (await client.list(NODES))["items"]
    assert len(nodes_) == 2
