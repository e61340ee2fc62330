"""The controller manager in process, against the in-process control plane on etcd."""

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


async def test_a_namespace_gets_its_account_and_ca_and_a_deployment_its_pods(
    control_plane: ControlPlane, client: ApiClient, controllers: Any
) -> None:
    """On the real etcd: serviceaccount and root CA publisher, deployment → ReplicaSet
    (revision 1 on both) → pods, then the namespace goes with its content."""
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


def _rs_body(name: str, replicas: int) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"rs": name}},
            "template": {
                "metadata": {"labels": {"rs": name}},
                "spec": {"containers": [{"name": "c", "image": "x"}]},
            },
        },
    }


async def _pods_of(client: ApiClient, ns: str, rs: str) -> list[Any]:
    items = (await client.list(PODS, ns, labelSelector=f"rs={rs}")).get("items") or []
    return list(items)


async def test_garbage_collector_propagation_policies(
    control_plane: ControlPlane, client: ApiClient, controllers: Any
) -> None:
    """Background deletes the dependents after the owner; foreground deletes them first
    (the owner waits with foregroundDeletion); orphan strips the owner reference."""
    ns = control_plane.namespace
    for name in ("bg", "fg", "orph"):
        await client.create(REPLICASETS, ns, _rs_body(name, 2))

    async def two(name: str) -> Any:
        return len(await _pods_of(client, ns, name)) == 2

    for name in ("bg", "fg", "orph"):
        await eventually(lambda n=name: two(n))  # type: ignore[misc]

    await client.delete(REPLICASETS, ns, "bg", propagation="Background")
    await eventually(lambda: _none(client, ns, "bg"))

    marked = await client.delete(REPLICASETS, ns, "fg", propagation="Foreground")
    assert marked["metadata"]["finalizers"] == ["foregroundDeletion"]
    assert marked["metadata"]["deletionTimestamp"]
    await eventually(lambda: _none(client, ns, "fg"))
    await eventually(lambda: _gone(client, REPLICASETS, ns, "fg"))

    await client.delete(REPLICASETS, ns, "orph", propagation="Orphan")
    await eventually(lambda: _gone(client, REPLICASETS, ns, "orph"))
    orphans = await _pods_of(client, ns, "orph")
    assert len(orphans) == 2
    assert all(not p["metadata"].get("ownerReferences") for p in orphans)


async def _none(client: ApiClient, ns: str, rs: str) -> bool:
    return not await _pods_of(client, ns, rs)


async def _gone(client: ApiClient, res: Any, ns: str, name: str) -> bool:
    return await _get(client, res, ns, name) is None


async def test_the_namespace_controller_deletes_every_type(
    control_plane: ControlPlane, client: ApiClient, controllers: Any
) -> None:
    """Content of every namespaced type goes (a Job here), then the namespace."""
    from kapi.kube.resources import JOBS

    body = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "doomed"}}
    await client.create(NAMESPACES, "", body)
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": "j"},
        "spec": {
            "template": {
                "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}
            }
        },
    }
    await client.create(JOBS, "doomed", job)
    await client.delete(NAMESPACES, "", "doomed")
    await eventually(lambda: _gone(client, JOBS, "doomed", "j"))
    await eventually(lambda: _gone(client, NAMESPACES, "", "doomed"))


async def test_a_controller_turned_off_does_nothing(
    control_plane: ControlPlane, client: ApiClient
) -> None:
    """``--controllers=*,-job``: a Job gets no pods, while a ReplicaSet created after it
    gets its own from the same manager."""
    from kapi.kube.resources import JOBS
    from services.controllers.server import ControllersConfig, LeaderElection, create_server
    from tests.integration.controllers.conftest import connection

    running = await create_server(
        ControllersConfig(
            connection=connection(control_plane, "system:kube-controller-manager"),
            controllers=("*,-job",),
            leader_election=LeaderElection(enabled=False),
            identity="test",
        )
    )
    try:
        assert "job-controller" not in running.controllers
        assert "cronjob-controller" in running.controllers
        ns = control_plane.namespace
        job = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "idle"},
            "spec": {
                "template": {
                    "spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "x"}]}
                }
            },
        }
        await client.create(JOBS, ns, job)
        await client.create(REPLICASETS, ns, _rs_body("after", 2))
        await eventually(lambda: _two_pods(client, ns, "after"))
        pods = (await client.list(PODS, ns))["items"]
        assert all(p["metadata"]["ownerReferences"][0]["kind"] == "ReplicaSet" for p in pods)
        assert not (await client.get(JOBS, ns, "idle")).get("status", {}).get("active")
    finally:
        await running.close()


async def _two_pods(client: ApiClient, ns: str, rs: str) -> bool:
    return len(await _pods_of(client, ns, rs)) == 2
