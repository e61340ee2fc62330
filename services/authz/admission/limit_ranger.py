"""LimitRanger: a namespace's LimitRanges default and bound its pods' resources — kube's
``plugin/pkg/admission/limitranger`` (admission.go).

Mutating (``LimitRangerDefaults``, pod creates): a container without a limit or request
for a resource a Container item defaults gets the item's ``default`` / ``defaultRequest``,
and the pod is annotated ``kubernetes.io/limit-ranger: LimitRanger plugin set: cpu,
memory request for container c; ...``. Validating (``LimitRangerValidate``, pod and
PersistentVolumeClaim creates): ``min``, ``max`` and ``maxLimitRequestRatio`` per
Container, per Pod (the containers' sums) and per PersistentVolumeClaim (its storage
request), refused with kube's words (403 ``pods "p" is forbidden: maximum cpu usage per
Container is 1, but limit is 2``; several as ``[a, b]``).
"""

from __future__ import annotations

from collections.abc import Mapping
from fractions import Fraction
from typing import Any, Protocol

from kapi import errors, quota
from services.authz.admission import Attributes
from services.authz.admission.validating_policy import request_name

Obj = dict[str, Any]
ANNOTATION = "kubernetes.io/limit-ranger"


class LimitRanges(Protocol):
    def in_namespace(self, namespace: str) -> list[Obj]: ...

    def any(self) -> bool: ...


def _items(ranges: list[Obj], kind: str) -> list[Obj]:
    return [
        item
        for r in sorted(ranges, key=lambda r: (r.get("metadata") or {}).get("name") or "")
        for item in ((r.get("spec") or {}).get("limits") or [])
        if isinstance(item, dict) and item.get("type") == kind
    ]


def _is_pod_create(attributes: Attributes) -> bool:
    return (
        attributes.group == ""
        and attributes.resource == "pods"
        and not attributes.subresource
        and attributes.operation == "CREATE"
        and attributes.object is not None
    )


def _containers(spec: Obj) -> list[tuple[str, Obj]]:
    return [("container", c) for c in spec.get("containers") or [] if isinstance(c, dict)] + [
        ("init container", c) for c in spec.get("initContainers") or [] if isinstance(c, dict)
    ]


class LimitRangerDefaults:
    operations = frozenset({"CREATE"})

    def __init__(self, ranges: LimitRanges) -> None:
        self.ranges = ranges

    def active(self) -> bool:
        return self.ranges.any()

    async def admit(self, attributes: Attributes) -> None:
        if not _is_pod_create(attributes):
            return
        items = _items(self.ranges.in_namespace(attributes.namespace), "Container")
        if not items:
            return
        default: dict[str, Any] = {}
        request: dict[str, Any] = {}
        for item in items:  # the first LimitRange's value wins (kube merges the same way)
            for key, value in (item.get("default") or {}).items():
                default.setdefault(key, value)
            for key, value in (item.get("defaultRequest") or {}).items():
                request.setdefault(key, value)
        pod = attributes.object or {}
        notes: list[str] = []
        for kind, container in _containers(pod.get("spec") or {}):
            resources = container.setdefault("resources", {})
            limits = resources.get("limits") or {}
            requests = resources.get("requests") or {}
            set_requests = sorted(k for k in request if k not in requests)
            set_limits = sorted(k for k in default if k not in limits)
            if set_limits:
                resources["limits"] = {**limits, **{k: default[k] for k in set_limits}}
            if set_requests:
                resources["requests"] = {**requests, **{k: request[k] for k in set_requests}}
            if set_requests:
                notes.append(
                    f"{', '.join(set_requests)} request for {kind} {container.get('name')}"
                )
            if set_limits:
                notes.append(f"{', '.join(set_limits)} limit for {kind} {container.get('name')}")
            if not resources:
                del container["resources"]
        if notes:
            meta = pod.setdefault("metadata", {})
            meta["annotations"] = {
                **(meta.get("annotations") or {}),
                ANNOTATION: "LimitRanger plugin set: " + "; ".join(notes),
            }


def _q(value: object) -> Fraction:
    return quota.quantity(value)


def _check(
    kind: str,
    item: Obj,
    requests: Mapping[str, Any],
    limits: Mapping[str, Any],
    out: list[str],
) -> None:
    for name, enforced in (item.get("min") or {}).items():
        if name not in requests:
            out.append(f"minimum {name} usage per {kind} is {enforced}.  No request is specified")
        elif _q(requests[name]) < _q(enforced):
            out.append(
                f"minimum {name} usage per {kind} is {enforced}, but request is {requests[name]}"
            )
        elif name in limits and _q(limits[name]) < _q(enforced):
            out.append(
                f"minimum {name} usage per {kind} is {enforced}, but limit is {limits[name]}"
            )
    for name, enforced in (item.get("max") or {}).items():
        if name not in limits:
            out.append(f"maximum {name} usage per {kind} is {enforced}.  No limit is specified")
        elif _q(limits[name]) > _q(enforced):
            out.append(
                f"maximum {name} usage per {kind} is {enforced}, but limit is {limits[name]}"
            )
        elif name in requests and _q(requests[name]) > _q(enforced):
            out.append(
                f"maximum {name} usage per {kind} is {enforced}, but request is {requests[name]}"
            )
    for name, enforced in (item.get("maxLimitRequestRatio") or {}).items():
        req = _q(requests[name]) if name in requests else Fraction(0)
        lim = _q(limits[name]) if name in limits else Fraction(0)
        prefix = f"{name} max limit to request ratio per {kind} is {enforced}"
        if req == 0:
            out.append(f"{prefix}, but no request is specified or request is 0")
        elif lim == 0:
            out.append(f"{prefix}, but no limit is specified or limit is 0")
        elif lim / req > _q(enforced):
            out.append(f"{prefix}, but provided ratio is {float(lim / req):f}")


def _pod_totals(spec: Obj) -> tuple[dict[str, str], dict[str, str]]:
    requests: dict[str, Fraction] = {}
    limits: dict[str, Fraction] = {}
    for _, container in _containers(spec):
        resources = container.get("resources") or {}
        for target, source in (
            (requests, resources.get("requests")),
            (limits, resources.get("limits")),
        ):
            for key, value in (source or {}).items():
                target[key] = target.get(key, Fraction(0)) + _q(value)
    return quota.to_json(requests), quota.to_json(limits)


class LimitRangerValidate:
    operations = frozenset({"CREATE"})
    reads_only = True
    side_effect_free = True

    def __init__(self, ranges: LimitRanges) -> None:
        self.ranges = ranges

    def active(self) -> bool:
        return self.ranges.any()

    async def admit(self, attributes: Attributes) -> None:
        if attributes.group or attributes.subresource or attributes.object is None:
            return
        if attributes.resource not in ("pods", "persistentvolumeclaims"):
            return
        ranges = self.ranges.in_namespace(attributes.namespace)
        if not ranges:
            return
        problems: list[str] = []
        obj = attributes.object
        spec = obj.get("spec") or {}
        if attributes.resource == "pods":
            for item in _items(ranges, "Container"):
                for _, container in _containers(spec):
                    resources = container.get("resources") or {}
                    _check(
                        "Container",
                        item,
                        resources.get("requests") or {},
                        resources.get("limits") or {},
                        problems,
                    )
            pod_items = _items(ranges, "Pod")
            if pod_items:
                requests, limits = _pod_totals(spec)
                for item in pod_items:
                    _check("Pod", item, requests, limits, problems)
        else:
            requests = ((spec.get("resources") or {}).get("requests")) or {}
            limits = ((spec.get("resources") or {}).get("limits")) or {}
            for item in _items(ranges, "PersistentVolumeClaim"):
                _check("PersistentVolumeClaim", item, requests, limits, problems)
        if problems:
            detail = problems[0] if len(problems) == 1 else "[" + ", ".join(problems) + "]"
            raise errors.forbidden(
                attributes.resource, attributes.group, request_name(attributes), detail
            )
