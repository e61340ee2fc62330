"""The PodSecurity validating plugin (k8s.io/pod-security-admission ``admission.go``).

A namespace's labels ``pod-security.kubernetes.io/{enforce,warn,audit}`` name a level
(privileged, baseline, restricted) and ``...-version`` a version (``latest`` or
``v1.N``; kapi's checks are 1.32's, so every version reads as latest). For a pod create,
or an update that changes the pod's spec:

- enforce: a violation is 403 ``pods "p" is forbidden: violates PodSecurity
  "restricted:latest": privileged (container "c" must not set
  securityContext.privileged=true), ...``;
- warn: a ``Warning: would violate PodSecurity "baseline:latest": ...``;
- audit: the audit annotation ``pod-security.kubernetes.io/audit-violations``.

Workload resources (their pod templates) are checked for warn and audit only, as kube
does. ``pod-security.kubernetes.io/enforce-policy`` is recorded for each pod evaluated.
Exemptions: usernames, namespaces and runtime classes given at construction.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any, Protocol

from kapi import errors
from services.authz.admission import Attributes
from services.authz.admission.pod_security import checks
from services.authz.admission.validating_policy import request_name

Obj = dict[str, Any]
PREFIX = "pod-security.kubernetes.io/"
LEVELS = ("privileged", "baseline", "restricted")
# Workload resources and where their pod spec is.
TEMPLATES: dict[tuple[str, str], tuple[str, ...]] = {
    ("", "podtemplates"): ("template", "spec"),
    ("", "replicationcontrollers"): ("spec", "template", "spec"),
    ("apps", "replicasets"): ("spec", "template", "spec"),
    ("apps", "deployments"): ("spec", "template", "spec"),
    ("apps", "statefulsets"): ("spec", "template", "spec"),
    ("apps", "daemonsets"): ("spec", "template", "spec"),
    ("batch", "jobs"): ("spec", "template", "spec"),
    ("batch", "cronjobs"): ("spec", "jobTemplate", "spec", "template", "spec"),
}


class NamespaceLabels(Protocol):
    async def get(self, name: str, *, live: bool = False) -> Obj | None: ...

    def labelled(self) -> bool:
        """Whether any namespace carries a pod-security label (else the plugin idles)."""


@dataclass(frozen=True)
class Policy:
    level: str
    version: str

    def __str__(self) -> str:
        return f"{self.level}:{self.version}"


def _policy(labels: dict[str, str], mode: str) -> Policy | None:
    level = labels.get(PREFIX + mode)
    if level is None:
        return None
    if level not in LEVELS:
        level = "restricted"  # an invalid level is the most restrictive (kube's default)
    version = labels.get(f"{PREFIX}{mode}-version") or "latest"
    return Policy(level, version)


def _dig(obj: Obj, path: tuple[str, ...]) -> Obj | None:
    cur: Any = obj
    for key in path:
        if not isinstance(cur, dict):
            return None
        cur = cur.get(key)
    return cur if isinstance(cur, dict) else None


class PodSecurity:
    operations = frozenset({"CREATE", "UPDATE"})
    reads_only = True
    side_effect_free = True

    def __init__(
        self,
        namespaces: NamespaceLabels,
        *,
        exempt_users: Collection[str] = (),
        exempt_namespaces: Collection[str] = (),
        exempt_runtime_classes: Collection[str] = (),
    ) -> None:
        self.namespaces = namespaces
        self.exempt_users = frozenset(exempt_users)
        self.exempt_namespaces = frozenset(exempt_namespaces)
        self.exempt_runtime_classes = frozenset(exempt_runtime_classes)

    def active(self) -> bool:
        return self.namespaces.labelled()

    async def admit(self, attributes: Attributes) -> None:
        if attributes.object is None or not attributes.namespace:
            return
        key = (attributes.group, attributes.resource)
        is_pod = key == ("", "pods")
        if is_pod:
            if attributes.subresource not in ("", "ephemeralcontainers"):
                return
            spec = attributes.object.get("spec")
            old = attributes.old_object
            if attributes.operation == "UPDATE" and old is not None and spec == old.get("spec"):
                return  # metadata or status only: not re-evaluated
        elif key in TEMPLATES and not attributes.subresource:
            spec = _dig(attributes.object, TEMPLATES[key])
        else:
            return
        if not isinstance(spec, dict):
            return
        if (
            attributes.user.username in self.exempt_users
            or attributes.namespace in self.exempt_namespaces
            or spec.get("runtimeClassName") in self.exempt_runtime_classes
        ):
            return
        namespace = await self.namespaces.get(attributes.namespace)
        labels = ((namespace or {}).get("metadata") or {}).get("labels") or {}
        enforce, warn, audit = (_policy(labels, m) for m in ("enforce", "warn", "audit"))
        if enforce is None and warn is None and audit is None:
            return
        if is_pod:
            attributes.annotate(
                PREFIX + "enforce-policy", str(enforce or Policy("privileged", "latest"))
            )
            if enforce is not None:
                violations = checks.evaluate(enforce.level, spec)
                if violations:
                    raise errors.forbidden(
                        "pods",
                        "",
                        request_name(attributes),
                        f'violates PodSecurity "{enforce}": {violations}',
                    )
        if warn is not None:
            violations = checks.evaluate(warn.level, spec)
            if violations:
                attributes.warn(f'would violate PodSecurity "{warn}": {violations}')
        if audit is not None:
            violations = checks.evaluate(audit.level, spec)
            if violations:
                attributes.annotate(
                    PREFIX + "audit-violations",
                    f'would violate PodSecurity "{audit}": {violations}',
                )
