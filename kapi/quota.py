"""Resource quota accounting shared by the ResourceQuota admission plugin (authz) and the
resourcequota controller (controllers): what an object uses, which quotas it falls
under, and resource lists as kube prints them — kube's ``pkg/quota/v1`` (resources.go)
and ``pkg/quota/v1/evaluator/core`` (pods, services, persistentvolumeclaims, object
counts).

Usage is a ``dict[str, Fraction]`` of resource names (``pods``, ``requests.cpu``,
``count/deployments.apps``) to exact values; ``format_list`` writes one as kube's
``prettyPrint`` does (sorted ``name=quantity``, comma separated).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from fractions import Fraction
from typing import Any

from kapi.cel.library.errors import EvalError
from kapi.cel.library.quantity import parse

Obj = Mapping[str, Any]
Usage = dict[str, Fraction]

COMPUTE = ("cpu", "memory", "ephemeral-storage")
# The resources whose quota makes every container state a value (pod.go Constraints).
MUST_SPECIFY = frozenset(
    {"cpu", "memory", "requests.cpu", "requests.memory", "limits.cpu", "limits.memory"}
)
# Resource names whose quantities kube keeps in binary SI (bytes).
_BINARY = ("memory", "storage", "ephemeral-storage")
TERMINAL_PHASES = ("Succeeded", "Failed")


def quantity(value: object) -> Fraction:
    """A quantity's exact value (0 for a value that does not parse)."""
    try:
        return parse(str(value))
    except (EvalError, ValueError, ZeroDivisionError):
        return Fraction(0)


def parse_list(items: object) -> Usage:
    if not isinstance(items, Mapping):
        return {}
    return {str(k): quantity(v) for k, v in items.items()}


def count_name(group: str, resource: str) -> str:
    return f"count/{resource}.{group}" if group else f"count/{resource}"


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


def pod_usage(pod: Obj) -> Usage:
    out: Usage = {"count/pods": Fraction(1)}
    if ((pod.get("status") or {}).get("phase")) in TERMINAL_PHASES:
        return out  # end of life: counted as an object, not for compute
    if (pod.get("metadata") or {}).get("deletionTimestamp") and (pod.get("spec") or {}).get(
        "nodeName"
    ) is None:
        return out
    requests, limits = _pod_compute(pod.get("spec") or {})
    out["pods"] = Fraction(1)
    for name, value in requests.items():
        out[f"requests.{name}"] = value
        if name in COMPUTE:
            out[name] = value
    for name, value in limits.items():
        out[f"limits.{name}"] = value
    return out


def usage(group: str, resource: str, obj: Obj) -> Usage:
    """What one object counts against quotas (kube's evaluators' Usage)."""
    if group == "" and resource == "pods":
        return pod_usage(obj)
    out: Usage = {count_name(group, resource): Fraction(1)}
    if group:
        return out
    spec = obj.get("spec") or {}
    if resource == "services":
        out["services"] = Fraction(1)
        kind = spec.get("type") or "ClusterIP"
        if kind == "LoadBalancer":
            out["services.loadbalancers"] = Fraction(1)
        if kind in ("NodePort", "LoadBalancer"):
            out["services.nodeports"] = Fraction(len(spec.get("ports") or []))
    elif resource == "persistentvolumeclaims":
        out["persistentvolumeclaims"] = Fraction(1)
        storage = ((spec.get("resources") or {}).get("requests") or {}).get("storage")
        if storage is not None:
            out["requests.storage"] = quantity(storage)
    elif resource in ("configmaps", "secrets", "replicationcontrollers", "resourcequotas"):
        out[resource] = Fraction(1)
    return out


def _best_effort(pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        resources = container.get("resources") or {}
        if resources.get("requests") or resources.get("limits"):
            return False
    return True


def _scope_matches(scope: str, operator: str, values: list[str], pod: Obj) -> bool:
    spec = pod.get("spec") or {}
    if scope == "Terminating":
        return spec.get("activeDeadlineSeconds") is not None
    if scope == "NotTerminating":
        return spec.get("activeDeadlineSeconds") is None
    if scope == "BestEffort":
        return _best_effort(pod)
    if scope == "NotBestEffort":
        return not _best_effort(pod)
    if scope == "PriorityClass":
        name = spec.get("priorityClassName")
        if operator == "Exists":
            return bool(name)
        if operator == "DoesNotExist":
            return not name
        if operator == "In":
            return name in values
        if operator == "NotIn":
            return name not in values
    return False


def scope_selectors(quota: Obj) -> list[tuple[str, str, list[str]]]:
    spec = quota.get("spec") or {}
    out: list[tuple[str, str, list[str]]] = [
        (str(s), "Exists", []) for s in spec.get("scopes") or []
    ]
    for expr in (spec.get("scopeSelector") or {}).get("matchExpressions") or []:
        out.append(
            (str(expr.get("scopeName")), str(expr.get("operator")), list(expr.get("values") or []))
        )
    return out


def matches(quota: Obj, group: str, resource: str, obj: Obj) -> bool:
    """Whether ``obj`` falls under ``quota`` (its scopes select pods only)."""
    selectors = scope_selectors(quota)
    if not selectors:
        return True
    if group or resource != "pods":
        return False
    return all(_scope_matches(s, op, values, obj) for s, op, values in selectors)


def missing_requests(pod: Obj, tracked: Iterable[str]) -> str:
    """The pod Constraints error (``must specify limits.cpu for: c1; ...``), "" if none."""
    required = sorted(set(tracked) & MUST_SPECIFY)
    if not required:
        return ""
    spec = pod.get("spec") or {}
    missing: dict[str, set[str]] = {}
    for container in [*(spec.get("containers") or []), *(spec.get("initContainers") or [])]:
        requests, limits = _container_resources(container)
        for name in required:
            kind, _, base = name.rpartition(".")
            have = limits if kind == "limits" else requests
            if base not in have:
                missing.setdefault(name, set()).add(str(container.get("name") or ""))
    if not missing:
        return ""
    parts = [f"{name} for: {','.join(sorted(missing[name]))}" for name in sorted(missing)]
    return "must specify " + "; ".join(parts)


def _is_binary(name: str) -> bool:
    return name.rpartition(".")[2] in _BINARY or name.endswith("storage")


def format_quantity(value: Fraction, *, binary: bool = False) -> str:
    """A value as kube's canonical Quantity text (``500m``, ``2``, ``1k``, ``256Mi``)."""
    if value == 0:
        return "0"
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
