"""What a stricter enforce level would say of a namespace's existing pods: kube's
``EvaluatePodsInNamespace`` (k8s.io/pod-security-admission ``admission/admission.go``).

The pods are listed from storage at that moment, page by page (authz keeps no pods in
memory; namespace label changes are rare). Pods of an exempt runtime class are skipped;
one pod per controller comes first, its replicas after (``prioritizePods``); at most
``MAX_PODS`` are evaluated, within ``TIMEOUT`` seconds (listing included). The warnings:

- ``new PodSecurity enforce level only checked against the first N of M existing pods``
  when not all were evaluated;
- ``existing pods in namespace "ns" violate the new PodSecurity enforce level
  "restricted:latest"``;
- one line per distinct set of violated checks, sorted: ``pod-a (and 2 other pods):
  privileged, runAsNonRoot != true`` (the lexically first pod named, the reasons only).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from kapi import errors
from services.authz.admission.pod_security import checks
from services.authz.admission.pod_security.policy import LevelVersion

Obj = dict[str, Any]
MAX_PODS = 3000  # kube's defaultNamespaceMaxPodsToCheck
TIMEOUT = 1.0  # seconds: kube's defaultNamespacePodCheckTimeout
PAGE_SIZE = 500
LIST_FAILED = "failed to list pods while checking new PodSecurity enforce level"


class PodPages(Protocol):
    async def page(
        self, namespace: str, *, limit: int, continue_token: str
    ) -> tuple[list[Obj], str, int | None]:
        """One page of the namespace's pods: (pods, continue token, remaining count or
        None). A storage failure raises its StatusError."""


def _controller_uid(pod: Obj) -> str | None:
    for ref in (pod.get("metadata") or {}).get("ownerReferences") or []:
        if isinstance(ref, dict) and ref.get("controller") is True:
            return str(ref.get("uid") or "")
    return None


def _prioritized(pods: list[Obj], exempt_runtime_classes: frozenset[str]) -> list[Obj]:
    """kube's prioritizePods: exempt runtime classes out, one pod per controller first."""
    first: list[Obj] = []
    replicas: list[Obj] = []
    seen: set[str] = set()
    for pod in pods:
        runtime_class = (pod.get("spec") or {}).get("runtimeClassName")
        if runtime_class and runtime_class in exempt_runtime_classes:
            continue
        uid = _controller_uid(pod)
        if uid is None:
            first.append(pod)
        elif uid in seen:
            replicas.append(pod)
        else:
            seen.add(uid)
            first.append(pod)
    return first + replicas


async def _list(
    pods: PodPages, namespace: str, deadline: float, clock: Callable[[], float]
) -> tuple[list[Obj], int]:
    """The pods listed before the deadline, and how many the namespace holds."""
    listed: list[Obj] = []
    token = ""
    while True:
        items, token, remaining = await pods.page(namespace, limit=PAGE_SIZE, continue_token=token)
        listed += items
        if not token:
            return listed, len(listed)
        if clock() >= deadline:
            # Out of time: what is listed is evaluated; the rest is only counted.
            return listed, len(listed) + (remaining or 0)


async def evaluate(
    pods: PodPages,
    namespace: str,
    enforce: LevelVersion,
    *,
    exempt_runtime_classes: frozenset[str] = frozenset(),
    clock: Callable[[], float],
    max_pods: int = MAX_PODS,
    timeout: float = TIMEOUT,
) -> list[str]:
    deadline = clock() + timeout
    try:
        listed, total = await _list(pods, namespace, deadline, clock)
    except errors.StatusError:
        return [LIST_FAILED]
    unlisted = total - len(listed)
    candidates = _prioritized(listed, exempt_runtime_classes)
    total = len(candidates) + unlisted
    candidates = candidates[:max_pods]
    checked = len(candidates)
    by_warning: dict[str, tuple[str, int]] = {}  # reasons -> (first pod name, count)
    for i, pod in enumerate(candidates):
        meta = pod.get("metadata") or {}
        failures = checks.evaluate(enforce.level, enforce.minor, meta, pod.get("spec") or {})
        if failures:
            warning = checks.forbidden_reason(failures)
            name = str(meta.get("name") or "")
            first, count = by_warning.get(warning, (name, 0))
            by_warning[warning] = (min(first, name), count + 1)
        if clock() >= deadline:
            checked = i + 1
            break
    out: list[str] = []
    if checked < total:
        out.append(
            f"new PodSecurity enforce level only checked against the first {checked} of "
            f"{total} existing pods"
        )
    if by_warning:
        out.append(
            f'existing pods in namespace "{namespace}" violate the new PodSecurity enforce '
            f'level "{enforce}"'
        )
    out += sorted(_decorated(w, first, count) for w, (first, count) in by_warning.items())
    return out


def _decorated(warning: str, first: str, count: int) -> str:
    if count == 1:
        return f"{first}: {warning}"
    if count == 2:
        return f"{first} (and 1 other pod): {warning}"
    return f"{first} (and {count - 1} other pods): {warning}"
