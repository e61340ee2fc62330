from __future__ import annotations

from typing import Any

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.resources import (
    CONFIGMAPS,
    DEPLOYMENTS,
    NAMESPACES,
    PODS,
    REPLICASETS,
    SERVICEACCOUNTS,
)
from tests.integration.conftest import ControlPlane
from tests.integration.controllers.conftest import eventually


async def test_smoke(control_plane: ControlPlane, client: ApiClient, controllers: Any) -> None:
    ns = control_plane.namespace

    async def sa() -> Any:
        try:
            return await client.get(SERVICEACCOUNTS, ns, "default")
        except errors.StatusError:
            return None

    await eventually(sa)
    cm = await eventually(lambda: _get(client, CONFIGMAPS, ns, "kube-root-ca.crt"))
    assert cm["data"]["ca.crt"].startswith("-----BEGIN")
    body = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "web"},
        "spec": {
            "replicas": 3,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
    }
    await client.create(DEPLOYMENTS, ns, body)

    async def three_pods() -> Any:
        pods = (await client.list(PODS, ns)).get("items") or []
        return pods if len(pods) == 3 else None

    pods = await eventually(three_pods)
    rs = (await client.list(REPLICASETS, ns))["items"]
    assert len(rs) == 1
    assert rs[0]["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    d = await client.get(DEPLOYMENTS, ns, "web")
    assert d["metadata"]["annotations"]["deployment.kubernetes.io/revision"] == "1"
    assert all(
        p["metadata"]["ownerReferences"][0]["name"] == rs[0]["metadata"]["name"] for p in pods
    )
    await client.delete(NAMESPACES, "", ns)

    async def gone() -> Any:
        return await _get(client, NAMESPACES, "", ns) is None

    await eventually(gone)


async def _get(client: ApiClient, res: Any, ns: str, name: str) -> Any:
    try:
        return await client.get(res, ns, name)
    except errors.StatusError as err:
        if err.code == 404:
            return None
        raise
