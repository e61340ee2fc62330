"""The rolling update's scale-down of old ReplicaSets, case by case from kube's
``rolling_test.go`` (TestDeploymentController_reconcileOldReplicaSets,
_cleanupUnhealthyReplicas, _scaleDownOldReplicaSetsForRollingUpdate), on the deployment
controller with a fake client."""

from __future__ import annotations

from typing import Any

import pytest

from kapi.kube.resources import REPLICASETS
from services.controllers.deployment import DeploymentController
from tests.unit.controllers.fakes import FakeClient, context

Obj = dict[str, Any]


def deployment(replicas: int, *, surge: Any, unavailable: Any) -> Obj:
    return {
        "metadata": {"name": "foo", "namespace": "default", "uid": "d-uid"},
        "spec": {
            "replicas": replicas,
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
            },
        },
    }


def rs(name: str, replicas: int, available: int, created: str) -> Obj:
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"{name}-uid",
            "creationTimestamp": created,
            "annotations": {},
        },
        "spec": {"replicas": replicas},
        "status": {"availableReplicas": available},
    }


def controller() -> tuple[DeploymentController, FakeClient]:
    client = FakeClient()
    ctx, _ = context(client, "deployment-controller")
    return DeploymentController(ctx), client


@pytest.mark.parametrize(
    ("unavailable", "old", "new", "old_ready", "new_ready", "scaled", "old_after"),
    [
        (0, 10, 0, 10, 0, True, 9),  # surge and unavailable 0: unavailable becomes 1
        (2, 10, 0, 10, 0, True, 8),
        (2, 10, 0, 8, 0, True, 8),  # the unhealthy ones go first
        (2, 10, 0, 9, 0, True, 8),  # one unhealthy cleaned up, one ready scaled down
        (2, 8, 2, 8, 0, False, 8),  # the new set's unavailable pods hold the old ones
    ],
)
async def test_reconcile_old_replica_sets(
    unavailable: int,
    old: int,
    new: int,
    old_ready: int,
    new_ready: int,
    scaled: bool,
    old_after: int,
) -> None:
    ctl, client = controller()
    d = deployment(10, surge=0, unavailable=unavailable)
    old_rs = rs("foo-old", old, old_ready, "2026-01-01T00:00:00Z")
    new_rs = rs("foo-new", new, new_ready, "2026-01-02T00:00:00Z")
    for one in (old_rs, new_rs):
        client.put(REPLICASETS, one)
    assert await ctl._reconcile_old([old_rs, new_rs], [old_rs], new_rs, d) is scaled
    assert client.objects[("replicasets", "default", "foo-old")]["spec"]["replicas"] == old_after


async def test_old_sets_are_scaled_down_oldest_first() -> None:
    """Two old sets, all ready, nothing new yet: the oldest loses its pods first."""
    ctl, client = controller()
    d = deployment(10, surge=0, unavailable=3)
    oldest = rs("foo-1", 5, 5, "2026-01-01T00:00:00Z")
    older = rs("foo-2", 5, 5, "2026-01-02T00:00:00Z")
    new_rs = rs("foo-3", 0, 0, "2026-01-03T00:00:00Z")
    for one in (oldest, older, new_rs):
        client.put(REPLICASETS, one)
    assert await ctl._reconcile_old([oldest, older, new_rs], [older, oldest], new_rs, d)
    sizes = {
        n: client.objects[("replicasets", "default", n)]["spec"]["replicas"]
        for n in ("foo-1", "foo-2")
    }
    assert sizes == {"foo-1": 2, "foo-2": 5}


@pytest.mark.parametrize(
    ("replicas", "surge", "new", "old", "expected"),
    [
        (10, 2, 0, 10, 2),  # surge above the desired count
        (10, "25%", 0, 10, 3),  # 25% of 10 rounds up
        (10, 0, 0, 10, 0),  # no surge: the new set waits for old ones to go
        (10, 2, 12, 0, 10),  # more than wanted: down to replicas
    ],
)
async def test_reconcile_new_replica_set(
    replicas: int, surge: Any, new: int, old: int, expected: int
) -> None:
    ctl, client = controller()
    d = deployment(replicas, surge=surge, unavailable=0 if surge else 1)
    new_rs = rs("foo-new", new, new, "2026-01-02T00:00:00Z")
    old_rs = rs("foo-old", old, old, "2026-01-01T00:00:00Z")
    for one in (old_rs, new_rs):
        client.put(REPLICASETS, one)
    await ctl._reconcile_new([old_rs, new_rs], new_rs, d)
    assert client.objects[("replicasets", "default", "foo-new")]["spec"]["replicas"] == expected
