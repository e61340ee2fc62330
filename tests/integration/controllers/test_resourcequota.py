"""ResourceQuota end to end on the real etcd: the resourcequota controller (in process,
as a gateway client) counts what a quota limits — custom resources and any built-in
kind by ``count/<resource>.<group>``, pod compute and extended resources, claims by
storage class — and the admission plugin in authz refuses what would go over, in
kube's words."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from kapi import errors
from kapi.kube.client import ApiClient
from kapi.kube.resources import CONFIGMAPS, DEPLOYMENTS, PODS, Resource
from services.controllers import resourcequota
from services.controllers.server import ControllersConfig, LeaderElection, create_server
from tests.crds import simple_crd
from tests.integration.conftest import ControlPlane
from tests.integration.controllers.conftest import connection, eventually

pytestmark = pytest.mark.integration

QUOTAS = Resource("", "v1", "resourcequotas", "ResourceQuota")
CLAIMS = Resource("", "v1", "persistentvolumeclaims", "PersistentVolumeClaim")
CRDS = Resource(
    "apiextensions.k8s.io",
    "v1",
    "customresourcedefinitions",
    "CustomResourceDefinition",
    namespaced=False,
)
Obj = dict[str, Any]
DEPLOYMENT = {
    "apiVersion": "apps/v1",
    "kind": "Deployment",
    "metadata": {"name": "web"},
    "spec": {
        "selector": {"matchLabels": {"a": "b"}},
        "template": {
            "metadata": {"labels": {"a": "b"}},
            "spec": {"containers": [{"name": "c", "image": "nginx"}]},
        },
    },
}


@pytest.fixture
async def quota_controller(
    control_plane: ControlPlane, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[Any]:
    monkeypatch.setattr(resourcequota, "DISCOVERY_RETRY", 0.5)
    running = await create_server(
        ControllersConfig(
            connection=connection(control_plane, "system:kube-controller-manager"),
            controllers=("resourcequota",),
            leader_election=LeaderElection(enabled=False),
            identity="test",
        )
    )
    yield running
    await running.close()


def widget_crd(group: str) -> Obj:
    schema = {"type": "object", "x-kubernetes-preserve-unknown-fields": True}
    return simple_crd(group, "widgets", "Widget", schema)


def pod(name: str, requests: dict[str, str]) -> Obj:
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": name},
        "spec": {
            "containers": [
                {
                    "name": "c",
                    "image": "nginx",
                    "resources": {"requests": requests, "limits": requests},
                }
            ]
        },
    }


async def used_of(client: ApiClient, ns: str, name: str) -> dict[str, str]:
    found = await client.get(QUOTAS, ns, name)
    return dict((found.get("status") or {}).get("used") or {})


async def admission_refuses(client: ApiClient, res: Resource, ns: str, body: Obj) -> None:
    """Wait until authz's copy of the quotas refuses ``body`` (a dry run): its informer
    follows the controller's status write a moment later, and a quota without
    ``status.hard`` limits nothing (kube's Matches)."""

    async def refuses() -> bool:
        try:
            await client.request("POST", res.path(ns), params={"dryRun": "All"}, body=body)
        except errors.StatusError as err:
            return err.code == 403
        return False

    await eventually(refuses)


async def refused(coro: Any) -> str:
    with pytest.raises(errors.StatusError) as err:
        await coro
    assert err.value.code == 403
    return err.value.message


async def test_quota_counts_and_refuses_every_kind(
    control_plane: ControlPlane, client: ApiClient, quota_controller: Any
) -> None:
    ns = control_plane.namespace
    group = f"q{uuid.uuid4().hex[:8]}.example.com"
    widgets = Resource(group, "v1", "widgets", "Widget")
    hard = {
        f"count/widgets.{group}": "1",
        "count/deployments.apps": "0",
        "count/configmaps": "5",
        "configmaps": "5",
        "pods": "2",
        "requests.cpu": "1",
        "requests.nvidia.com/gpu": "1",
        "gold.storageclass.storage.k8s.io/requests.storage": "1Gi",
        "services.nodeports": "0",
    }
    # The quota comes first: the custom resource it counts is not served yet.
    await client.create(
        QUOTAS,
        ns,
        {
            "apiVersion": "v1",
            "kind": "ResourceQuota",
            "metadata": {"name": "q"},
            "spec": {"hard": hard},
        },
    )
    await client.create(CONFIGMAPS, ns, {"metadata": {"name": "before"}, "data": {}})

    async def counted() -> Any:
        used = await used_of(client, ns, "q")
        return used if set(used) == set(hard) and used["configmaps"] == "1" else None

    used = await eventually(counted)
    assert used[f"count/widgets.{group}"] == "0"
    await admission_refuses(client, DEPLOYMENTS, ns, DEPLOYMENT)
    assert used["requests.nvidia.com/gpu"] == "0"

    await client.create(CRDS, "", widget_crd(group))

    async def widget_served() -> Any:
        try:
            await client.list(widgets, ns)
            return True
        except errors.StatusError:
            return False

    await eventually(widget_served)
    body = {"apiVersion": f"{group}/v1", "kind": "Widget", "metadata": {"name": "w1"}}
    await eventually(lambda: _create_ok(client, widgets, ns, body))
    message = await refused(client.create(widgets, ns, {**body, "metadata": {"name": "w2"}}))
    assert message == (
        f'widgets.{group} "w2" is forbidden: exceeded quota: q, requested: '
        f"count/widgets.{group}=1, used: count/widgets.{group}=1, limited: count/widgets.{group}=1"
    )
    message = await refused(client.create(DEPLOYMENTS, ns, DEPLOYMENT))
    assert message.endswith(
        "exceeded quota: q, requested: count/deployments.apps=1, "
        "used: count/deployments.apps=0, limited: count/deployments.apps=0"
    )

    # Compute: cpu must be stated; an extended resource is counted as requests.<name>.
    message = await refused(client.create(PODS, ns, pod("bare", {})))
    assert message == 'pods "bare" is forbidden: failed quota: q: must specify requests.cpu for: c'
    await client.create(PODS, ns, pod("gpu", {"cpu": "500m", "nvidia.com/gpu": "1"}))
    message = await refused(
        client.create(PODS, ns, pod("gpu2", {"cpu": "250m", "nvidia.com/gpu": "1"}))
    )
    assert message.endswith(
        "exceeded quota: q, requested: requests.nvidia.com/gpu=1, "
        "used: requests.nvidia.com/gpu=1, limited: requests.nvidia.com/gpu=1"
    )

    # Claims are charged to their storage class.
    claim = {
        "apiVersion": "v1",
        "kind": "PersistentVolumeClaim",
        "metadata": {"name": "data"},
        "spec": {
            "storageClassName": "gold",
            "accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": "2Gi"}},
        },
    }
    message = await refused(client.create(CLAIMS, ns, claim))
    assert message.endswith(
        "exceeded quota: q, requested: gold.storageclass.storage.k8s.io/requests.storage=2Gi, "
        "used: gold.storageclass.storage.k8s.io/requests.storage=0, "
        "limited: gold.storageclass.storage.k8s.io/requests.storage=1Gi"
    )

    # The controller counts the widget itself: a recount (a configmap created) keeps it.
    await client.create(CONFIGMAPS, ns, {"metadata": {"name": "after"}, "data": {}})

    async def recounted_widget() -> Any:
        used = await used_of(client, ns, "q")
        return used if used["configmaps"] == "2" else None

    assert (await eventually(recounted_widget))[f"count/widgets.{group}"] == "1"

    # The controller keeps status.used to what exists: a deleted widget is given back.
    async def recounted() -> Any:
        used = await used_of(client, ns, "q")
        return used if used["pods"] == "1" and used["requests.cpu"] == "500m" else None

    await eventually(recounted)
    await client.delete(widgets, ns, "w1")

    async def given_back() -> Any:
        return (await used_of(client, ns, "q"))[f"count/widgets.{group}"] == "0"

    await eventually(given_back)
    await client.delete(CRDS, "", f"widgets.{group}")


async def _create_ok(client: ApiClient, res: Resource, ns: str, body: Obj) -> bool:
    """The first create, once the controller has counted the new kind (until then the
    quota's count is unknown to it only if it never counted; here it counted 0)."""
    try:
        await client.create(res, ns, body)
        return True
    except errors.StatusError as err:
        if err.code in (403, 404):
            return False
        raise


async def test_scoped_quotas_count_only_their_pods(
    control_plane: ControlPlane, client: ApiClient, quota_controller: Any
) -> None:
    ns = control_plane.namespace
    for name, scopes in (("best-effort", ["BestEffort"]), ("terminating", ["Terminating"])):
        await client.create(
            QUOTAS,
            ns,
            {"metadata": {"name": name}, "spec": {"hard": {"pods": "0"}, "scopes": scopes}},
        )
    batch = pod("batch", {"cpu": "100m"})
    batch["spec"]["activeDeadlineSeconds"] = 60
    await admission_refuses(client, PODS, ns, pod("plain", {}))
    await admission_refuses(client, PODS, ns, batch)
    # A pod with requests and no deadline is in neither quota's scopes.
    await client.create(PODS, ns, pod("burstable", {"cpu": "100m"}))
    message = await refused(client.create(PODS, ns, batch))
    assert message == (
        'pods "batch" is forbidden: exceeded quota: terminating, requested: pods=1, '
        "used: pods=0, limited: pods=0"
    )

    # Room for one best-effort pod: the second is refused, the controller counts one.
    current = await client.get(QUOTAS, ns, "best-effort")
    current["spec"]["hard"] = {"pods": "1"}
    await client.update(QUOTAS, current)
    await eventually(lambda: _create_ok(client, PODS, ns, pod("plain", {})))
    message = await refused(client.create(PODS, ns, pod("plain2", {})))
    # "limited" prints status.hard as authz last saw it (kube prints Status.Hard too),
    # which may be the controller's count from before the spec change.
    assert message.startswith(
        'pods "plain2" is forbidden: exceeded quota: best-effort, requested: pods=1, '
        "used: pods=1, limited: pods="
    )

    async def settled() -> Any:
        return (await used_of(client, ns, "best-effort"))["pods"] == "1" and (
            await used_of(client, ns, "terminating")
        )["pods"] == "0"

    await eventually(settled)
