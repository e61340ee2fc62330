"""kube's facts about API aggregation that every layer needs, with nothing heavy behind
them: the APIService group, the automanaged label and its values, kube-apiserver's
priorities of the built-in group-versions, the Available condition's helpers, and
kube's version order.

``PRIORITIES`` is kube-apiserver 1.32's table (``cmd/kube-apiserver/app/aggregator.go``
merged over ``pkg/controlplane/apiserver/aggregator.go``
``DefaultGenericAPIServicePriorities``): the local APIServices kube creates carry them,
and discovery orders groups and versions by them. The registry's APIService strategy
(``strategies/apiregistration.py``) and local APIServices, and the gateway's aggregator
import this module alone (not the registry's definitions).
"""

from __future__ import annotations

import re
from typing import Any

Obj = dict[str, Any]

GROUP = "apiregistration.k8s.io"
# kube's label on the APIServices it manages: "onstart" (built-in group-versions, synced
# once when the server starts) or "true" (CRD group-versions, kept in step).
AUTOMANAGED_LABEL = "kube-aggregator.kubernetes.io/automanaged"
MANAGE_ON_START = "onstart"
MANAGE_CONTINUOUSLY = "true"
# The priorities kube's CRD registration controller gives a CRD's group-versions.
CRD_GROUP_PRIORITY = 1000
CRD_VERSION_PRIORITY = 100
# The aggregator lists its own group first: above any APIService's maximum (20000).
APIREGISTRATION_GROUP_PRIORITY = 20001
LOCAL_REASON = "Local"
LOCAL_MESSAGE = "Local APIServices are always available"
CONDITION_STATUSES = ("True", "False", "Unknown")

# (group, version) -> (groupPriorityMinimum, versionPriority), kube-apiserver 1.32's.
PRIORITIES: dict[tuple[str, str], tuple[int, int]] = {
    ("", "v1"): (18000, 1),
    ("apps", "v1"): (17800, 15),
    ("events.k8s.io", "v1"): (17750, 15),
    ("events.k8s.io", "v1beta1"): (17750, 5),
    ("authentication.k8s.io", "v1"): (17700, 15),
    ("authentication.k8s.io", "v1beta1"): (17700, 9),
    ("authentication.k8s.io", "v1alpha1"): (17700, 1),
    ("authorization.k8s.io", "v1"): (17600, 15),
    ("autoscaling", "v1"): (17500, 15),
    ("autoscaling", "v2"): (17500, 30),
    ("autoscaling", "v2beta1"): (17500, 9),
    ("autoscaling", "v2beta2"): (17500, 1),
    ("batch", "v1"): (17400, 15),
    ("batch", "v1beta1"): (17400, 9),
    ("batch", "v2alpha1"): (17400, 9),
    ("certificates.k8s.io", "v1"): (17300, 15),
    ("certificates.k8s.io", "v1beta1"): (17300, 9),
    ("certificates.k8s.io", "v1alpha1"): (17300, 1),
    ("networking.k8s.io", "v1"): (17200, 15),
    ("networking.k8s.io", "v1beta1"): (17200, 9),
    ("policy", "v1"): (17100, 15),
    ("policy", "v1beta1"): (17100, 9),
    ("rbac.authorization.k8s.io", "v1"): (17000, 15),
    ("storage.k8s.io", "v1"): (16800, 15),
    ("storage.k8s.io", "v1beta1"): (16800, 9),
    ("storage.k8s.io", "v1alpha1"): (16800, 1),
    ("apiextensions.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1"): (16700, 15),
    ("admissionregistration.k8s.io", "v1beta1"): (16700, 12),
    ("admissionregistration.k8s.io", "v1alpha1"): (16700, 9),
    ("scheduling.k8s.io", "v1"): (16600, 15),
    ("coordination.k8s.io", "v1"): (16500, 15),
    ("coordination.k8s.io", "v1beta1"): (16500, 13),
    ("coordination.k8s.io", "v1alpha2"): (16500, 12),
    ("node.k8s.io", "v1"): (16300, 15),
    ("node.k8s.io", "v1beta1"): (16300, 9),
    ("node.k8s.io", "v1alpha1"): (16300, 1),
    ("discovery.k8s.io", "v1"): (16200, 15),
    ("discovery.k8s.io", "v1beta1"): (16200, 12),
    ("resource.k8s.io", "v1beta2"): (16200, 15),
    ("resource.k8s.io", "v1beta1"): (16200, 9),
    ("resource.k8s.io", "v1alpha3"): (16200, 1),
    ("flowcontrol.apiserver.k8s.io", "v1"): (16100, 21),
    ("flowcontrol.apiserver.k8s.io", "v1beta3"): (16100, 18),
    ("flowcontrol.apiserver.k8s.io", "v1beta2"): (16100, 15),
    ("flowcontrol.apiserver.k8s.io", "v1beta1"): (16100, 12),
    ("flowcontrol.apiserver.k8s.io", "v1alpha1"): (16100, 9),
    ("internal.apiserver.k8s.io", "v1alpha1"): (16000, 9),
    ("storagemigration.k8s.io", "v1beta1"): (15800, 9),
}


def apiservice_name(group: str, version: str) -> str:
    """kube's name of the APIService for a group-version: ``v1.apps``, ``v1.`` (core)."""
    return f"{version}.{group}"


def local_condition(now: str) -> Obj:
    """kube's NewLocalAvailableAPIServiceCondition."""
    return {
        "type": "Available",
        "status": "True",
        "lastTransitionTime": now,
        "reason": LOCAL_REASON,
        "message": LOCAL_MESSAGE,
    }


def set_condition(status: Obj, new: Obj) -> None:
    """kube's SetAPIServiceCondition: replace the condition of that type; its
    lastTransitionTime moves only when its status does."""
    conditions = status.setdefault("conditions", [])
    for existing in conditions:
        if isinstance(existing, dict) and existing.get("type") == new["type"]:
            if existing.get("status") != new["status"]:
                existing["status"] = new["status"]
                existing["lastTransitionTime"] = new["lastTransitionTime"]
            existing["reason"] = new.get("reason", "")
            existing["message"] = new.get("message", "")
            return
    conditions.append(dict(new))


def available(apiservice: Obj) -> Obj | None:
    """The Available condition, if it has one."""
    for condition in (apiservice.get("status") or {}).get("conditions") or []:
        if isinstance(condition, dict) and condition.get("type") == "Available":
            return condition
    return None


_KUBE_VERSION = re.compile(r"^v(\d+)(?:(alpha|beta)(\d+))?$")


def version_priority(version: str) -> tuple[int, int, int, str]:
    """kube's CompareKubeAwareVersionStrings as a sort key (smaller sorts first): GA
    before beta before alpha, higher numbers first, then anything else by name."""
    match = _KUBE_VERSION.match(version)
    if match is None:
        return (3, 0, 0, version)
    major, level, minor = int(match.group(1)), match.group(2), int(match.group(3) or 0)
    rank = {None: 0, "beta": 1, "alpha": 2}[level]
    return (rank, -major, -minor, "")
