"""namespace-controller: a deleted namespace's content goes, then the namespace.

kube's ``pkg/controller/namespace`` (``namespace_controller.go``,
``deletion/namespaced_resources_deleter.go``, ``deletion/status_condition_utils.go``):

* For a namespace with a deletionTimestamp whose ``spec.finalizers`` still holds
  ``kubernetes``: make sure its phase is Terminating, then delete every namespaced
  resource in it that discovery lists with ``delete`` (``propagationPolicy:
  Background``), one object at a time where ``deletecollection`` is not served.
* Count what remains. Pods still terminating give an estimate of their longest grace
  period; objects held by finalizers 15 s (``finalizerEstimateSeconds``). The namespace
  is synced again after that estimate.
* The five deletion conditions are kept current on ``status.conditions``:
  NamespaceDeletionDiscoveryFailure, NamespaceDeletionGroupVersionParsingFailure,
  NamespaceDeletionContentFailure, NamespaceContentRemaining,
  NamespaceFinalizersRemaining — True with kube's reason and message while that is the
  case, False with the "ok" reason otherwise.
* When nothing remains, ``kubernetes`` is removed through ``/finalize``; with no other
  finalizer left the API server deletes the namespace then.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import ClassVar

from kapi import errors
from kapi.kube.informer import Handler
from kapi.kube.resources import NAMESPACES, Resource
from services.controllers import discovery, objects
from services.controllers.framework import Context, Obj, QueueController

log = logging.getLogger(__name__)

FINALIZER = "kubernetes"
FINALIZER_ESTIMATE_SECONDS = 15  # kube's finalizerEstimateSeconds
DISCOVERY_TTL = 30.0

CONDITION_TYPES = (
    "NamespaceDeletionDiscoveryFailure",
    "NamespaceDeletionGroupVersionParsingFailure",
    "NamespaceDeletionContentFailure",
    "NamespaceContentRemaining",
    "NamespaceFinalizersRemaining",
)
OK = {
    "NamespaceDeletionDiscoveryFailure": (
        "ResourcesDiscovered",
        "All resources successfully discovered",
    ),
    "NamespaceDeletionGroupVersionParsingFailure": (
        "ParsedGroupVersions",
        "All legacy kube types successfully parsed",
    ),
    "NamespaceDeletionContentFailure": (
        "ContentDeleted",
        "All content successfully deleted, may be waiting on finalization",
    ),
    "NamespaceContentRemaining": ("ContentRemoved", "All content successfully removed"),
    "NamespaceFinalizersRemaining": ("ContentRemoved", "All content successfully removed"),
}


class ResourcesRemaining(Exception):
    """Content is still going: sync again after ``estimate`` seconds."""

    def __init__(self, estimate: int) -> None:
        super().__init__(
            f"some content remains in the namespace, estimate {estimate} seconds before it is "
            "removed"
        )
        self.estimate = estimate


@dataclass
class Tally:
    """What one pass found (kube's allGVRDeletionMetadata and condition updater)."""

    estimate: int = 0
    remaining: dict[str, int] = field(default_factory=dict)  # "resource.group" -> count
    finalizers: dict[str, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    discovery_failure: str = ""


def conditions(tally: Tally) -> dict[str, tuple[str, str, str]]:
    """Condition type -> (status, reason, message) for this pass."""
    out = {t: ("False", *OK[t]) for t in CONDITION_TYPES}
    if tally.discovery_failure:
        out["NamespaceDeletionDiscoveryFailure"] = (
            "True",
            "DiscoveryFailed",
            tally.discovery_failure,
        )
    if tally.failures:
        msgs = sorted(tally.failures)
        out["NamespaceDeletionContentFailure"] = (
            "True",
            "ContentDeletionFailed",
            f"Failed to delete all resource types, {len(msgs)} remaining: {', '.join(msgs)}",
        )
    remaining = sorted(f"{gr} has {n} resource instances" for gr, n in tally.remaining.items() if n)
    if remaining:
        out["NamespaceContentRemaining"] = (
            "True",
            "SomeResourcesRemain",
            f"Some resources are remaining: {', '.join(remaining)}",
        )
    finalizers = sorted(f"{f} in {n} resource instances" for f, n in tally.finalizers.items() if n)
    if finalizers:
        out["NamespaceFinalizersRemaining"] = (
            "True",
            "SomeFinalizerRemain",
            f"Some finalizers are remaining: {', '.join(finalizers)}",
        )
    return out


def updated_conditions(current: list[Obj], wanted: dict[str, tuple[str, str, str]]) -> list[Obj]:
    """kube's updateConditions: lastTransitionTime moves only when the status changes."""
    out = [dict(c) for c in current]
    now = objects.rfc3339()
    for type_ in CONDITION_TYPES:
        status, reason, message = wanted[type_]
        old = next((c for c in out if c.get("type") == type_), None)
        if old is None:
            out.append(
                {
                    "type": type_,
                    "status": status,
                    "lastTransitionTime": now,
                    "reason": reason,
                    "message": message,
                }
            )
        elif (old.get("status"), old.get("reason"), old.get("message")) != (
            status,
            reason,
            message,
        ):
            if old.get("status") != status:
                old["lastTransitionTime"] = now
            old.update(status=status, reason=reason, message=message)
    return out


class NamespaceController(QueueController):
    name: ClassVar[str] = "namespace-controller"
    service_account: ClassVar[str] = "namespace-controller"
    aliases: ClassVar[tuple[str, ...]] = ("namespace",)

    def __init__(self, ctx: Context) -> None:
        super().__init__(ctx)
        self.namespaces = self.watch(
            ctx.informers.informer(NAMESPACES),
            Handler(
                on_add=self._maybe,
                on_update=lambda _o, n: self._maybe(n),
                resync=ctx.options.namespace_sync_period,
            ),
        )
        self._discovered: discovery.Discovery | None = None
        self._discovered_at = 0.0

    def _maybe(self, ns: Obj) -> None:
        if objects.deleting(ns):
            self.enqueue(ns)

    async def _discover(self) -> discovery.Discovery:
        if self._discovered is None or time.monotonic() - self._discovered_at > DISCOVERY_TTL:
            self._discovered = await discovery.preferred_resources(self.client)
            self._discovered_at = time.monotonic()
        return self._discovered

    async def sync(self, key: str) -> None:
        try:
            await self._sync(key)
        except ResourcesRemaining as remaining:
            log.info("%s: %s: %s", self.name, key, remaining)
            self.queue.add_after(key, max(1, remaining.estimate / 2))

    async def _sync(self, name: str) -> None:
        try:
            ns = await self.client.get(NAMESPACES, "", name)
        except errors.StatusError as err:
            if err.code == 404:
                return
            raise
        if not objects.deleting(ns):
            return
        if objects.status(ns).get("phase") != "Terminating":
            ns = await self._update_status(ns, phase="Terminating")
        if FINALIZER not in (objects.spec(ns).get("finalizers") or []):
            return
        tally = await self._delete_content(name)
        ns = await self._record(ns, tally)
        if tally.failures or tally.discovery_failure:
            raise errors.internal("; ".join([*tally.failures, tally.discovery_failure]).strip("; "))
        if tally.estimate > 0:
            raise ResourcesRemaining(tally.estimate)
        await self._finalize(ns)

    async def _delete_content(self, namespace: str) -> Tally:
        tally = Tally()
        found = await self._discover()
        if found.failed:
            details = ", ".join(f"{gv}: {msg}" for gv, msg in sorted(found.failed.items()))
            tally.discovery_failure = (
                f"Discovery failed for some groups, {len(found.failed)} failing: "
                f"unable to retrieve the complete list of server APIs: {details}"
            )
        seen: set[tuple[str, str]] = set()
        for item in found.resources:
            res = item.resource
            if not res.namespaced or not {"list", "delete"} <= item.verbs:
                continue
            if (res.group, res.resource) in seen:
                continue
            seen.add((res.group, res.resource))
            try:
                await self._delete_all_of(res, namespace, tally)
            except errors.StatusError as err:
                if err.code in (404, 405):
                    continue
                tally.failures.append(f"{res.resource}.{res.group}: {err.message}")
        return tally

    async def _delete_all_of(self, res: Resource, namespace: str, tally: Tally) -> None:
        listed = await self.client.list(res, namespace)
        items = listed.get("items") or []
        if not items:
            return
        for item in items:
            if objects.deleting(item):
                continue
            try:
                await self.client.delete(
                    res, namespace, objects.name(item), propagation="Background"
                )
            except errors.StatusError as err:
                if err.code != 404:
                    raise
        # What is still there after the deletes: pods terminating, objects held by finalizers.
        left = (await self.client.list(res, namespace)).get("items") or []
        if not left:
            return
        tally.remaining[f"{res.resource}.{res.group}"] = len(left)
        for item in left:
            finalizers = objects.meta(item).get("finalizers") or []
            for finalizer in finalizers:
                tally.finalizers[finalizer] = tally.finalizers.get(finalizer, 0) + 1
            if finalizers:
                tally.estimate = max(tally.estimate, FINALIZER_ESTIMATE_SECONDS)
            grace = objects.meta(item).get("deletionGracePeriodSeconds")
            if res.resource == "pods" and not res.group:
                grace = objects.spec(item).get("terminationGracePeriodSeconds", grace)
            tally.estimate = max(tally.estimate, int(grace or 0), 1)

    async def _record(self, ns: Obj, tally: Tally) -> Obj:
        current = objects.status(ns).get("conditions") or []
        wanted = updated_conditions(current, conditions(tally))
        if wanted == current:
            return ns
        return await self._update_status(ns, conditions=wanted)

    async def _update_status(
        self, ns: Obj, *, phase: str | None = None, conditions: list[Obj] | None = None
    ) -> Obj:
        for _ in range(5):
            body = {**ns, "status": dict(objects.status(ns))}
            if phase is not None:
                body["status"]["phase"] = phase
            if conditions is not None:
                body["status"]["conditions"] = conditions
            try:
                return await self.client.update(NAMESPACES, body, subresource="status")
            except errors.StatusError as err:
                if err.code != 409:
                    raise
                ns = await self.client.get(NAMESPACES, "", objects.name(ns))
        raise errors.conflict("namespaces", "", objects.name(ns))

    async def _finalize(self, ns: Obj) -> None:
        """Remove ``kubernetes`` from spec.finalizers (retrying on conflicts)."""
        for _ in range(5):
            finalizers = [f for f in objects.spec(ns).get("finalizers") or [] if f != FINALIZER]
            body = {**ns, "spec": {**objects.spec(ns), "finalizers": finalizers}}
            try:
                await self.client.update(NAMESPACES, body, subresource="finalize")
                return
            except errors.StatusError as err:
                if err.code == 404:
                    return
                if err.code != 409:
                    raise
                ns = await self.client.get(NAMESPACES, "", objects.name(ns))
