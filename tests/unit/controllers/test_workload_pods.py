"""What the workload controllers share (kube's ``controller_utils.go``: ActivePods'
deletion order, slowStartBatch, BurstReplicas) and the replicaset and daemonset
controllers' decisions built on it (``replica_set_test.go``, ``daemon_controller_test.go``:
TestSlowStartBatch, TestSortingActivePods, TestDeleteFinalStateUnknown-free scale up/down,
nodeShouldRunDaemonPod, the daemon pods' tolerations and node affinity)."""

from __future__ import annotations

import copy
import datetime
from typing import Any

import pytest

from kapi.kube.resources import REPLICASETS
from services.controllers import daemonset, objects, pods
from services.controllers.replicaset import ReplicaSetController
from tests.unit.controllers.fakes import FakeClient, context

Obj = dict[str, Any]
NOW = datetime.datetime(2026, 1, 1, 12, 0, tzinfo=datetime.UTC)


def ts(seconds_ago: float) -> str:
    return objects.rfc3339(NOW - datetime.timedelta(seconds=seconds_ago))


def pod(
    name: str,
    *,
    node: str = "n1",
    phase: str = "Running",
    ready_for: float | None = 100,
    restarts: int = 0,
    age: float = 1000,
) -> Obj:
    conditions = []
    if ready_for is not None:
        conditions.append({"type": "Ready", "status": "True", "lastTransitionTime": ts(ready_for)})
    return {
        "metadata": {
            "name": name,
            "namespace": "default",
            "uid": f"{name}-uid",
            "creationTimestamp": ts(age),
            "labels": {"app": "web"},
            "ownerReferences": [
                {"kind": "ReplicaSet", "name": "web", "uid": "rs-uid", "controller": True}
            ],
        },
        "spec": {"nodeName": node} if node else {},
        "status": {
            "phase": phase,
            "conditions": conditions,
            "containerStatuses": [{"restartCount": restarts}],
        },
    }


def test_active_pods_order_least_valuable_first() -> None:
    """Unassigned < assigned; Pending < Unknown < Running; not ready < ready; ready for
    less time < more; more restarts < fewer; newer < older."""
    ranked = [
        pod("unassigned", node="", phase="Pending", ready_for=None),
        pod("pending", phase="Pending", ready_for=None),
        pod("unknown", phase="Unknown", ready_for=None),
        pod("not-ready", ready_for=None),
        pod("ready-briefly", ready_for=5),
        pod("restarted", restarts=3),
        pod("newer", age=500),
        pod("older", age=2000),
    ]
    shuffled = ranked[3:] + ranked[:3]
    order = sorted(shuffled, key=lambda p: pods.deletion_rank(p, NOW))
    assert [objects.name(p) for p in order] == [objects.name(p) for p in ranked]


@pytest.mark.parametrize(
    ("count", "fail_at", "done", "calls"),
    [
        (10, None, 10, 10),  # batches of 1, 2, 4, 3
        (10, 1, 0, 1),  # the first batch fails: nothing more is tried
        (10, 3, 2, 3),  # a failure in the second batch (1 + 2): no third
        (10, 5, 4, 7),  # in the third (1 + 2 + 4): 4 succeeded, no fourth
        (0, None, 0, 0),
    ],
)
async def test_slow_start_batches(count: int, fail_at: int | None, done: int, calls: int) -> None:
    made = 0

    async def action() -> None:
        nonlocal made
        made += 1
        if made == fail_at:
            raise RuntimeError("refused")

    if fail_at is None:
        assert await pods.slow_start(count, action) == done
    else:
        with pytest.raises(RuntimeError):
            await pods.slow_start(count, action)
    assert made == calls


def replicaset(replicas: int) -> Obj:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": "web", "namespace": "default", "uid": "rs-uid", "generation": 1},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": "web"}},
            "template": {
                "metadata": {"labels": {"app": "web"}},
                "spec": {"containers": [{"name": "c", "image": "nginx"}]},
            },
        },
        "status": {},
    }


async def rs_sync(rs: Obj, existing: list[Obj]) -> FakeClient:
    client = FakeClient()
    ctx, _ = context(client, "replicaset-controller")
    ctl = ReplicaSetController(ctx)
    ctl.sets.store.put(rs)
    client.put(REPLICASETS, rs)
    for p in existing:
        ctl.pods.store.put(p)
        client.put(ctl.pods.resource, p)
    await ctl.sync("default/web")
    return client


async def test_replicaset_creates_the_missing_pods_from_its_template() -> None:
    client = await rs_sync(replicaset(3), [pod("a")])
    made = client.created()
    assert len(made) == 2 and all(n.startswith("web-") for n in made)
    one = client.objects[("pods", "default", made[0])]
    assert one["metadata"]["labels"] == {"app": "web"}
    assert one["metadata"]["ownerReferences"][0]["uid"] == "rs-uid"


async def test_replicaset_deletes_the_least_valuable_pods() -> None:
    existing = [
        pod("old-ready"),
        pod("pending", phase="Pending", ready_for=None),
        pod("new", age=5),
    ]
    client = await rs_sync(replicaset(1), existing)
    assert client.deleted() == ["pending", "new"]


async def test_replicaset_creates_at_most_burst_replicas_per_sync() -> None:
    client = await rs_sync(replicaset(pods.BURST_REPLICAS + 20), [])
    assert len(client.created()) == pods.BURST_REPLICAS


def node(
    name: str, *, labels: dict[str, str] | None = None, taints: list[Obj] | None = None
) -> Obj:
    return {
        "metadata": {"name": name, "labels": labels or {}},
        "spec": {"taints": taints or []},
    }


def taint(key: str, effect: str) -> Obj:
    return {"key": key, "effect": effect}


@pytest.mark.parametrize(
    ("template_spec", "the_node", "runs"),
    [
        ({}, node("a"), True),
        ({"nodeSelector": {"disk": "ssd"}}, node("a", labels={"disk": "ssd"}), True),
        ({"nodeSelector": {"disk": "ssd"}}, node("a", labels={"disk": "hdd"}), False),
        ({}, node("a", taints=[taint("dedicated", "NoSchedule")]), False),
        (
            {"tolerations": [{"key": "dedicated", "operator": "Exists"}]},
            node("a", taints=[taint("dedicated", "NoSchedule")]),
            True,
        ),
        ({}, node("a", taints=[taint("dedicated", "PreferNoSchedule")]), True),
        # the controller's own tolerations: an unschedulable or not-ready node still runs it
        ({}, node("a", taints=[taint("node.kubernetes.io/unschedulable", "NoSchedule")]), True),
        ({}, node("a", taints=[taint("node.kubernetes.io/not-ready", "NoExecute")]), True),
        # network-unavailable is tolerated only by hostNetwork daemons
        (
            {},
            node("a", taints=[taint("node.kubernetes.io/network-unavailable", "NoSchedule")]),
            False,
        ),
        (
            {"hostNetwork": True},
            node("a", taints=[taint("node.kubernetes.io/network-unavailable", "NoSchedule")]),
            True,
        ),
    ],
)
def test_node_should_run_daemon_pod(template_spec: Obj, the_node: Obj, runs: bool) -> None:
    template = daemonset.daemon_template({"spec": template_spec})
    assert daemonset.should_run(template, the_node) is runs


def test_daemon_pods_are_pinned_by_node_affinity_not_node_name() -> None:
    pinned = daemonset.pin({"spec": {"containers": []}}, "node-7")
    assert "nodeName" not in pinned["spec"]
    assert daemonset.pinned({"spec": pinned["spec"]}) == "node-7"
    terms = pinned["spec"]["affinity"]["nodeAffinity"][
        "requiredDuringSchedulingIgnoredDuringExecution"
    ]["nodeSelectorTerms"]
    assert terms == [
        {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["node-7"]}]}
    ]


async def test_replicaset_counts_its_own_pods_and_adopts_orphans_of_its_namespace_only() -> None:
    """A sync reads the pods its ReplicaSet controls and the orphans of its namespace (by
    the controller-UID index), never another controller's pods, whatever their labels."""
    orphan = pod("orphan")
    del orphan["metadata"]["ownerReferences"]
    elsewhere = copy.deepcopy(orphan)
    elsewhere["metadata"].update(name="elsewhere", namespace="other", uid="elsewhere-uid")
    foreign = pod("foreign")
    foreign["metadata"]["ownerReferences"][0].update(name="other", uid="other-uid")
    client = await rs_sync(replicaset(3), [pod("mine"), orphan, elsewhere, foreign])
    assert len(client.created()) == 1  # mine + the adopted orphan: one more
    assert [name for _, name, _ in client.patched()] == ["orphan"]
    adopted = client.objects[("pods", "default", "orphan")]
    assert adopted["metadata"]["ownerReferences"][0]["uid"] == "rs-uid"
