"""How many replicas a resource metric asks for: kube's ``replica_calculator.go``.

Values are in thousandths, as kube's metrics client reads them (``MilliValue()`` of a
container's usage, summed per pod). Pods are grouped first: being deleted or Failed →
ignored; Pending, or (for CPU) not Ready → unready; no metric → missing. The usage ratio
of the ready pods decides alone when nothing is missing or unready (within the 0.1
tolerance nothing changes, else ``ceil(ratio * ready pods)``); otherwise missing pods
are assumed to use their whole request on a scale down and nothing on a scale up, and
unready pods nothing on a scale up, and the ratio is taken again: if that reverses the
direction or lands within tolerance, the replicas stay as they are.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

from kapi import quantity

Obj = dict[str, Any]

TOLERANCE = 0.1


class MetricError(Exception):
    """A metric that could not be turned into a replica count (kube's error text)."""


@dataclass(frozen=True)
class Recommendation:
    replicas: int
    utilization: int | None  # percent of request, for Utilization targets
    average: Fraction  # thousandths per pod


def pod_requests(pod: Obj, resource: str) -> Fraction:
    """The pod's request of ``resource`` in thousandths, summed over its containers."""
    total = Fraction(0)
    for container in (pod.get("spec") or {}).get("containers") or []:
        request = quantity.parse(
            ((container.get("resources") or {}).get("requests") or {}).get(resource)
        )
        if request is None:
            name = (pod.get("metadata") or {}).get("name")
            raise MetricError(
                f"missing request for {resource} in container {container.get('name')} of Pod {name}"
            )
        total += request * 1000
    return total


def _ready(pod: Obj) -> bool:
    for condition in (pod.get("status") or {}).get("conditions") or []:
        if condition.get("type") == "Ready":
            return bool(condition.get("status") == "True")
    return False


@dataclass
class _Groups:
    ready: int
    unready: set[str]
    missing: set[str]
    ignored: set[str]


def _group(pods: list[Obj], metrics: dict[str, Fraction], resource: str) -> _Groups:
    groups = _Groups(0, set(), set(), set())
    for pod in pods:
        name = str((pod.get("metadata") or {}).get("name") or "")
        phase = (pod.get("status") or {}).get("phase")
        if (pod.get("metadata") or {}).get("deletionTimestamp") or phase == "Failed":
            groups.ignored.add(name)
        elif phase == "Pending":
            groups.unready.add(name)
        elif name not in metrics:
            groups.missing.add(name)
        elif resource == "cpu" and not _ready(pod):
            groups.unready.add(name)
        else:
            groups.ready += 1
    return groups


def _ratio(
    metrics: dict[str, Fraction],
    requests: dict[str, Fraction],
    target_utilization: int | None,
    target_average: Fraction | None,
) -> tuple[float, int | None, Fraction]:
    """(usage ratio, utilization percent, average per pod) over the pods in ``metrics``."""
    used = sum(metrics.values(), Fraction(0))
    average = used / len(metrics)
    if target_utilization is not None:
        requested = sum((requests[name] for name in metrics), Fraction(0))
        if requested == 0:
            raise MetricError("no requests for the pods with metrics")
        utilization = int(used * 100 / requested)
        return utilization / target_utilization, utilization, average
    assert target_average is not None
    return float(average / target_average), None, average


def replicas_for(
    current: int,
    pods: list[Obj],
    metrics: dict[str, Fraction],
    resource: str,
    *,
    target_utilization: int | None = None,
    target_average: Fraction | None = None,
    tolerance: float = TOLERANCE,
) -> Recommendation:
    """The replica count a Resource metric with a Utilization target (percent of the
    pods' requests) or an AverageValue target (thousandths per pod) recommends."""
    if not metrics:
        raise MetricError(
            f"unable to get metrics for resource {resource}: no metrics returned from "
            "resource metrics API"
        )
    if not pods:
        raise MetricError("no pods returned by selector while calculating replica count")
    groups = _group(pods, metrics, resource)
    counted = {
        name: value
        for name, value in metrics.items()
        if name not in groups.ignored and name not in groups.unready
    }
    by_name = {str((p.get("metadata") or {}).get("name") or ""): p for p in pods}
    requests: dict[str, Fraction] = {}
    if target_utilization is not None:
        requests = {name: pod_requests(pod, resource) for name, pod in by_name.items()}
    if not counted:
        raise MetricError("did not receive metrics for targeted pods (pods might be unready)")
    ratio, utilization, average = _ratio(counted, requests, target_utilization, target_average)
    scale_up_with_unready = bool(groups.unready) and ratio > 1.0
    if not scale_up_with_unready and not groups.missing:
        if abs(1.0 - ratio) <= tolerance:
            return Recommendation(current, utilization, average)
        return Recommendation(math.ceil(ratio * groups.ready), utilization, average)
    assumed = dict(counted)
    fallback = target_average if target_average is not None else Fraction(0)
    for name in groups.missing:
        if ratio < 1.0:
            assumed[name] = requests.get(name, fallback) if target_utilization else fallback
        elif ratio > 1.0:
            assumed[name] = Fraction(0)
    if scale_up_with_unready:
        for name in groups.unready:
            assumed[name] = Fraction(0)
    new_ratio, _, _ = _ratio(assumed, requests, target_utilization, target_average)
    if (
        abs(1.0 - new_ratio) <= tolerance
        or (ratio < 1.0 and new_ratio > 1.0)
        or (ratio > 1.0 and new_ratio < 1.0)
    ):
        return Recommendation(current, utilization, average)
    replicas = math.ceil(new_ratio * len(assumed))
    if (new_ratio < 1.0 and replicas > current) or (new_ratio > 1.0 and replicas < current):
        return Recommendation(current, utilization, average)
    return Recommendation(replicas, utilization, average)
