"""The scheduler's filters and its messages, from kube-scheduler's plugin tests
(node_affinity_test.go, taint_toleration_test.go, fit_test.go) and FitError.Error()."""

from __future__ import annotations

from typing import Any

import pytest

from services.scheduler import predicates
from services.scheduler.predicates import NodeInfo

Obj = dict[str, Any]


def node(
    name: str = "n1",
    *,
    labels: Obj | None = None,
    taints: list[Obj] | None = None,
    cpu: str = "2",
    pods: str = "110",
    unschedulable: bool = False,
) -> NodeInfo:
    return NodeInfo(
        {
            "metadata": {"name": name, "labels": labels or {}},
            "spec": {"taints": taints or [], "unschedulable": unschedulable},
            "status": {"allocatable": {"cpu": cpu, "memory": "4Gi", "pods": pods}},
        }
    )


def pod(**spec: Any) -> Obj:
    spec.setdefault("containers", [{"name": "c"}])
    return {"metadata": {"name": "p"}, "spec": spec}


def requests(cpu: str) -> list[Obj]:
    return [{"name": "c", "resources": {"requests": {"cpu": cpu}}}]


def affinity(*terms: Obj) -> Obj:
    return {
        "nodeAffinity": {
            "requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": list(terms)}
        }
    }


@pytest.mark.parametrize(
    ("the_pod", "the_node", "reasons"),
    [
        (pod(), node(), []),
        (pod(nodeSelector={"disk": "ssd"}), node(labels={"disk": "ssd"}), []),
        (pod(nodeSelector={"disk": "ssd"}), node(), [predicates.NODE_AFFINITY]),
        (
            pod(
                affinity=affinity(
                    {"matchExpressions": [{"key": "zone", "operator": "In", "values": ["a", "b"]}]}
                )
            ),
            node(labels={"zone": "b"}),
            [],
        ),
        (
            pod(
                affinity=affinity(
                    {"matchExpressions": [{"key": "zone", "operator": "NotIn", "values": ["b"]}]}
                )
            ),
            node(labels={"zone": "b"}),
            [predicates.NODE_AFFINITY],
        ),
        # terms are ORed; an empty term matches nothing
        (
            pod(
                affinity=affinity(
                    {},
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": ["n1"]}]},
                )
            ),
            node(),
            [],
        ),
        (
            pod(
                affinity=affinity(
                    {"matchExpressions": [{"key": "gpus", "operator": "Gt", "values": ["3"]}]}
                )
            ),
            node(labels={"gpus": "4"}),
            [],
        ),
        (
            pod(),
            node(taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]),
            ["node(s) had untolerated taint {k: v}"],
        ),
        (
            pod(tolerations=[{"key": "k", "operator": "Equal", "value": "v"}]),
            node(taints=[{"key": "k", "value": "v", "effect": "NoSchedule"}]),
            [],
        ),
        (
            pod(tolerations=[{"operator": "Exists"}]),
            node(taints=[{"key": "k", "effect": "NoExecute"}]),
            [],
        ),
        (pod(), node(taints=[{"key": "k", "effect": "PreferNoSchedule"}]), []),
        (pod(), node(unschedulable=True), [predicates.UNSCHEDULABLE]),
        (pod(containers=requests("3")), node(cpu="2"), ["Insufficient cpu"]),
        (pod(containers=requests("500m")), node(cpu="2"), []),
        # init containers count by their maximum, not their sum
        (
            pod(containers=requests("1"), initContainers=requests("1500m") + requests("2")),
            node(cpu="2"),
            [],
        ),
        (pod(), node(pods="0"), [predicates.TOO_MANY_PODS]),
    ],
)
def test_fit(the_pod: Obj, the_node: NodeInfo, reasons: list[str]) -> None:
    assert predicates.fit(the_pod, the_node, predicates.pod_requests(the_pod)) == reasons


def test_requests_already_placed_count() -> None:
    info = node(cpu="2")
    info.add("ns/a", {"cpu": 1500})
    the_pod = pod(containers=requests("600m"))
    assert predicates.fit(the_pod, info, predicates.pod_requests(the_pod)) == ["Insufficient cpu"]
    info.remove("ns/a", {"cpu": 1500})
    assert predicates.fit(the_pod, info, predicates.pod_requests(the_pod)) == []


def test_score_prefers_the_emptier_node() -> None:
    busy, idle = node("busy"), node("idle")
    busy.add("ns/a", {"cpu": 1000})
    req = {"cpu": 100}
    assert predicates.score(idle, req) > predicates.score(busy, req)


def test_unschedulable_messages() -> None:
    assert predicates.unschedulable_message(0, {}, False) == "no nodes available to schedule pods"
    assert predicates.unschedulable_message(
        3, {predicates.NODE_AFFINITY: 2, "Insufficient cpu": 1}, True
    ) == (
        "0/3 nodes are available: 1 Insufficient cpu, 2 node(s) didn't match Pod's node "
        "affinity/selector. preemption: 0/3 nodes are available: 3 No preemption victims "
        "found for incoming pod."
    )
    assert predicates.unschedulable_message(1, {predicates.NODE_AFFINITY: 1}, False) == (
        "0/1 nodes are available: 1 node(s) didn't match Pod's node affinity/selector. "
        "preemption: 0/1 nodes are available: 1 Preemption is not helpful for scheduling."
    )
