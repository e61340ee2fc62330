"""The statefulset controller's ordering, case by case from kube's
``stateful_set_control_test.go`` (CreatesPods, ScalesUp/Down, ReplacesPods, Monotonic vs
Parallel pod management, RollingUpdate with partition): one sync against informer
stores, what it asks the fake client."""

from __future__ import annotations

from typing import Any

import pytest

from kapi.kube.resources import STATEFULSETS
from services.controllers import revisions
from services.controllers.statefulset import StatefulSetController
from tests.unit.controllers.fakes import FakeClient, context

Obj = dict[str, Any]
NS = "default"


def statefulset(replicas: int = 3, **spec: Any) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": {"name": "web", "namespace": NS, "uid": "sts-uid", "generation": 1},
        "spec": {
            "replicas": replicas,
            "serviceName": "web",
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": spec.pop("image", "nginx")}]},
            },
            **spec,
        },
        "status": {},
    }


def pod(
    index: int, revision: str, *, phase: str = "Running", ready: bool = True, **meta: Any
) -> Obj:
    return {
        "metadata": {
            "name": f"web-{index}",
            "namespace": NS,
            "uid": f"pod-{index}",
            "labels": {"app": "web", revisions.HASH_LABEL: revision},
            "ownerReferences": [
                {"kind": "StatefulSet", "name": "web", "uid": "sts-uid", "controller": True}
            ],
            **meta,
        },
        "status": {
            "phase": phase,
            "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
        },
    }


async def sync(sts: Obj, pods: list[Obj]) -> FakeClient:
    client = FakeClient()
    ctx, _ = context(client, "statefulset-controller")
    ctl = StatefulSetController(ctx)
    ctl.sets.store.put(sts)
    for p in pods:
        ctl.pods.store.put(p)
        client.put(ctl.pods.resource, p)
    client.put(STATEFULSETS, sts)
    await ctl.sync("default/web")
    return client


CURRENT = revisions.revision_name(statefulset())


async def test_ordered_ready_creates_ordinal_zero_first() -> None:
    client = await sync(statefulset(), [])
    assert client.created() == ["web-0"]
    made = client.objects[("pods", NS, "web-0")]
    assert made["spec"]["hostname"] == "web-0" and made["spec"]["subdomain"] == "web"
    assert made["metadata"]["labels"] == {
        "app": "web",
        "statefulset.kubernetes.io/pod-name": "web-0",
        "apps.kubernetes.io/pod-index": "0",
        revisions.HASH_LABEL: CURRENT,
    }


@pytest.mark.parametrize(
    ("first", "created"),
    [
        (pod(0, CURRENT), ["web-1"]),  # 0 Running and Ready: the next one
        (pod(0, CURRENT, phase="Pending", ready=False), []),  # not yet
        (pod(0, CURRENT, ready=False), []),  # running but not ready
        (pod(0, CURRENT, deletionTimestamp="2026-01-01T00:00:00Z"), []),  # terminating
    ],
)
async def test_ordered_ready_waits_for_each_predecessor(first: Obj, created: list[str]) -> None:
    client = await sync(statefulset(), [first])
    assert client.created() == created


async def test_parallel_creates_them_all_at_once() -> None:
    client = await sync(statefulset(podManagementPolicy="Parallel"), [])
    assert client.created() == ["web-0", "web-1", "web-2"]


@pytest.mark.parametrize(
    ("policy", "deleted"),
    [("OrderedReady", ["web-2"]), ("Parallel", ["web-2", "web-1"])],
)
async def test_scale_down_removes_the_highest_ordinals_first(
    policy: str, deleted: list[str]
) -> None:
    pods = [pod(i, CURRENT) for i in range(3)]
    client = await sync(statefulset(1, podManagementPolicy=policy), pods)
    assert client.deleted() == deleted


async def test_ordered_scale_down_waits_for_an_unhealthy_pod() -> None:
    pods = [pod(0, CURRENT, ready=False), pod(1, CURRENT), pod(2, CURRENT)]
    client = await sync(statefulset(1), pods)
    assert client.deleted() == []


async def test_a_failed_pod_is_deleted_to_be_made_again_under_its_name() -> None:
    pods = [pod(0, CURRENT), pod(1, CURRENT, phase="Failed", ready=False)]
    client = await sync(statefulset(), pods)
    assert client.deleted() == ["web-1"]
    assert client.created() == []  # web-2 waits for web-1's replacement


@pytest.mark.parametrize(
    ("partition", "deleted"),
    [(0, ["web-2"]), (2, ["web-2"]), (3, [])],
)
async def test_rolling_update_replaces_from_the_highest_ordinal_down_to_the_partition(
    partition: int, deleted: list[str]
) -> None:
    """All three on the old template; the new one replaces web-2 first, one at a time,
    and never below the partition."""
    new = statefulset(
        image="nginx:2",
        updateStrategy={"type": "RollingUpdate", "rollingUpdate": {"partition": partition}},
    )
    pods = [pod(i, CURRENT) for i in range(3)]
    client = await sync(new, pods)
    assert client.deleted() == deleted


async def test_rolling_update_waits_until_every_pod_is_ready() -> None:
    new = statefulset(image="nginx:2")
    pods = [pod(0, CURRENT), pod(1, CURRENT, ready=False), pod(2, CURRENT)]
    client = await sync(new, pods)
    assert client.deleted() == []


async def test_on_delete_leaves_old_pods_alone() -> None:
    new = statefulset(image="nginx:2", updateStrategy={"type": "OnDelete"})
    client = await sync(new, [pod(i, CURRENT) for i in range(3)])
    assert client.deleted() == []


async def test_status_counts_ready_current_and_updated() -> None:
    pods = [pod(0, CURRENT), pod(1, CURRENT, ready=False)]
    client = await sync(statefulset(), pods)
    status = client.objects[("statefulsets", NS, "web")]["status"]
    assert status["replicas"] == 2
    assert status["readyReplicas"] == 1
    assert status["currentReplicas"] == status["updatedReplicas"] == 2
    assert status["currentRevision"] == status["updateRevision"] == CURRENT
