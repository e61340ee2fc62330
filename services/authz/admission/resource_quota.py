"""ResourceQuota admission: a write that would take a namespace past a quota is refused,
and the usage it adds is written to the quota's ``status.used`` before it is admitted —
kube's ``k8s.io/apiserver/pkg/admission/plugin/resourcequota`` (controller.go:
CheckRequest, checkQuotas).

An object is charged to each quota of its namespace whose ``status.hard`` limits
something its kind uses (``kapi.quota.matches``; scopes select pods only; a quota the
controller has not counted yet limits nothing, as in kube). In kube's order, per quota:
pods must state what a compute quota limits (403 ``failed quota: Q: must specify
requests.cpu for: c``), the quota must have a ``status.used`` for every such resource
(403 ``status unknown for quota: Q, resources: ...``), and the new usage must stay
within ``spec.hard`` (403 ``exceeded quota: Q, requested: ..., used: ..., limited:
...``). Creates of every kind are counted (``count/<resource>.<group>`` for custom
resources too); updates of services and persistentvolumeclaims by what they add. The
new ``status.used`` is written compare-and-swap on the quota's revision (read again on a
conflict); a dry run writes nothing. The resourcequota controller
(services/controllers/resourcequota.py) recounts from the objects themselves, so usage
reserved by a write that then failed is given back.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any, Protocol

from kapi import errors, quota
from services.authz.admission import Attributes
from services.authz.admission.validating_policy import request_name

Obj = dict[str, Any]
CONFLICT_RETRIES = 3
_UPDATES_COUNTED = frozenset({("", "services"), ("", "persistentvolumeclaims")})


class Quotas(Protocol):
    """Where quotas are read and their status written (authz's informer and storage)."""

    def in_namespace(self, namespace: str) -> list[Obj]:
        """The namespace's ResourceQuotas as last seen (may lag storage)."""

    def any(self) -> bool: ...

    async def read(self, namespace: str, name: str) -> Obj | None:
        """The quota as storage has it now."""

    async def write_status(self, quota_obj: Obj, used: dict[str, str]) -> Obj:
        """Store ``status.used`` compare-and-swap on the quota's resourceVersion; a stale
        revision raises the 409 Conflict ``StatusError``."""


class ResourceQuota:
    operations = frozenset({"CREATE", "UPDATE"})
    reads_only = True

    def __init__(self, quotas: Quotas) -> None:
        self.quotas = quotas

    def active(self) -> bool:
        return self.quotas.any()

    async def admit(self, attributes: Attributes) -> None:
        if not attributes.namespace or attributes.subresource or attributes.object is None:
            return
        key = (attributes.group, attributes.resource)
        if attributes.operation == "UPDATE" and key not in _UPDATES_COUNTED:
            return
        quotas = self.quotas.in_namespace(attributes.namespace)
        if not quotas:
            return
        obj = attributes.object
        delta = quota.usage(attributes.group, attributes.resource, obj)
        negative = sorted(k for k, v in delta.items() if v < 0)
        if negative:
            raise self._forbidden(
                attributes, f"quota usage is negative for resource(s): {','.join(negative)}"
            )
        if attributes.operation == "UPDATE" and attributes.old_object is not None:
            old = quota.usage(attributes.group, attributes.resource, attributes.old_object)
            delta = {k: max(v - old.get(k, Fraction(0)), Fraction(0)) for k, v in delta.items()}
        for each in sorted(quotas, key=lambda q: (q.get("metadata") or {}).get("name") or ""):
            await self._charge(attributes, each, delta)

    async def _charge(self, attributes: Attributes, current: Obj, delta: quota.Usage) -> None:
        """kube's CheckRequest for one quota, then the new usage written; a conflict
        reads the quota again and starts over."""
        name = str((current.get("metadata") or {}).get("name") or "")
        group, resource = attributes.group, attributes.resource
        obj = attributes.object or {}
        for _attempt in range(CONFLICT_RETRIES):
            if not quota.matches(current, group, resource, obj):
                return
            status = current.get("status") or {}
            hard = quota.parse_list(status.get("hard"))
            used = quota.parse_list(status.get("used"))
            restricted = quota.matching_resources(group, resource, hard)
            if (group, resource) == quota.PODS:
                missing = quota.missing_requests(obj, restricted)
                if missing:
                    raise self._forbidden(attributes, f"failed quota: {name}: {missing}")
            if any(r not in used for r in restricted):
                raise self._forbidden(
                    attributes,
                    f"status unknown for quota: {name}, resources: {','.join(sorted(restricted))}",
                )
            limits = quota.parse_list((current.get("spec") or {}).get("hard"))
            requested = {k: v for k, v in delta.items() if k in limits}
            if not any(requested.values()):
                return
            new_usage = {**used}
            for k, v in requested.items():
                new_usage[k] = used.get(k, Fraction(0)) + v
            exceeded = sorted(k for k in requested if new_usage[k] > limits[k])
            if exceeded:
                raise self._forbidden(
                    attributes,
                    f"exceeded quota: {name}, "
                    f"requested: {quota.format_list({k: requested[k] for k in exceeded})}, "
                    f"used: {quota.format_list({k: used.get(k, Fraction(0)) for k in exceeded})}, "
                    f"limited: {quota.format_list({k: hard.get(k, limits[k]) for k in exceeded})}",
                )
            if attributes.dry_run:
                return
            try:
                await self.quotas.write_status(current, quota.to_json(new_usage))
                return
            except errors.StatusError as err:
                if err.code != 409:
                    raise
            fresh = await self.quotas.read(attributes.namespace, name)
            if fresh is None:
                return
            current = fresh
        raise errors.conflict("resourcequotas", "", name)

    def _forbidden(self, attributes: Attributes, message: str) -> errors.StatusError:
        return errors.forbidden(
            attributes.resource, attributes.group, request_name(attributes), message
        )
