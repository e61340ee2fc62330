"""Resource quota accounting shared by the ResourceQuota admission plugin (authz) and the
resourcequota controller (controllers): what an object uses, which quotas it falls
under, which resource names an object's kind answers for, and resource lists as kube
prints them.

kube's ``pkg/quota/v1/evaluator/core``: ``pods.go`` (compute usage from requests and
limits, hugepages, extended resources as ``requests.<name>``; terminal pods and pods
past their deletion grace count only as objects; the Terminating, NotTerminating,
BestEffort, NotBestEffort, PriorityClass and CrossNamespacePodAffinity scopes and the
``must specify`` constraint), ``services.go`` (``services.loadbalancers``,
``services.nodeports``), ``persistent_volume_claims.go`` (``requests.storage`` rounded
up to whole bytes and charged to the claim's storage class as
``<class>.storageclass.storage.k8s.io/requests.storage``) and ``registry.go`` (the
legacy object-count names); ``k8s.io/apiserver/pkg/quota/v1/generic`` (``count/<resource>
.<group>`` for every other resource, built-in or custom).

Usage is a ``dict[str, Fraction]`` of resource names to exact values; ``format_list``
writes one as kube's ``prettyPrint`` does (sorted ``name=quantity``, comma separated).
"""

from __future__ import annotations

import datetime
import time
from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from kapi import quantity as quantities

Obj = Mapping[str, Any]
Usage = dict[str, Fraction]
GroupResource = tuple[str, str]

PODS: GroupResource = ("", "pods")
SERVICES: GroupResource = ("", "services")
PVCS: GroupResource = ("", "persistentvolumeclaims")

COMPUTE = ("cpu", "memory", "ephemeral-storage")
# Resources whose quota makes every container state a value (pods.go validationSet).
MUST_SPECIFY = frozenset(
    {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
)
_POD_RESOURCES = frozenset(
    {
        "count/pods",
        "pods",
        *COMPUTE,
        *(f"requests.{r}" for r in COMPUTE),
        *(f"limits.{r}" for r in COMPUTE),
    }
)
_SERVICE_RESOURCES = frozenset(
    {"count/services", "services", "services.loadbalancers", "services.nodeports"}
)
_PVC_RESOURCES = ("persistentvolumeclaims", "requests.storage")
STORAGE_CLASS_SUFFIX = ".storageclass.storage.k8s.io/"
BETA_STORAGE_CLASS = "volume.beta.kubernetes.io/storage-class"
# Object counts kube also answers under their pre-``count/`` names (registry.go).
LEGACY_COUNTS = frozenset({"configmaps", "resourcequotas", "replicationcontrollers", "secrets"})
HUGEPAGES = "hugepages-"
TERMINAL_PHASES = ("Succeeded", "Failed")
# Resource names whose quantities kube keeps in binary SI (bytes).
_BINARY = ("memory", "storage", "ephemeral-storage")


def quantity(value: object) -> Fraction:
    """A quantity's exact value (0 for a value that does not parse)."""
    parsed = quantities.parse(value)
    return parsed if parsed is not None else Fraction(0)


def parse_list(items: object) -> Usage:
    if not isinstance(items, Mapping):
        return {}
    return {str(k): quantity(v) for k, v in items.items()}


def count_name(group: str, resource: str) -> str:
    """generic.ObjectCountQuotaResourceNameFor: ``count/deployments.apps``, ``count/pods``."""
    return f"count/{resource}.{group}" if group else f"count/{resource}"


def _native(name: str) -> bool:
    """helper.IsNativeResource: no domain, or a kubernetes.io one."""
    return "/" not in name or "kubernetes.io/" in name


def _extended(name: str) -> bool:
    """helper.IsExtendedResourceName (a container may request ``nvidia.com/gpu``)."""
    return not _native(name) and not name.startswith("requests.")


def evaluated_by(name: str) -> GroupResource | None:
    """The (group, resource) whose objects a quota's resource name counts — the
    evaluator whose MatchingResources has it — or None for a name no kind uses."""
    if name.startswith("count/"):
        resource, _, group = name[len("count/") :].partition(".")
        return (group, resource)
    if name in _POD_RESOURCES or name.startswith((HUGEPAGES, f"requests.{HUGEPAGES}")):
        return PODS
    if name.startswith("requests.") and not _native(name):
        return PODS  # extended resources: requests.nvidia.com/gpu
    if name in _SERVICE_RESOURCES:
        return SERVICES
    if name in _PVC_RESOURCES or any(
        name.endswith(STORAGE_CLASS_SUFFIX + r) for r in _PVC_RESOURCES
    ):
        return PVCS
    if name in LEGACY_COUNTS:
        return ("", name)
    return None


def matching_resources(group: str, resource: str, names: Iterable[str]) -> set[str]:
    """The names among ``names`` that objects of (group, resource) count towards."""
    return {n for n in names if evaluated_by(n) == (group, resource)}


def _container_resources(container: Obj) -> tuple[Usage, Usage]:
    resources = container.get("resources") or {}
    return parse_list(resources.get("requests")), parse_list(resources.get("limits"))


def _pod_compute(spec: Obj) -> tuple[Usage, Usage]:
    """Requests and limits of a pod: the containers' sums, raised to any init
    container's, plus the overhead (kube's PodRequests / PodLimits)."""
    requests: Usage = {}
    limits: Usage = {}
    for container in spec.get("containers") or []:
        req, lim = _container_resources(container)
        for k, v in req.items():
            requests[k] = requests.get(k, Fraction(0)) + v
        for k, v in lim.items():
            limits[k] = limits.get(k, Fraction(0)) + v
    for container in spec.get("initContainers") or []:
        req, lim = _container_resources(container)
        for k, v in req.items():
            requests[k] = max(requests.get(k, Fraction(0)), v)
        for k, v in lim.items():
            limits[k] = max(limits.get(k, Fraction(0)), v)
    for k, v in parse_list(spec.get("overhead")).items():
        requests[k] = requests.get(k, Fraction(0)) + v
        if k in limits:
            limits[k] += v
    return requests, limits


def compute_usage(requests: Usage, limits: Usage) -> Usage:
    """podComputeUsageHelper: what requests and limits count as (``pods`` is 1)."""
    out: Usage = {"pods": Fraction(1)}
    for name in COMPUTE:
        if name in requests:
            out[name] = out[f"requests.{name}"] = requests[name]
        if name in limits:
            out[f"limits.{name}"] = limits[name]
    for name, value in requests.items():
        if name.startswith(HUGEPAGES):
            out[name] = out[f"requests.{name}"] = value
        elif _extended(name):
            out[f"requests.{name}"] = value
    return out


def _timestamp(text: object) -> float | None:
    try:
        return datetime.datetime.fromisoformat(str(text)).timestamp()
    except ValueError:
        return None


def pod_charged(pod: Obj, now: float | None = None) -> bool:
    """QuotaV1Pod: a pod is charged for compute unless its phase is terminal or its
    deletion grace period has run out (stuck terminating, e.g. on a lost node)."""
    if ((pod.get("status") or {}).get("phase")) in TERMINAL_PHASES:
        return False
    meta = pod.get("metadata") or {}
    grace = meta.get("deletionGracePeriodSeconds")
    deleted = _timestamp(meta.get("deletionTimestamp")) if meta.get("deletionTimestamp") else None
    if deleted is not None and isinstance(grace, int):
        return (time.time() if now is None else now) <= deleted + grace
    return True


def pod_usage(pod: Obj, now: float | None = None) -> Usage:
    out: Usage = {"count/pods": Fraction(1)}  # every pod in storage, whatever its state
    if not pod_charged(pod, now):
        return out
    requests, limits = _pod_compute(pod.get("spec") or {})
    out.update(compute_usage(requests, limits))
    return out


def _service_usage(spec: Obj) -> Usage:
    ports = spec.get("ports") or []
    out: Usage = {
        "count/services": Fraction(1),
        "services": Fraction(1),
        "services.loadbalancers": Fraction(0),
        "services.nodeports": Fraction(0),
    }
    kind = spec.get("type")
    if kind == "NodePort":
        out["services.nodeports"] = Fraction(len(ports))
    elif kind == "LoadBalancer":
        if spec.get("allocateLoadBalancerNodePorts") is False:
            explicit = [p for p in ports if isinstance(p, Mapping) and p.get("nodePort")]
            out["services.nodeports"] = Fraction(len(explicit))
        else:
            out["services.nodeports"] = Fraction(len(ports))
        out["services.loadbalancers"] = Fraction(1)
    return out


def storage_class(claim: Obj) -> str:
    """GetPersistentVolumeClaimClass: the beta annotation, else spec.storageClassName."""
    annotations = (claim.get("metadata") or {}).get("annotations") or {}
    if BETA_STORAGE_CLASS in annotations:
        return str(annotations[BETA_STORAGE_CLASS])
    return str((claim.get("spec") or {}).get("storageClassName") or "")


def _claim_usage(claim: Obj) -> Usage:
    out: Usage = {
        "count/persistentvolumeclaims": Fraction(1),
        "persistentvolumeclaims": Fraction(1),
    }
    klass = storage_class(claim)
    if klass:
        out[f"{klass}{STORAGE_CLASS_SUFFIX}persistentvolumeclaims"] = Fraction(1)
    requested = ((claim.get("spec") or {}).get("resources") or {}).get("requests") or {}
    if "storage" not in requested:
        return out
    storage = quantity(requested["storage"])
    allocated = ((claim.get("status") or {}).get("allocatedResources") or {}).get("storage")
    if allocated is not None:
        storage = max(storage, quantity(allocated))
    storage = Fraction(-(-storage.numerator // storage.denominator))  # whole bytes, up
    out["requests.storage"] = storage
    if klass:
        out[f"{klass}{STORAGE_CLASS_SUFFIX}requests.storage"] = storage
    return out


def usage(group: str, resource: str, obj: Obj, now: float | None = None) -> Usage:
    """What one object counts against quotas (kube's evaluators' Usage)."""
    if (group, resource) == PODS:
        return pod_usage(obj, now)
    if (group, resource) == SERVICES:
        return _service_usage(obj.get("spec") or {})
    if (group, resource) == PVCS:
        return _claim_usage(obj)
    out: Usage = {count_name(group, resource): Fraction(1)}
    if not group and resource in LEGACY_COUNTS:
        out[resource] = Fraction(1)
    return out


def _best_effort(pod: Obj) -> bool:
    """qos.GetPodQOS == BestEffort: no container requests or limits cpu or memory."""
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = container.get("resources") or {}
        for kind in ("requests", "limits"):
            if any(k in ("cpu", "memory") for k in resources.get(kind) or {}):
                return False
    return True


def _cross_namespace_affinity(spec: Obj) -> bool:
    """usesCrossNamespacePodAffinity: a pod (anti-)affinity term naming namespaces or a
    namespaceSelector."""
    affinity = spec.get("affinity") or {}
    for kind in ("podAffinity", "podAntiAffinity"):
        terms = affinity.get(kind) or {}
        required = terms.get("requiredDuringSchedulingIgnoredDuringExecution") or []
        preferred = [
            w.get("podAffinityTerm") or {}
            for w in terms.get("preferredDuringSchedulingIgnoredDuringExecution") or []
        ]
        for term in [*required, *preferred]:
            if term.get("namespaces") or term.get("namespaceSelector") is not None:
                return True
    return False


def _scope_matches(scope: str, operator: str, values: list[str], pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    deadline = spec.get("activeDeadlineSeconds")
    terminating = isinstance(deadline, int) and deadline >= 0
    if scope == "Terminating":
        return terminating
    if scope == "NotTerminating":
        return not terminating
    if scope == "BestEffort":
        return _best_effort(pod)
    if scope == "NotBestEffort":
        return not _best_effort(pod)
    if scope == "CrossNamespacePodAffinity":
        return _cross_namespace_affinity(spec)
    if scope == "PriorityClass":
        # a label selector over {PriorityClass: name}, with no label for no class
        name = spec.get("priorityClassName") or None
        if operator == "Exists":
            return name is not None
        if operator == "DoesNotExist":
            return name is None
        if operator == "In":
            return name in values
        if operator == "NotIn":
            return name not in values
    return False


def scope_selectors(quota: Obj) -> list[tuple[str, str, list[str]]]:
    """spec.scopes (as Exists) and spec.scopeSelector's expressions."""
    spec = quota.get("spec") or {}
    out: list[tuple[str, str, list[str]]] = [
        (str(s), "Exists", []) for s in spec.get("scopes") or []
    ]
    for expr in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        out.append(
            (str(expr.get("scopeName")), str(expr.get("operator")), list(expr.get("values") or []))
        )
    return out


def scopes_match(quota: Obj, group: str, resource: str, obj: Obj) -> bool:
    """Whether ``obj`` is within the quota's scopes (only pods can be: other kinds'
    evaluators match no scope)."""
    selectors = scope_selectors(quota)
    if not selectors:
        return True
    if (group, resource) != PODS:
        return False
    return all(_scope_matches(s, op, values, obj) for s, op, values in selectors)


def matches(quota: Obj, group: str, resource: str, obj: Obj) -> bool:
    """generic.Matches: the quota's ``status.hard`` limits something objects of this
    kind use (a quota the controller has not counted yet limits nothing), and the object
    is within its scopes."""
    hard = (quota.get("status") or {}).get("hard") or {}
    if not matching_resources(group, resource, hard):
        return False
    return scopes_match(quota, group, resource, obj)


def missing_requests(pod: Obj, tracked: Iterable[str]) -> str:
    """The pod Constraints error (``must specify limits.cpu for: c1; ...``), "" if none."""
    required = sorted(set(tracked) & MUST_SPECIFY)
    if not required:
        return ""
    spec = pod.get("spec") or {}
    missing: dict[str, set[str]] = {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        requests, limits = _container_resources(container)
        have = compute_usage(requests, limits)
        for name in required:
            if name not in have:
                missing.setdefault(name, set()).add(str(container.get("name") or ""))
    if not missing:
        return ""
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return "must specify " + "; ".join(parts)


def _is_binary(name: str) -> bool:
    base = name.rpartition(".")[2].rpartition("/")[2]
    return base in _BINARY or base.startswith(HUGEPAGES) or name.endswith("storage")


def format_quantity(value: Fraction, *, binary: bool = False) -> str:
    """A value as kube's canonical Quantity text (``500m``, ``2``, ``1k``, ``256Mi``)."""
    if value == 0:
        return "0"
    if value < 0:
        return "-" + format_quantity(-value, binary=binary)
    if binary and value.denominator == 1:
        n = value.numerator
        for suffix, power in (
            ("Ei", 60),
            ("Pi", 50),
            ("Ti", 40),
            ("Gi", 30),
            ("Mi", 20),
            ("Ki", 10),
        ):
            if n % (1 << power) == 0:
                return f"{n >> power}{suffix}"
    if value.denominator == 1:
        n, exponent = value.numerator, 0
        while n % 1000 == 0 and exponent < 6:
            n //= 1000
            exponent += 1
        return f"{n}{('', 'k', 'M', 'G', 'T', 'P', 'E')[exponent]}"
    for suffix, scale in (("m", 1000), ("u", 10**6), ("n", 10**9)):
        scaled = value * scale
        if scaled.denominator == 1:
            return f"{scaled.numerator}{suffix}"
    rounded = -((-value.numerator * 10**9) // value.denominator)
    return f"{rounded}n"


def format_list(items: Mapping[str, Fraction]) -> str:
    """kube's prettyPrint: ``name=quantity`` sorted by name, comma separated."""
    return ",".join(
        f"{name}={format_quantity(items[name], binary=_is_binary(name))}" for name in sorted(items)
    )


def to_json(items: Mapping[str, Fraction]) -> dict[str, str]:
    return {
        name: format_quantity(value, binary=_is_binary(name))
        for name, value in sorted(items.items())
    }
