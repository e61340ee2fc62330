"""Which nodes a pod fits, with the reasons kube-scheduler's filter plugins give.

Each filter follows the plugin of the same name in ``pkg/scheduler/framework/plugins``:
NodeUnschedulable, NodeName, NodeAffinity (nodeSelector and required node affinity:
``In``, ``NotIn``, ``Exists``, ``DoesNotExist``, ``Gt``, ``Lt``; ``matchFields`` on
``metadata.name``), TaintToleration (NoSchedule and NoExecute taints must be
tolerated) and NodeResourcesFit (the pod's requests — the larger of its containers' sum
and any init container's — plus those already on the node, against allocatable; and the
pod count). The reasons are the plugins' own words, which the scheduler counts into
``0/3 nodes are available: ...``.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from kapi import quantity

Obj = dict[str, Any]

NODE_AFFINITY = "node(s) didn't match Pod's node affinity/selector"
NODE_NAME = "node(s) didn't match the requested node name"
UNSCHEDULABLE = "node(s) were unschedulable"
TOO_MANY_PODS = "Too many pods"
UNSCHEDULABLE_TAINT = "node.kubernetes.io/unschedulable"


def _milli(value: Any) -> int:
    """A quantity in thousandths (cpu in millicores, memory in milli-bytes), rounded up
    as ``Quantity.MilliValue`` rounds; 0 for what is not a quantity."""
    parsed = quantity.parse(value)
    return math.ceil(parsed * 1000) if parsed is not None else 0


def pod_requests(pod: Obj) -> dict[str, int]:
    """Requests in thousandths by resource: containers summed, init containers' maximum,
    plus the pod overhead (kube's resourcehelper.PodRequests)."""
    spec = pod.get("spec") or {}
    total: dict[str, int] = {}
    for container in spec.get("containers") or []:
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            total[name] = total.get(name, 0) + _milli(value)
    for container in spec.get("initContainers") or []:
        for name, value in ((container.get("resources") or {}).get("requests") or {}).items():
            total[name] = max(total.get(name, 0), _milli(value))
    for name, value in (spec.get("overhead") or {}).items():
        total[name] = total.get(name, 0) + _milli(value)
    return total


@dataclass
class NodeInfo:
    """A node and what is already placed on it."""

    node: Obj
    requested: dict[str, int] = field(default_factory=dict)
    pods: set[str] = field(default_factory=set)

    @property
    def name(self) -> str:
        return str((self.node.get("metadata") or {}).get("name") or "")

    def allocatable(self) -> dict[str, int]:
        status = self.node.get("status") or {}
        source = status.get("allocatable") or status.get("capacity") or {}
        return {k: _milli(v) for k, v in source.items()}

    def add(self, key: str, requests: dict[str, int]) -> None:
        if key in self.pods:
            return
        self.pods.add(key)
        for name, value in requests.items():
            self.requested[name] = self.requested.get(name, 0) + value

    def remove(self, key: str, requests: dict[str, int]) -> None:
        if key not in self.pods:
            return
        self.pods.discard(key)
        for name, value in requests.items():
            self.requested[name] = self.requested.get(name, 0) - value


def _tolerates(tolerations: Iterable[Obj], taint: Obj) -> bool:
    """v1helper.TolerationsTolerateTaint."""
    for t in tolerations:
        if t.get("effect") and t.get("effect") != taint.get("effect"):
            continue
        if t.get("key") and t.get("key") != taint.get("key"):
            continue
        operator = t.get("operator") or "Equal"
        if operator == "Exists":
            if not t.get("key") or t.get("key") == taint.get("key"):
                return True
        elif operator == "Equal" and (t.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _match_expression(expr: Obj, value: str | None) -> bool:
    op = expr.get("operator")
    values = [str(v) for v in expr.get("values") or []]
    if op == "In":
        return value is not None and value in values
    if op == "NotIn":
        return value is None or value not in values
    if op == "Exists":
        return value is not None
    if op == "DoesNotExist":
        return value is None
    if op in ("Gt", "Lt") and value is not None and values:
        try:
            left, right = int(value), int(values[0])
        except ValueError:
            return False
        return left > right if op == "Gt" else left < right
    return False


def _term_matches(term: Obj, node: Obj) -> bool:
    meta = node.get("metadata") or {}
    labels = meta.get("labels") or {}
    expressions = term.get("matchExpressions") or []
    fields = term.get("matchFields") or []
    if not expressions and not fields:
        return False  # an empty term matches nothing
    for expr in expressions:
        if not _match_expression(expr, labels.get(expr.get("key"))):
            return False
    for expr in fields:
        value = meta.get("name") if expr.get("key") == "metadata.name" else None
        if not _match_expression(expr, value):
            return False
    return True


def node_affinity_fits(pod: Obj, node: Obj) -> bool:
    spec = pod.get("spec") or {}
    labels = (node.get("metadata") or {}).get("labels") or {}
    for key, value in (spec.get("nodeSelector") or {}).items():
        if labels.get(key) != value:
            return False
    required = ((spec.get("affinity") or {}).get("nodeAffinity") or {}).get(
        "requiredDuringSchedulingIgnoredDuringExecution"
    ) or {}
    terms = required.get("nodeSelectorTerms")
    if terms is None:
        return True
    return any(_term_matches(term, node) for term in terms)


def untolerated_taint(pod: Obj, node: Obj) -> Obj | None:
    tolerations = (pod.get("spec") or {}).get("tolerations") or []
    for taint in (node.get("spec") or {}).get("taints") or []:
        if taint.get("effect") not in ("NoSchedule", "NoExecute"):
            continue
        if isinstance(taint, dict) and not _tolerates(tolerations, taint):
            return dict(taint)
    return None


def fit(pod: Obj, info: NodeInfo, requests: dict[str, int]) -> list[str]:
    """Why ``pod`` does not fit ``info`` (empty: it fits)."""
    node = info.node
    spec = pod.get("spec") or {}
    node_spec = node.get("spec") or {}
    if node_spec.get("unschedulable") and not _tolerates(
        spec.get("tolerations") or [], {"key": UNSCHEDULABLE_TAINT, "effect": "NoSchedule"}
    ):
        return [UNSCHEDULABLE]
    if not node_affinity_fits(pod, node):
        return [NODE_AFFINITY]
    taint = untolerated_taint(pod, node)
    if taint is not None:
        return [f"node(s) had untolerated taint {{{taint.get('key')}: {taint.get('value') or ''}}}"]
    reasons = []
    allocatable = info.allocatable()
    if "pods" in allocatable and len(info.pods) + 1 > allocatable["pods"] // 1000:
        reasons.append(TOO_MANY_PODS)
    for name, value in sorted(requests.items()):
        if value <= 0:
            continue
        if name not in allocatable and not name.startswith(("cpu", "memory", "ephemeral")):
            reasons.append(f"Insufficient {name}")
            continue
        if info.requested.get(name, 0) + value > allocatable.get(name, 0):
            reasons.append(f"Insufficient {name}")
    return reasons


def score(info: NodeInfo, requests: dict[str, int]) -> float:
    """LeastAllocated: the free share of cpu and memory after placing the pod."""
    allocatable = info.allocatable()
    shares = []
    for name in ("cpu", "memory"):
        cap = allocatable.get(name, 0)
        if cap <= 0:
            continue
        used = info.requested.get(name, 0) + requests.get(name, 0)
        shares.append(max(0.0, (cap - used) / cap))
    free = sum(shares) / len(shares) if shares else 1.0
    return free - len(info.pods) * 1e-6  # spread evenly when requests do not decide


def unschedulable_message(total: int, reasons: dict[str, int], resources: bool) -> str:
    """FitError.Error() with the preemption post-filter's note, as kube prints them."""
    if total == 0:
        return "no nodes available to schedule pods"
    listed = ", ".join(sorted(f"{n} {r}" for r, n in reasons.items()))
    why = (
        "No preemption victims found for incoming pod"
        if resources
        else ("Preemption is not helpful for scheduling")
    )
    return (
        f"0/{total} nodes are available: {listed}. preemption: 0/{total} nodes are "
        f"available: {total} {why}."
    )
