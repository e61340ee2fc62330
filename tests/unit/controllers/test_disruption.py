"""A PodDisruptionBudget's status as kube's disruption controller computes it
(``disruption_test.go``: TestNoSelector-free cases of integer and percentage
minAvailable, maxUnavailable, controllers' scale as the expected count — a Deployment
through its ReplicaSet, a StatefulSet — unmanaged pods failing the sync)."""

from __future__ import annotations

from typing import Any

import pytest

from kapi.kube.resources import DEPLOYMENTS, PODDISRUPTIONBUDGETS, REPLICASETS, STATEFULSETS
from services.controllers.disruption import DisruptionController
from tests.unit.controllers.fakes import FakeClient, context

Obj = dict[str, Any]
NS = "default"


def owner_ref(kind: str, name: str) -> Obj:
    return {"kind": kind, "name": name, "uid": f"{name}-uid", "controller": True}


def workload(kind: str, name: str, replicas: int, owner: Obj | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": NS, "uid": f"{name}-uid"}
    if owner:
        meta["ownerReferences"] = [owner]
    return {"kind": kind, "metadata": meta, "spec": {"replicas": replicas}}


def pod(name: str, *, ready: bool = True, owner: Obj | None = None) -> Obj:
    meta: Obj = {"name": name, "namespace": NS, "uid": f"{name}-uid", "labels": {"app": "web"}}
    if owner:
        meta["ownerReferences"] = [owner]
    status = "True" if ready else "False"
    return {
        "metadata": meta,
        "status": {"phase": "Running", "conditions": [{"type": "Ready", "status": status}]},
    }


def budget(**spec: Any) -> Obj:
    return {
        "metadata": {"name": "web", "namespace": NS, "uid": "pdb-uid", "generation": 1},
        "spec": {"selector": {"matchLabels": {"app": "web"}}, **spec},
        "status": {},
    }


async def status_of(pdb: Obj, pods: list[Obj], owners: list[tuple[Any, Obj]] = ()) -> Obj:  # type: ignore[assignment]
    client = FakeClient()
    ctx, _ = context(client, "disruption-controller")
    ctl = DisruptionController(ctx)
    ctl.budgets.store.put(pdb)
    client.put(PODDISRUPTIONBUDGETS, pdb)
    for p in pods:
        ctl.pods.store.put(p)
    for res, obj in owners:
        ctl.scalers[res.kind].store.put(obj)
    await ctl.sync("default/web")
    return client.objects[("poddisruptionbudgets", NS, "web")]["status"]


DEPLOY = workload("Deployment", "web", 4)
RS = workload("ReplicaSet", "web-abc", 4, owner_ref("Deployment", "web"))
OWNERS = [(DEPLOYMENTS, DEPLOY), (REPLICASETS, RS)]


def rs_pods(ready: int, total: int) -> list[Obj]:
    return [
        pod(f"p{i}", ready=i < ready, owner=owner_ref("ReplicaSet", "web-abc"))
        for i in range(total)
    ]


@pytest.mark.parametrize(
    ("spec", "ready", "total", "expected", "desired", "allowed"),
    [
        ({"minAvailable": 2}, 3, 3, 3, 2, 1),  # an integer: the selected pods are expected
        ({"minAvailable": 3}, 3, 3, 3, 3, 0),
        # a percentage: of the Deployment's scale (4), rounded up — not of the 3 pods
        ({"minAvailable": "50%"}, 3, 3, 4, 2, 1),
        ({"minAvailable": "60%"}, 3, 3, 4, 3, 0),
        ({"maxUnavailable": 1}, 4, 4, 4, 3, 1),
        ({"maxUnavailable": "25%"}, 3, 3, 4, 3, 0),
        ({"maxUnavailable": "30%"}, 4, 4, 4, 2, 2),  # 30% of 4 rounds up to 2
    ],
)
async def test_budget_arithmetic(
    spec: Obj, ready: int, total: int, expected: int, desired: int, allowed: int
) -> None:
    status = await status_of(budget(**spec), rs_pods(ready, total), OWNERS)
    assert (status["expectedPods"], status["desiredHealthy"], status["disruptionsAllowed"]) == (
        expected,
        desired,
        allowed,
    )
    assert status["currentHealthy"] == ready
    [condition] = status["conditions"]
    assert condition["reason"] == ("SufficientPods" if allowed else "InsufficientPods")


async def test_a_statefulset_scale_counts() -> None:
    sts = workload("StatefulSet", "db", 5)
    pods = [pod(f"db-{i}", owner=owner_ref("StatefulSet", "db")) for i in range(2)]
    status = await status_of(budget(maxUnavailable=1), pods, [(STATEFULSETS, sts)])
    assert (status["expectedPods"], status["disruptionsAllowed"]) == (5, 0)


async def test_an_unmanaged_pod_fails_the_sync_with_no_disruption_allowed() -> None:
    status = await status_of(budget(minAvailable="50%"), [pod("lonely")])
    assert status["disruptionsAllowed"] == 0
    [condition] = status["conditions"]
    assert (condition["status"], condition["reason"]) == ("False", "SyncFailed")
    assert condition["message"] == 'found no controller ref for pod "lonely"'


async def test_terminating_pods_are_not_healthy() -> None:
    pods = rs_pods(3, 3)
    pods[0]["metadata"]["deletionTimestamp"] = "2026-01-01T00:00:00Z"
    status = await status_of(budget(minAvailable=1), pods, OWNERS)
    assert status["currentHealthy"] == 2
